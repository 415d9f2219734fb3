#!/usr/bin/env python3
"""DuckDB side of the SQL benchmark (driven by `sql_bench`, usable on its own).

Loads the payments data set's transactions and merchants into a DuckDB database file (keys as
VARCHAR, like Argus's keys; the Unix-seconds time column as a timestamp), then runs the same
three analyst queries as the Argus side:

  week_top_merchants   top 10 merchants by amount in [since, until)
  category_totals      total amount per merchant category (transactions joined with merchants)
  card_last_20         one card's last 20 transactions, newest first (once per sampled card)

Usage: duckdb_bench.py DATA_DIR DB_FILE PARAMS_JSON [--threads N] [--runs N]

PARAMS_JSON is {"since": int, "until": int, "cards": [str, ...]} (Unix seconds). Progress goes
to stderr; one JSON object with timings and results goes to stdout.
"""

import argparse
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
    start = time.perf_counter()
    con.execute(
        "CREATE TABLE transactions AS SELECT txn_id, card_id, merchant_id, amount, "
        "to_timestamp(time) AS ts, channel FROM read_csv(?, header = true, columns = "
        "{'txn_id': 'VARCHAR', 'card_id': 'VARCHAR', 'merchant_id': 'VARCHAR', "
        "'amount': 'DOUBLE', 'time': 'BIGINT', 'channel': 'VARCHAR'})",
        [txns],
    )
    con.execute(
        "CREATE TABLE merchants AS SELECT * FROM read_csv(?, header = true, columns = "
        "{'merchant_id': 'VARCHAR', 'name': 'VARCHAR', 'category': 'VARCHAR', "
        "'country': 'VARCHAR'})",
        [merchants],
    )
    con.execute("CHECKPOINT")
    load_secs = time.perf_counter() - start
    count = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
    log(f"loaded {count} transactions in {load_secs:.1f} s")

    queries = {
        "week_top_merchants": (
            "SELECT merchant_id, sum(amount) AS total FROM transactions "
            f"WHERE ts >= to_timestamp({params['since']}) AND ts < to_timestamp({params['until']}) "
            "GROUP BY merchant_id ORDER BY total DESC LIMIT 10"
        ),
        "category_totals": (
            "SELECT m.category, sum(t.amount) AS total FROM transactions t "
            "JOIN merchants m ON t.merchant_id = m.merchant_id "
            "GROUP BY m.category ORDER BY m.category"
        ),
    }
    out = {"load_seconds": load_secs, "rows": count, "threads": args.threads, "queries": {}}
    for name, sql in queries.items():
        rows, first = timed(con, sql)
        times = [timed(con, sql)[1] for _ in range(args.runs)]
        out["queries"][name] = {
            "first_ms": first,
            "times_ms": times,
            "rows": [[str(v) for v in r] for r in rows],
        }
        log(f"{name}: first {first:.1f} ms, median {sorted(times)[len(times) // 2]:.1f} ms")

    card_sql = (
        "SELECT ts, merchant_id, amount FROM transactions WHERE card_id = ? "
        "ORDER BY ts DESC LIMIT 20"
    )
    for card in params["cards"]:
        timed(con, card_sql, [card])
    times, counts, sums = [], [], []
    for card in params["cards"]:
        rows, ms = timed(con, card_sql, [card])
        times.append(ms)
        counts.append(len(rows))
        sums.append(round(sum(r[2] for r in rows), 2))
    out["queries"]["card_last_20"] = {"times_ms": times, "counts": counts, "amount_sums": sums}
    log(f"card_last_20: median {sorted(times)[len(times) // 2]:.2f} ms over {len(times)} cards")
    con.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
