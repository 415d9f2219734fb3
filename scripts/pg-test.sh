#!/usr/bin/env bash
# The Postgres extension's tests, as production runs it. Installs the extension
# (scripts/pg-setup.sh, `cargo pgrx install` against the system pg_config), prepares a small store
# with the argus CLI (pg_ext/tests/data: an account model and a payment model; a generated
# shopping graph and its recommender), starts a throwaway PostgreSQL 15 cluster as the
# `postgres` user on a free port with argus preloaded, and runs:
#   - the SQL regression files (pg_ext/tests/regress/sql, compared with expected/ by pg_regress);
#   - many sessions at once: pgbench readers scoring while pgbench writers add edges, every
#     committed write applied exactly once;
#   - kill -9 of a backend inside a transaction with queued writes, and of the postmaster with
#     committed writes not yet applied: the server comes back, committed writes are applied once,
#     the aborted ones never;
#   - recommendations, similar items and lookbooks equal to the Rust API's, and new views
#     written through the outbox changing the next lookbook with no retraining;
#   - a database created at 0.1.0 and updated (ALTER EXTENSION argus UPDATE) equal to a fresh one;
#   - thousands of bad calls, each an ERROR, the server up and the store unchanged after them.
# Called by scripts/test.sh; `scripts/pg-test.sh` alone runs only these.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/pg-setup.sh
source scripts/env.sh
source scripts/pg-lib.sh
PG_REGRESS=/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress
echo "== pg: clippy"
PGRX_PG_CONFIG_PATH="$PG_BIN/pg_config" cargo clippy -p argus --all-targets --quiet -- -D warnings
echo "== pg: cargo pgrx install"
pg_install
A=$(argus_cli)
D=pg_ext/tests/data
W=$(mktemp -d /tmp/argus-pg.XXXXXX)
PG_WORK=$W
keep=${ARGUS_PG_KEEP:-}
trap 'pg_stop; [ -n "$keep" ] || rm -rf "$W"' EXIT

echo "== pg: store"
"$A" --db "$W/data" load nodes account "$D/accounts.csv" --key id >/dev/null
"$A" --db "$W/data" load edges pays "$D/pays.csv" --src account:src --dst account:dst --time time >/dev/null
"$A" --db "$W/data" labels declare account.fraud pays.fraud >/dev/null
"$A" --db "$W/data" --device cpu train fraud --name acct --label account.fraud --models trees >/dev/null 2>&1
"$A" --db "$W/data" --device cpu train fraud --name txn --label pays.fraud >/dev/null 2>&1
echo "== pg: shopping graph and recommender"
"$A" generate shopping --shoppers 400 --products 120 --interactions 12000 --seed 11 --out "$W/shop" >/dev/null 2>&1
ARGUS="$A" bash "$W/shop/load.sh" "$W/data" >/dev/null
"$A" --db "$W/data" train recommender --name shop --interactions viewed,carted,purchased \
  --interaction-weights 1,2,4 --categories category --price price --vector style_vector \
  --families popularity,ease,cosine >/dev/null 2>&1
# The Rust API's answers (through the CLI, before the applier owns the store), for the
# extension's to match.
items() { "$A" --db "$W/data" --format csv "$@" | tail -n +2 | cut -d, -f1 | paste -sd, -; }
api_recommend=$(items recommend s3 --model shop --k 8)
api_filtered=$(items recommend s5 --model shop --k 5 --category shoes --max-price 60)
api_as_of=$(items recommend s5 --model shop --k 5 --as-of 2026-02-01T00:00:00Z)
api_similar=$(items similar p7 --model shop --k 5)
api_by_vector=$(items similar p7 --model shop --k 5 --by vector)
api_lookbook=$("$A" --db "$W/data" --format csv lookbook s3 --model shop --collections 3 --items 4 | tail -n +2 | cut -d, -f2 | paste -sd, -)
pg_cluster "$W" "$W/data" acct
failed=0
check() { # name, got, want
  if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got [$2], want [$3]"; failed=1; fi
}
expect() { # name, query, expected output
  check "$1" "$(pg_q "$2" || true)" "$3"
}
pays() { pg_q "SELECT argus.store_state()->'edge_types'->>'pays'"; }
pg_q "CREATE EXTENSION argus" >/dev/null

