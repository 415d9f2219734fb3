#!/usr/bin/env bash
# Postgres benchmark: the `argus` extension under pgbench on the generated payments graph, beside
# the same calls through the Rust API and beside pgbench's floor (a call that does nothing).
#
#   benches/pg_bench.sh [WORK]        (default ./bench-out/pg; reuses WORK/data when present)
#
# 1. Release builds of the extension (`cargo pgrx install --release`) and of score_bench (without
#    DataFusion); the CLI that prepares the data is the test build's (scripts/test.sh).
# 2. The demo graph (`argus generate payments`, 20,000 users, 200,000 payments, seed 42) loaded
#    into WORK/data; a user model (`bench_user_trees`, trained by score_bench on a sample of users)
#    and a transaction model (`bench_txn`, `paid.is_fraud`, trees).
#    A generated shopping graph (20,000 shoppers, 2,000 products, 400,000 interactions, seed
#    42) in the same store and its recommender `bench_shop`.
# 3. score_bench and recs_scale_bench --serve: the Rust API's single-call latency for
#    `bench_user_trees` and for `bench_shop` (recommend k = 10, lookbook 4 × 5).
# 4. A throwaway cluster following WORK/data; pgbench, 1 and 8 clients, 15 s each:
#    `SELECT argus.fraud_score(k)` on random users, `argus.recommend(s, 10)` and
#    `argus.lookbook(s, 4, 5)` on random shoppers, and `SELECT length(k)` (the floor).
# 5. A BEFORE INSERT trigger that scores the payment with `argus.score_transaction`: single-row
#    INSERTs into a table with it and into the same table without it, 1 client.
# Latencies are pgbench's per-transaction logs (client side, so they include the round trip).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/pg-setup.sh
source scripts/env.sh
source scripts/pg-lib.sh

WORK=$(realpath -m "${1:-bench-out/pg}")
USERS=20000
SHOPPERS=20000
MERCHANTS=2000
SECONDS_PER_RUN=${ARGUS_PG_BENCH_SECONDS:-15}
mkdir -p "$WORK"

echo "== build" >&2
pg_install --release
cargo build --release -p argus-benches --no-default-features --bin score_bench --bin recs_scale_bench --quiet
A=$(argus_cli)

if [ ! -f "$WORK/data/ARGUS" ]; then
  echo "== data: generate and load" >&2
  rm -rf "$WORK/data" "$WORK/csv"
  "$A" generate payments --users $USERS --merchants $MERCHANTS --transactions 200000 --seed 42 \
    --out "$WORK/csv" >/dev/null
  ARGUS="$A" bash "$WORK/csv/load.sh" "$WORK/data" >/dev/null
fi
echo "== Rust API (score_bench; trains bench_user_trees when missing)" >&2
"$CARGO_TARGET_DIR/release/score_bench" --db "$WORK/data" --families trees --entities 2000 \
  --batch 1000 >"$WORK/score_bench.txt"
if ! "$A" --db "$WORK/data" models list 2>/dev/null | grep -q bench_txn; then
  echo "== train bench_txn (paid.is_fraud, trees)" >&2
  "$A" --db "$WORK/data" --device cpu train fraud --name bench_txn --label paid.is_fraud \
    --models trees >"$WORK/train_txn.txt" 2>&1
fi

if [ ! -f "$WORK/shop/trained" ]; then
  echo "== data: shopping graph and recommender bench_shop" >&2
  rm -rf "$WORK/shop"
  "$A" generate shopping --shoppers $SHOPPERS --products 2000 --interactions 400000 --seed 42 \
    --out "$WORK/shop" >/dev/null 2>&1
  ARGUS="$A" bash "$WORK/shop/load.sh" "$WORK/data" >/dev/null
  "$A" --db "$WORK/data" train recommender --name bench_shop --interactions viewed,carted,purchased \
    --interaction-weights 1,2,4 --categories category --price price --vector style_vector \
    --families popularity,ease,cosine >"$WORK/train_shop.txt" 2>&1
  touch "$WORK/shop/trained"
fi
echo "== Rust API (recs_scale_bench --serve)" >&2
"$CARGO_TARGET_DIR/release/recs_scale_bench" --serve "$WORK/data" --model bench_shop \
  --shoppers $SHOPPERS --queries 2000 >"$WORK/recs_bench.txt"

echo "== cluster" >&2
P="$WORK/run"
rm -rf "$P"
mkdir -p "$P"
rm -rf "$WORK/data/followers"
chown -R postgres "$WORK"
trap 'PG_WORK=$P pg_stop' EXIT
pg_cluster "$P" "$WORK/data" bench_user_trees "shared_buffers = '256MB'"
pg_q "CREATE EXTENSION argus" >/dev/null
cards=$(tail -n +2 "$WORK/csv/cards.csv" | wc -l)
pg_q "CREATE TABLE bench_cards(n serial PRIMARY KEY, card text NOT NULL, brand text, issued bigint);
COPY bench_cards(card, brand, issued) FROM '$WORK/csv/cards.csv' CSV HEADER;
CREATE TABLE pay_plain(card text, merchant text, amount float8, at timestamptz DEFAULT now(), score float8);
CREATE TABLE pay_scored(LIKE pay_plain INCLUDING DEFAULTS);
CREATE FUNCTION score_payment() RETURNS trigger LANGUAGE plpgsql AS \\\$\\\$
BEGIN
  NEW.score := argus.score_transaction('bench_txn', NEW.card, NEW.merchant, NEW.at,
                                       jsonb_build_object('amount', NEW.amount));
  RETURN NEW;
