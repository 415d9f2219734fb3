#!/usr/bin/env bash
# A first end-to-end check of the argus Postgres extension in a real server: installs it
# (scripts/pg-setup.sh, `cargo pgrx install`), prepares a small store with the argus CLI (loads
# pg_ext/tests/data, trains a trees model), starts a throwaway PostgreSQL 15 cluster as the
# `postgres` user on a free port with argus preloaded, and checks scoring, batch scoring,
# neighbours, ingestion through the outbox (a committed write applied, an aborted one not),
# clear errors, and that the server stays up. Not yet part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/pg-setup.sh
source scripts/env.sh
(cd pg_ext && cargo pgrx install --pg-config /usr/lib/postgresql/15/bin/pg_config >/dev/null)
# The test build (same features as scripts/test.sh) produces the CLI without rebuilding DataFusion.
cargo test --workspace --exclude argus --features argus-engine/sled,argus-tests/sled --no-run >/dev/null 2>&1
A="$CARGO_TARGET_DIR/debug/argus"
D=pg_ext/tests/data
W=$(mktemp -d /tmp/argus-pg.XXXXXX)
chmod 755 "$W"
B=/usr/lib/postgresql/15/bin
trap 'su postgres -c "$B/pg_ctl -D $W/pg -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
"$A" --db "$W/data" load nodes account "$D/accounts.csv" --key id >/dev/null 2>&1
"$A" --db "$W/data" load edges pays "$D/pays.csv" --src account:src --dst account:dst --time time >/dev/null 2>&1
"$A" --db "$W/data" labels declare account.fraud >/dev/null 2>&1
"$A" --db "$W/data" --device cpu train fraud --name acct --label account.fraud --models trees >/dev/null 2>&1
chown -R postgres "$W"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
su postgres -c "$B/initdb -D $W/pg -A trust" >/dev/null
cat >>"$W/pg/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$W'
shared_preload_libraries = 'argus'
argus.data_directory = '$W/data'
CONF
su postgres -c "$B/pg_ctl -D $W/pg -l $W/log -w start" >/dev/null
q() { su postgres -c "psql -X -tA -h $W -p $PORT -U postgres -d postgres -c \"$1\"" 2>&1; }
failed=0
expect() { # name, query, expected output
  local got
  got=$(q "$2")
  if [ "$got" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got [$got], want [$3]"; failed=1; fi
}
q "CREATE EXTENSION argus" >/dev/null
expect "a fraud-ring account scores high, an ordinary one low" \
  "SELECT argus.fraud_score('a3') > 0.5 AND argus.fraud_score('a300') < 0.5" t
expect "an unknown key is NULL" "SELECT argus.fraud_score('nobody') IS NULL" t
expect "batch equals single" \
  "SELECT argus.fraud_scores(ARRAY['a1','a350']) = ARRAY[argus.fraud_score('a1'), argus.fraud_score('a350')]" t
expect "batch keeps NULL slots" "SELECT array_length(argus.fraud_scores(ARRAY['a1','nobody',NULL]), 1)" 3
expect "neighbours" "SELECT count(*) FROM argus.neighbors('account', 'a3', max => 3)" 3
q "SELECT argus.add_edge('pays', 'a1', 'a2', now(), '{\\\"amount\\\": 7}')" >/dev/null
q "BEGIN; SELECT argus.upsert_node('account', 'aborted'); ROLLBACK;" >/dev/null
id=$(q "SELECT argus.upsert_node('account', 'fresh')")
expect "a committed write is applied" "SELECT argus.wait_applied($id)" t
expect "...and reaches the graph" "SELECT argus.fraud_score('fresh') IS NOT NULL" t
expect "an aborted write never is" "SELECT argus.fraud_score('aborted') IS NULL" t
expect "edge applied once" "SELECT argus.store_state()->'edge_types'->>'pays'" 2985
expect "unknown model: an ERROR" "SELECT argus.fraud_score('a3', 'nope')" "ERROR:  argus: no model named nope"
expect "unknown label: an ERROR" "SELECT argus.upsert_node('merchant', 'm')" \
  "ERROR:  argus: no node label 'merchant' (labels: account)"
expect "the server is still up" "SELECT 1" 1
exit "$failed"