echo "== pg: regression (pg_regress)"
cp -r pg_ext/tests/regress "$W/regress"
cp "$W/shop/products.csv" "$W/regress/"
chown -R postgres "$W/regress"
if ! su postgres -c "cd $W/regress && $PG_REGRESS --use-existing --host=$W --port=$PG_PORT --user=postgres \
      --dbname=postgres --inputdir=. --outputdir=. scoring recommend errors ingest"; then
  cat "$W/regress/regression.diffs" 2>/dev/null | head -100
  failed=1
fi

echo "== pg: recommendations equal the Rust API's"
items_of() { echo "SELECT string_agg(item, ',') FROM ($1) AS r"; }
expect "recommend" "$(items_of "SELECT * FROM argus.recommend('s3', 8)")" "$api_recommend"
expect "recommend with a category and a price cap" \
  "$(items_of "SELECT * FROM argus.recommend('s5', 5, category => 'shoes', max_price => 60)")" "$api_filtered"
expect "recommend as of a time" \
  "$(items_of "SELECT * FROM argus.recommend('s5', 5, as_of => '2026-02-01T00:00:00Z')")" "$api_as_of"
expect "similar_items" "$(items_of "SELECT * FROM argus.similar_items('p7', 5)")" "$api_similar"
expect "similar_items by vector" \
  "$(items_of "SELECT * FROM argus.similar_items('p7', 5, similarity => 'vector')")" "$api_by_vector"
expect "lookbook" "$(items_of "SELECT * FROM argus.lookbook('s3', 3, 4)")" "$api_lookbook"

echo "== pg: new views reach the next lookbook through the outbox, no retraining"
titles=$(pg_q "SELECT string_agg(DISTINCT title, '|') FROM argus.lookbook('s3', 3, 4)")
# A category none of the shopper's collections shows, and four of its products.
category=$(tail -n +2 "$W/shop/products.csv" | cut -d, -f3 | sort -u | grep -vxF -f <(tr '|' '\n' <<<"$titles" | sed 's/ · /\n/g') | head -1)
skus=$(awk -F, -v c="$category" '$3 == c { print $1 }' "$W/shop/products.csv" | head -4)
before_views=$(pg_q "SELECT now()")
for sku in $skus; do last=$(pg_q "SELECT argus.add_edge('viewed', 's3', '$sku', now())"); done
expect "the views are applied" "SELECT argus.wait_applied($last, 30000)" t
expect "the lookbook has a $category collection after four views of it" \
  "SELECT count(*) > 0 FROM argus.lookbook('s3', 3, 4) WHERE '$category' = ANY (string_to_array(title, ' · '))" t
expect "as of a moment before the views, the first lookbook comes back" \
  "$(items_of "SELECT * FROM argus.lookbook('s3', 3, 4, as_of => '$before_views')")" "$api_lookbook"

echo "== pg: upgrade from 0.1.0"
# The 0.1.0 install script as released (pg_ext/sql/history), beside the upgrade scripts that
# `cargo pgrx install` copied: a database created at 0.1.0 and updated must equal a fresh one.
cp pg_ext/sql/history/argus--0.1.0.sql "$($PG_BIN/pg_config --sharedir)/extension/"
pg_q "CREATE DATABASE argus_upgrade" >/dev/null
check "CREATE EXTENSION argus VERSION '0.1.0'" \
  "$(pg_db argus_upgrade "CREATE EXTENSION argus VERSION '0.1.0'; SELECT extversion FROM pg_extension WHERE extname = 'argus'" | tail -1)" "0.1.0"