END \\\$\\\$;
CREATE TRIGGER score BEFORE INSERT ON pay_scored FOR EACH ROW EXECUTE FUNCTION score_payment();" >/dev/null
# A scored insert must carry a score: the trigger really ran the model.
check=$(pg_q "INSERT INTO pay_scored(card, merchant, amount) SELECT card, '7', 12.5 FROM bench_cards WHERE n = 1 RETURNING score IS NOT NULL")
[ "$(echo "$check" | head -1)" = t ] || { echo "pg_bench: the trigger did not score: $check" >&2; exit 1; }
pg_q "TRUNCATE pay_scored" >/dev/null

script() { # name, body
  printf '%s\n' "$2" >"$P/$1.sql"
  chown postgres "$P/$1.sql"
}
script score "\\set k random(0, $((USERS - 1)))
SELECT argus.fraud_score((:k)::text);"
script recommend "\\set s random(0, $((SHOPPERS - 1)))
SELECT * FROM argus.recommend('s' || :s, 10, 'bench_shop');"
script lookbook "\\set s random(0, $((SHOPPERS - 1)))
SELECT * FROM argus.lookbook('s' || :s, 4, 5, 'bench_shop');"
script floor "\\set k random(0, $((USERS - 1)))
SELECT length((:k)::text);"
for table in plain scored; do
  script "insert_$table" "\\set c random(1, $cards)
\\set m random(0, $((MERCHANTS - 1)))
\\set a random(100, 50000)
INSERT INTO pay_$table(card, merchant, amount) SELECT card, (:m)::text, :a / 100.0 FROM bench_cards WHERE n = :c;"
done

rows=()
run() { # name, script, clients
  local prefix="$P/log_$1_$3"
  echo "   pgbench $2, $3 client(s), ${SECONDS_PER_RUN} s" >&2
  out=$(pg_bench -c "$3" -j "$(( $3 < 2 ? 1 : 2 ))" -T "$SECONDS_PER_RUN" -l --log-prefix="$prefix" \
    -f "$P/$2.sql" postgres 2>&1) || { echo "$out" >&2; exit 1; }
  grep -q "number of failed transactions: 0 " <<<"$out" || { echo "$out" >&2; exit 1; }
  tps=$(grep -oP 'tps = \K[0-9.]+' <<<"$out" | tail -1)
  # Third field of pgbench's log: the transaction's latency in microseconds.
  read -r n p50 p99 < <(cat "$prefix".* | awk '{print $3}' | sort -n |
    awk '{v[NR] = $1} END {i50 = int(NR * 0.5); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1;
         printf "%d %.3f %.3f\n", NR, v[i50] / 1000, v[i99] / 1000}')
  rows+=("$(printf '%-44s %8s %10.0f %9s %9s' "$1" "$3" "$tps" "$p50" "$p99")")
  eval "P50_$1_$3=$p50; P99_$1_$3=$p99"
}
echo "== pgbench" >&2
run fraud_score score 1
run fraud_score score 8
run recommend recommend 1
run recommend recommend 8
run lookbook lookbook 1
run lookbook lookbook 8
run floor floor 1
run floor floor 8
run insert_plain insert_plain 1
run insert_scored insert_scored 1
scored=$(pg_q "SELECT count(*) FILTER (WHERE score IS NOT NULL) || '/' || count(*) FROM pay_scored")

echo
echo "Postgres 15, argus extension (release), $USERS users, 200,000 payments, $SHOPPERS shoppers, 2,000 products, 400,000 interactions; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %8s %10s %9s %9s\n' "pgbench script" clients "calls/s" "p50 ms" "p99 ms"
printf '%s\n' "--------------------------------------------------------------------------------------"
printf '%s\n' "${rows[@]}"
echo
echo "Rust API, same store and model (score_bench):"
cat "$WORK/score_bench.txt"
echo
echo "Rust API, same store and recommender (recs_scale_bench --serve):"
cat "$WORK/recs_bench.txt"
echo
awk -v a="$P99_insert_scored_1" -v b="$P99_insert_plain_1" -v c="$P50_insert_scored_1" -v d="$P50_insert_plain_1" \
  'BEGIN { printf "BEFORE INSERT trigger scoring the payment adds %.3f ms at p50 and %.3f ms at p99 (target: at most 1 ms at p99)\n", c - d, a - b }'
echo "scored rows carrying a score: $scored"
