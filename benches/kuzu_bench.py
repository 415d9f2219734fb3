#!/usr/bin/env python3
"""Kuzu side of the storage benchmark (driven by `storage_bench`, usable on its own).

Loads the payments data set's cards, merchants and `paid` edges into a fresh Kuzu database,
then runs the same three queries as the Argus side over the same cards:

  txns     all payments of a card, with their amounts
  window   payments of a card in [since, until] (Unix seconds, inclusive), with amounts
  two_hop  distinct other cards that paid any merchant this card paid

and the first two once more as one batch: a single query over all the cards (UNWIND of the
list), timed as one unit, so that the Python bindings' per-call overhead is paid once.

Each per-card query is timed twice: around the Python call (what an application calling Kuzu
from Python waits), and by Kuzu's own clock (`get_execution_time()` of the result: the engine's
work executing the prepared plan, without the bindings), the like-for-like figure against
Argus's in-process calls, which include no planning either.

The edges load through Kuzu's direct `COPY paid FROM 'file'`, its fastest path. It reads the
columns by position (FROM key, TO key, then the properties), so the bench first writes, untimed,
a copy of transactions.csv with card_id and merchant_id moved to the front, and key-only copies
of the node files; the copies live in WORK_DIR/input, outside the database's size.

Usage: kuzu_bench.py DATA_DIR WORK_DIR CARDS_JSON [--threads N]

CARDS_JSON is a list of {"card_id": str, "since": int, "until": int}. Progress goes to stderr;
one JSON object with the timings and per-card result counts goes to stdout.
"""

import argparse
import csv
import json
import os
import resource
import shutil
import sys
import time
import warnings

import kuzu

# Kuzu's Python API flags separate prepare/execute as deprecated, but prepared statements are
# what keeps query planning out of the per-query timings.
warnings.filterwarnings("ignore", category=DeprecationWarning)

QUERIES = {
    "txns": "MATCH (c:Card {card_id: $id})-[p:paid]->(:Merchant) RETURN p.amount",
    "window": (
        "MATCH (c:Card {card_id: $id})-[p:paid]->(:Merchant) "
        "WHERE p.time >= $since AND p.time <= $until RETURN p.amount"
    ),
    "two_hop": (
        "MATCH (c:Card {card_id: $id})-[:paid]->(m:Merchant)<-[:paid]-(o:Card) "
        "WHERE o.card_id <> $id RETURN count(DISTINCT o)"
    ),
}


# The same lookups as one query each over all cards (the batch rows): per card its id, the
# number of payments and their sum; cards without a match return no row.
BATCH_QUERIES = {
    "txns": (
        "UNWIND $ids AS id MATCH (c:Card {card_id: id})-[p:paid]->(:Merchant) "
        "RETURN id, count(p), sum(p.amount)"
    ),
    "window": (
        "UNWIND $cards AS w MATCH (c:Card {card_id: w.card_id})-[p:paid]->(:Merchant) "
        "WHERE p.time >= w.since AND p.time <= w.until "
        "RETURN w.card_id, count(p), sum(p.amount)"
    ),
}

ENDPOINTS = ("card_id", "merchant_id")


def log(msg):
    print(f"[kuzu] {msg}", file=sys.stderr, flush=True)


def reset_peak_rss():
    """Resets VmHWM so the next read covers only what follows (same method as the Rust side)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def percentile(sorted_ms, q):
    """Nearest-rank percentile, the definition the Rust side uses too."""
    if not sorted_ms:
        return None
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def path_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def write_columns(src, dst, first, rest=True):
    """Copies CSV `src` to `dst` with the columns named in `first` in front, in that order,
    then (with `rest`) the others in their order. Returns the written header."""
    with open(src, newline="") as fin, open(dst, "w", newline="") as fout:
        reader = csv.reader(fin)
        header = next(reader)
        missing = [c for c in first if c not in header]
        if missing:
            sys.exit(f"{src}: no column {', '.join(missing)} (header: {','.join(header)})")
        order = [header.index(c) for c in first]
        if rest:
            order += [i for i, c in enumerate(header) if c not in first]
        writer = csv.writer(fout, lineterminator="\n")
        out_header = [header[i] for i in order]
        writer.writerow(out_header)
        writer.writerows([row[i] for i in order] for row in reader)
    return out_header


def batch_results(rows, ids):
    """Per id in `ids`, (count, amount sum) from a batch query's (id, count, sum) rows."""
    by_id = {r[0]: (r[1], r[2]) for r in rows}
    counts = [by_id.get(i, (0, 0.0))[0] for i in ids]
    sums = [by_id.get(i, (0, 0.0))[1] or 0.0 for i in ids]
    return counts, sums