check "ALTER EXTENSION argus UPDATE" \
  "$(pg_db argus_upgrade "ALTER EXTENSION argus UPDATE; SELECT extversion FROM pg_extension WHERE extname = 'argus'" | tail -1)" "$(grep -m1 '^version' pg_ext/Cargo.toml | cut -d'"' -f2)"
schema="SELECT string_agg(d, E'\\\\n' ORDER BY d) FROM (
  SELECT pg_get_functiondef(p.oid) AS d FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'argus'
  UNION ALL SELECT c.relname || ':' || string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
  WHERE n.nspname = 'argus' GROUP BY c.relname) AS s"
fresh=$(pg_db postgres "$schema")
check "the schema listing has every function and table" \
  "$(grep -c "recommend_at_wrapper\|fraud_score_wrapper\|^outbox:" <<<"$fresh")" 3
check "the updated schema equals a fresh install's" "$(pg_db argus_upgrade "$schema")" "$fresh"
check "the updated database recommends" \
  "$(pg_db argus_upgrade "SELECT count(*) FROM argus.recommend('s3', 5)")" 5
pg_q "DROP DATABASE argus_upgrade" >/dev/null

echo "== pg: concurrent sessions"
cat >"$W/read.sql" <<'SQL'
\set k random(0, 399)
SELECT argus.fraud_score('a' || :k);
SQL
cat >"$W/write.sql" <<'SQL'
\set s random(0, 399)
\set d random(0, 399)
SELECT argus.add_edge('pays', 'a' || :s, 'a' || :d, now(), '{"amount": 1}');
SQL
chown postgres "$W"/*.sql
before=$(pays)
pg_bench -c 8 -j 2 -T 8 -f "$W/read.sql" postgres >"$W/read.out" 2>&1 &
readers=$!
pg_bench -c 4 -j 2 -t 250 -f "$W/write.sql" postgres >"$W/write.out" 2>&1 || true
wait "$readers" || true
grep -q "number of transactions actually processed: 1000/1000" "$W/write.out" \
  && echo "ok   the writers' 1,000 transactions all committed" \
  || { echo "FAIL writers:"; cat "$W/write.out"; failed=1; }
grep -q "number of failed transactions: 0 " "$W/read.out" && ! grep -q "aborted" "$W/read.out" \
  && echo "ok   8 sessions scored meanwhile with no failure ($(grep -o 'actually processed: [0-9]*' "$W/read.out" | cut -d' ' -f3) calls)" \
  || { echo "FAIL readers:"; cat "$W/read.out"; failed=1; }
expect "every committed write applied, once" \
  "SELECT argus.wait_applied((SELECT coalesce(max(id), 0) FROM argus.outbox), 60000) AND (argus.store_state()->'edge_types'->>'pays')::int = $before + 1000" t

echo "== pg: kill -9 of a backend inside a transaction"
before=$(pays)
committed=$(pg_q "SELECT argus.add_edge('pays', 'a1', 'a2', now(), '{\\\"amount\\\": 2}')")
su postgres -c "$PG_BIN/psql -X -q -h $W -p $PG_PORT -U postgres -d postgres -v ON_ERROR_STOP=1" >/dev/null 2>&1 <<'SQL' &
SET application_name = 'victim';
BEGIN;
SELECT argus.add_edge('pays', 'a5', 'a6', now(), '{"amount": 3}');
SELECT argus.upsert_node('account', 'never');
SELECT pg_sleep(60);
COMMIT;
SQL
victim=""
for _ in $(seq 100); do
  victim=$(pg_q "SELECT pid FROM pg_stat_activity WHERE application_name = 'victim' AND query LIKE '%pg_sleep%'")
  [ -n "$victim" ] && break
  sleep 0.1
done
if [ -z "$victim" ]; then echo "FAIL the victim session never reached its sleep"; failed=1; else
  kill -9 "$victim"
  wait || true
  for _ in $(seq 100); do pg_q "SELECT 1" | grep -qx 1 && break; sleep 0.2; done
  expect "the server is back after the crash of a backend" "SELECT 1" 1
  last=$(pg_q "SELECT argus.add_edge('pays', 'a7', 'a8', now(), '{\\\"amount\\\": 4}')")
  expect "the applier is back and applies new writes" "SELECT argus.wait_applied($last, 30000)" t
  expect "the committed write applied once, the killed transaction's never" \
    "SELECT (argus.store_state()->'edge_types'->>'pays')::int - $before" 2
  expect "...nor its node" "SELECT argus.fraud_score('never') IS NULL AND argus.wait_applied($committed)" t
fi

echo "== pg: kill -9 of the postmaster with committed writes not yet applied"
before=$(pays)
# One transaction of 500 writes, then the crash at once: most of them are still in the outbox.
pg_q "SELECT count(argus.add_edge('pays', 'a' || (i % 400), 'a' || ((i * 7) % 400), now(), '{\\\"amount\\\": 5}')) FROM generate_series(1, 500) AS i" >/dev/null
pm=$(head -1 "$W/pg/postmaster.pid")
children=$(ps -o pid= --ppid "$pm" | tr '\n' ' ')
kill -9 "$pm" $children 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
pg_start
expect "the server restarts after the crash of the postmaster" "SELECT 1" 1
expect "the 500 committed writes applied exactly once" \
  "SELECT argus.wait_applied((SELECT coalesce(max(id), 0) FROM argus.outbox), 60000) AND (argus.store_state()->'edge_types'->>'pays')::int - $before = 500" t

echo "== pg: thousands of bad calls"
state=$(pg_q "SELECT argus.store_state() - 'generation'")
cat >"$W/bad.sql" <<'SQL'
DO $$
DECLARE
    errors int := 0;
    i int;
BEGIN
    FOR i IN 1..1000 LOOP
        BEGIN PERFORM argus.fraud_score('a1', 'no_model_' || i); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM argus.upsert_node('no_label_' || i, 'k'); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM argus.add_edge('pays', 'a1', 'a2', now(), jsonb_build_array(i)); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM argus.add_edge('pays', 'a1', 'a2', now(), jsonb_build_object('amount', 'x' || i)); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM * FROM argus.neighbors('account', 'a1', max => -i); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM argus.explain_score('nobody_' || i); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM argus.score_transaction('txn', 'a1', 'a2', now(), jsonb_build_object('amount', jsonb_build_array(i))); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM * FROM argus.recommend('s3', -i); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM * FROM argus.recommend('s3', 5, model => 'no_recommender_' || i); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
        BEGIN PERFORM * FROM argus.similar_items('no_item_' || i, 5); EXCEPTION WHEN OTHERS THEN errors := errors + 1; END;
    END LOOP;
    RAISE NOTICE 'errors: %', errors;
END $$;
SQL
chown postgres "$W/bad.sql"
got=$(su postgres -c "$PG_BIN/psql -X -q -h $W -p $PG_PORT -U postgres -d postgres -f $W/bad.sql" 2>&1) || true
[ "$got" = "psql:$W/bad.sql:19: NOTICE:  errors: 10000" ] \
  && echo "ok   10,000 bad calls, each an ERROR" || { echo "FAIL bad calls: [$got]"; failed=1; }
expect "the server is still up" "SELECT 1" 1
expect "the store is unchanged" "SELECT argus.store_state() - 'generation'" "$state"
expect "nothing was queued" "SELECT count(*) FROM argus.outbox" 0

[ "$failed" = 0 ] && echo "pg: all passed" || echo "pg: FAILED (log: $W/log; ARGUS_PG_KEEP=1 keeps it)"
[ "$failed" = 0 ] || keep=1
exit "$failed"
