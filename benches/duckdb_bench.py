#!/usr/bin/env python3
"""DuckDB side of the SQL benchmark (driven by `sql_bench`, usable on its own).

Loads the payments data set's transactions and merchants into a DuckDB database file twice —
with the types DuckDB infers ("auto") and with string keys and a timestamp like Argus's tables
("text") — then runs the same three analyst queries as the Argus side on each:

  week_top_merchants   top 10 merchants by amount in [since, until)
  category_totals      total amount per merchant category (transactions joined with merchants)
  card_last_20         one card's last 20 transactions, newest first (once per sampled card)

Usage: duckdb_bench.py DATA_DIR DB_FILE PARAMS_JSON [--threads N] [--runs N]

PARAMS_JSON is {"since": int, "until": int, "cards": [str, ...]} (Unix seconds). Progress goes
to stderr; one JSON object with timings and results goes to stdout.
"""

import argparse
import csv
import json
import os
import sys
import time

import duckdb


def log(msg):
    print(f"[duckdb_bench] {msg}", file=sys.stderr, flush=True)


def timed(con, sql, params=None):
    start = time.perf_counter()
    rows = con.execute(sql, params or []).fetchall()
    return rows, (time.perf_counter() - start) * 1000.0


# "auto": the types DuckDB infers from the CSV (numeric ids become BIGINT, Unix seconds stay
# BIGINT) — what a user loading the files gets. "text": ids as VARCHAR and time as a timestamp,
# the same types Argus exposes (keys are strings).
VARIANTS = ("auto", "text")


def text_columns(path, types):
    """The columns of CSV `path` in file order, each typed from `types` or else VARCHAR: the
    "text" variant's schema, read from the header so that added columns are kept."""
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    return {c: types.get(c, "VARCHAR") for c in header}


def struct_literal(columns):
    """`read_csv`'s `columns` argument: {'name': 'TYPE', ...}."""
    return "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns.items()) + "}"


def run_variant(con, variant, txns, merchants, since, until, cards, runs):
    t, m = f"transactions_{variant}", f"merchants_{variant}"
    if variant == "text":
        txn_columns = text_columns(txns, {"amount": "DOUBLE", "time": "BIGINT", "is_fraud": "BIGINT"})
        merchant_columns = text_columns(merchants, {})
    start = time.perf_counter()
    if variant == "auto":
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_csv(?)", [txns])
        con.execute(f"CREATE TABLE {m} AS SELECT * FROM read_csv(?)", [merchants])
        window = f'"time" >= {since} AND "time" < {until}'
        time_col = '"time"'
    else:
        select = ", ".join(
            'to_timestamp("time") AS ts' if c == "time" else f'"{c}"' for c in txn_columns
        )
        con.execute(
            f"CREATE TABLE {t} AS SELECT {select} FROM read_csv(?, header = true, columns = "
            f"{struct_literal(txn_columns)})",
            [txns],
        )
        con.execute(
            f"CREATE TABLE {m} AS SELECT * FROM read_csv(?, header = true, columns = "
            f"{struct_literal(merchant_columns)})",
            [merchants],
        )
        window = f"ts >= to_timestamp({since}) AND ts < to_timestamp({until})"
        time_col = "ts"
    con.execute("CHECKPOINT")
    load_secs = time.perf_counter() - start
    types = con.execute(f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{t}'").fetchall()
    log(f"{variant}: loaded {t} in {load_secs:.1f} s, types {types}")
    queries = {
        "week_top_merchants": (
            f"SELECT merchant_id, sum(amount) AS total FROM {t} WHERE {window} "
            "GROUP BY merchant_id ORDER BY total DESC LIMIT 10"
        ),
        "category_totals": (
            f"SELECT m.category, sum(t.amount) AS total FROM {t} t "
            f"JOIN {m} m ON t.merchant_id = m.merchant_id GROUP BY m.category ORDER BY m.category"
        ),
    }
    out = {"load_seconds": load_secs, "types": types, "queries": {}}
    for name, sql in queries.items():
        rows, first = timed(con, sql)
        times = [timed(con, sql)[1] for _ in range(runs)]
        out["queries"][name] = {
            "first_ms": first,
            "times_ms": times,
            "rows": [[str(v) for v in r] for r in rows],
        }
        log(f"{variant}: {name}: first {first:.1f} ms, median {sorted(times)[len(times) // 2]:.1f} ms")
    card_sql = (
        f"SELECT {time_col}, merchant_id, amount FROM {t} WHERE card_id = ? "
        f"ORDER BY {time_col} DESC LIMIT 20"
    )
    key = int if variant == "auto" else str
    # Warm-up pass; its first query is the cold one reported beside Argus's.
    first = None
    for card in cards:
        _, ms = timed(con, card_sql, [key(card)])
        first = ms if first is None else first
    times, counts, sums = [], [], []
    for card in cards:
        rows, ms = timed(con, card_sql, [key(card)])
        times.append(ms)
        counts.append(len(rows))
        sums.append(round(sum(r[2] for r in rows), 2))
    out["queries"]["card_last_20"] = {
        "first_ms": first,
        "times_ms": times,
        "counts": counts,
        "amount_sums": sums,
    }
    log(f"{variant}: card_last_20: median {sorted(times)[len(times) // 2]:.2f} ms over {len(times)} cards")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("db")
    ap.add_argument("params")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with open(args.params) as f:
        params = json.load(f)

    if os.path.exists(args.db):
        os.remove(args.db)
    con = duckdb.connect(args.db)
    con.execute(f"SET threads = {args.threads}")
    txns = os.path.join(args.data, "transactions.csv")
    merchants = os.path.join(args.data, "merchants.csv")
    since, until = params["since"], params["until"]
    out = {"threads": args.threads, "variants": {}}
    for variant in VARIANTS:
        out["variants"][variant] = run_variant(con, variant, txns, merchants, since, until, params["cards"], args.runs)
    con.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