def run(conn, stmt, params):
    return conn.execute(stmt, params).get_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("work_dir")
    ap.add_argument("cards_json")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    data = os.path.abspath(args.data_dir)
    work = os.path.abspath(args.work_dir)
    with open(args.cards_json) as f:
        cards = json.load(f)

    if os.path.exists(work):
        shutil.rmtree(work)
    inputs = os.path.join(work, "input")
    os.makedirs(inputs)

    # Untimed preparation, like generating the CSV files: the column order the direct COPY needs.
    t0 = time.perf_counter()
    txns = os.path.join(inputs, "transactions.csv")
    header = write_columns(os.path.join(data, "transactions.csv"), txns, ENDPOINTS)
    cards_file = os.path.join(inputs, "cards.csv")
    write_columns(os.path.join(data, "cards.csv"), cards_file, ("card_id",), rest=False)
    merchants_file = os.path.join(inputs, "merchants.csv")
    write_columns(os.path.join(data, "merchants.csv"), merchants_file, ("merchant_id",), rest=False)
    # Written back to disk before the timed load, as storage_bench does before Argus's: the
    # kernel flushing this preparation must not compete with either side's timed load.
    os.sync()
    log(f"wrote the COPY inputs to {inputs} in {time.perf_counter() - t0:.1f} s (not timed)")

    db_path = os.path.join(work, "db.kuzu")
    db = kuzu.Database(db_path, max_num_threads=args.threads)
    conn = kuzu.Connection(db, num_threads=args.threads)
    log(f"kuzu {kuzu.__version__}, {args.threads} threads, database {db_path}")

    # STRING keys: the direct COPY reads each column with the table's type, so the numeric-
    # looking card and merchant numbers stay strings, as in Argus.
    conn.execute("CREATE NODE TABLE Card(card_id STRING PRIMARY KEY)")
    conn.execute("CREATE NODE TABLE Merchant(merchant_id STRING PRIMARY KEY)")
    # The payment properties in the copied file's order (newer generators add `is_fraud`).
    types = {"amount": "DOUBLE", "time": "INT64", "is_fraud": "INT64"}
    props = [(c, types.get(c, "STRING")) for c in header[len(ENDPOINTS):]]
    conn.execute(
        "CREATE REL TABLE paid(FROM Card TO Merchant, "
        + ", ".join(f"{c} {t}" for c, t in props)
        + ")"
    )
    t0 = time.perf_counter()
    conn.execute(f"COPY Card FROM '{cards_file}' (header=true)")
    conn.execute(f"COPY Merchant FROM '{merchants_file}' (header=true)")
    # The nodes' checkpoint is theirs, not the timed edge load's (Argus flushes its nodes too).
    conn.execute("CHECKPOINT")
    node_seconds = time.perf_counter() - t0
    key_types = {
        table: conn.execute(f"CALL table_info('{table}') RETURN type").get_all()[0][0]
        for table in ("Card", "Merchant")
    }
    if set(key_types.values()) != {"STRING"}:
        sys.exit(f"node keys loaded as {key_types}, expected STRING")
    log(f"nodes loaded in {node_seconds:.2f} s; loading paid edges (timed)")

    hwm_reset = reset_peak_rss()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    conn.execute(f"COPY paid FROM '{txns}' (header=true)")
    load_seconds = time.perf_counter() - t0
    # What the COPY may leave in the write-ahead log is written to the data files here, the
    # counterpart of the flush and compaction the Argus side waits for.
    t1 = time.perf_counter()
    conn.execute("CHECKPOINT")
    checkpoint_seconds = time.perf_counter() - t1
    load_cpu_seconds = time.process_time() - cpu0
    load_peak_kib = vm_hwm_kib()
    edges = run(conn, "MATCH ()-[p:paid]->() RETURN count(*)", {})[0][0]
    log(
        f"loaded {edges} edges in {load_seconds:.2f} s ({edges / load_seconds:,.0f} edges/s), "
        f"checkpoint {checkpoint_seconds:.2f} s"
    )

    stmts = {name: conn.prepare(q) for name, q in QUERIES.items()}

    def params(name, card):
        p = {"id": card["card_id"]}
        if name == "window":
            p["since"] = card["since"]
            p["until"] = card["until"]
        return p

    # Untimed warm-up pass over the same cards, then the timed pass.
    log(f"warm-up over {len(cards)} cards")
    for name, stmt in stmts.items():
        for card in cards:
            run(conn, stmt, params(name, card))

    log("timed pass")
    queries = {}
    for name, stmt in stmts.items():
        times_ms, engine_ms, counts, amount_sums = [], [], [], []
        for card in cards:
            p = params(name, card)
            t0 = time.perf_counter()
            result = conn.execute(stmt, p)
            rows = result.get_all()
            times_ms.append((time.perf_counter() - t0) * 1000.0)
            # Kuzu's own clock for executing the prepared plan, inside the engine, without the
            # Python call around it. (A prepared statement's compiling time is its `prepare`'s,
            # reported again with every result, so it is not part of a call.)
            engine_ms.append(result.get_execution_time())
            if name == "two_hop":
                counts.append(rows[0][0] if rows else 0)
            else:
                counts.append(len(rows))
                amount_sums.append(sum(r[0] for r in rows))
        ordered = sorted(times_ms)
        engine_ordered = sorted(engine_ms)
        queries[name] = {
            "median_ms": percentile(ordered, 50),
            "p99_ms": percentile(ordered, 99),
            "engine_median_ms": percentile(engine_ordered, 50),
            "engine_p99_ms": percentile(engine_ordered, 99),
            "times_ms": times_ms,
            "counts": counts,
        }
        if amount_sums:
            queries[name]["amount_sums"] = amount_sums
        log(
            f"{name}: median {queries[name]['median_ms']:.3f} ms, p99 {queries[name]['p99_ms']:.3f} ms "
            f"(engine's own timer: median {queries[name]['engine_median_ms']:.3f}, "
            f"p99 {queries[name]['engine_p99_ms']:.3f})"
        )

    # The batch rows: every card in one query, warm-up run first, then one timed run.
    ids = [c["card_id"] for c in cards]
    batch_params = {
        "txns": {"ids": ids},
        "window": {
            "cards": [
                {"card_id": c["card_id"], "since": c["since"], "until": c["until"]} for c in cards
            ]
        },
    }
    batch = {}
    for name, q in BATCH_QUERIES.items():
        stmt = conn.prepare(q)
        run(conn, stmt, batch_params[name])
        t0 = time.perf_counter()
        rows = run(conn, stmt, batch_params[name])
        seconds = time.perf_counter() - t0
        counts, sums = batch_results(rows, ids)
        batch[name] = {
            "seconds": seconds,
            "cards": len(ids),
            "us_per_card": seconds * 1e6 / max(len(ids), 1),
            "counts": counts,
            "amount_sums": sums,
        }
        log(f"batch {name}: {len(ids)} cards in {seconds * 1e3:.2f} ms ({batch[name]['us_per_card']:.1f} us per card)")

    conn.close()
    db.close()
    db_bytes = sum(
        path_size(os.path.join(work, name)) for name in os.listdir(work) if name != "input"
    )
    result = {
        "version": kuzu.__version__,
        "threads": args.threads,
        "edges": edges,
        "node_load_seconds": node_seconds,
        "load_seconds": load_seconds,
        "edges_per_sec": edges / load_seconds,
        "checkpoint_seconds": checkpoint_seconds,
        "load_checkpoint_edges_per_sec": edges / (load_seconds + checkpoint_seconds),
        "load_cpu_seconds": load_cpu_seconds,
        "load_peak_rss_kib": load_peak_kib if hwm_reset else None,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "disk_bytes": db_bytes,
        "queries": queries,
        "batch": batch,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
