#!/usr/bin/env python3
"""Kuzu side of the storage benchmark (driven by `storage_bench`, usable on its own).

Loads the payments data set's cards, merchants and `paid` edges into a fresh Kuzu database,
then runs the same three queries as the Argus side over the same cards:

  txns     all payments of a card, with their amounts
  window   payments of a card in [since, until] (Unix seconds, inclusive), with amounts
  two_hop  distinct other cards that paid any merchant this card paid

Usage: kuzu_bench.py DATA_DIR WORK_DIR CARDS_JSON [--threads N]

CARDS_JSON is a list of {"card_id": str, "since": int, "until": int}. Progress goes to stderr;
one JSON object with the timings and per-card result counts goes to stdout.
"""

import argparse
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
    os.makedirs(work)
    db_path = os.path.join(work, "db.kuzu")
    db = kuzu.Database(db_path, max_num_threads=args.threads)
    conn = kuzu.Connection(db, num_threads=args.threads)
    log(f"kuzu {kuzu.__version__}, {args.threads} threads, database {db_path}")

    conn.execute("CREATE NODE TABLE Card(card_id STRING PRIMARY KEY)")
    conn.execute("CREATE NODE TABLE Merchant(merchant_id STRING PRIMARY KEY)")
    # The payment columns as the file has them (newer generators add `is_fraud`).
    with open(os.path.join(data, "transactions.csv")) as f:
        header = f.readline().strip().split(",")
    types = {"amount": "DOUBLE", "time": "INT64", "is_fraud": "INT64"}
    columns = [(c, types.get(c, "STRING")) for c in header]
    props = [(c, t) for c, t in columns if c not in ("card_id", "merchant_id")]
    conn.execute(
        "CREATE REL TABLE paid(FROM Card TO Merchant, "
        + ", ".join(f"{c} {t}" for c, t in props)
        + ")"
    )
    # Explicit column types: Kuzu would otherwise sniff the numeric keys as integers.
    t0 = time.perf_counter()
    conn.execute(
        "COPY Card FROM (LOAD WITH HEADERS (card_id STRING, brand STRING, issued_time INT64) "
        f"FROM '{data}/cards.csv' (header=true) RETURN card_id)"
    )
    conn.execute(
        "COPY Merchant FROM (LOAD WITH HEADERS (merchant_id STRING, name STRING, "
        f"category STRING, country STRING) FROM '{data}/merchants.csv' (header=true) "
        "RETURN merchant_id)"
    )
    node_seconds = time.perf_counter() - t0
    log(f"nodes loaded in {node_seconds:.2f} s; loading paid edges (timed)")

    hwm_reset = reset_peak_rss()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    conn.execute(
        "COPY paid FROM (LOAD WITH HEADERS ("
        + ", ".join(f"{c} {t}" for c, t in columns)
        + f") FROM '{data}/transactions.csv' (header=true) RETURN card_id, merchant_id, "
        + ", ".join(c for c, _ in props)
        + ")"
    )
    load_seconds = time.perf_counter() - t0
    load_cpu_seconds = time.process_time() - cpu0
    load_peak_kib = vm_hwm_kib()
    edges = run(conn, "MATCH ()-[p:paid]->() RETURN count(*)", {})[0][0]
    log(f"loaded {edges} edges in {load_seconds:.2f} s ({edges / load_seconds:,.0f} edges/s)")

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
        times_ms, counts, amount_sums = [], [], []
        for card in cards:
            p = params(name, card)
            t0 = time.perf_counter()
            rows = run(conn, stmt, p)
            times_ms.append((time.perf_counter() - t0) * 1000.0)
            if name == "two_hop":
                counts.append(rows[0][0] if rows else 0)
            else:
                counts.append(len(rows))
                amount_sums.append(sum(r[0] for r in rows))
        ordered = sorted(times_ms)
        queries[name] = {
            "median_ms": percentile(ordered, 50),
            "p99_ms": percentile(ordered, 99),
            "times_ms": times_ms,
            "counts": counts,
        }
        if amount_sums:
            queries[name]["amount_sums"] = amount_sums
        log(f"{name}: median {queries[name]['median_ms']:.3f} ms, p99 {queries[name]['p99_ms']:.3f} ms")

    conn.close()
    db.close()
    result = {
        "version": kuzu.__version__,
        "threads": args.threads,
        "edges": edges,
        "node_load_seconds": node_seconds,
        "load_seconds": load_seconds,
        "edges_per_sec": edges / load_seconds,
        "load_cpu_seconds": load_cpu_seconds,
        "load_peak_rss_kib": load_peak_kib if hwm_reset else None,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "disk_bytes": path_size(work),
        "queries": queries,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
