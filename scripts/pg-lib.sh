# Sourced by scripts/pg-test.sh and benches/pg_bench.sh: installing the extension into the
# system PostgreSQL 15, and a throwaway cluster with argus preloaded, run as the `postgres` user
# (Postgres refuses root) on a free port, its socket in the cluster's work directory.
PG_BIN=/usr/lib/postgresql/15/bin

# pg_install [cargo pgrx install options]: build and install the extension; show the build's
# end and fail when it fails.
pg_install() {
  local log
  log=$(mktemp)
  if ! (cd pg_ext && cargo pgrx install --pg-config "$PG_BIN/pg_config" "$@") >"$log" 2>&1; then
    tail -40 "$log"
    rm -f "$log"
    echo "pg: the extension did not build or install" >&2
    return 1
  fi
  rm -f "$log"
}

# argus_cli: the path of the `argus` binary of the test build (the features scripts/test.sh
# uses), built when missing or stale, so it comes without a DataFusion build of its own;
# $ARGUS_CLI when set (an `argus` built elsewhere).
argus_cli() {
  if [ -n "${ARGUS_CLI:-}" ]; then
    echo "$ARGUS_CLI"
    return
  fi
  cargo test --workspace --exclude argus --features argus-engine/sled,argus-tests/sled --no-run \
    >/dev/null 2>&1
  echo "$CARGO_TARGET_DIR/debug/argus"
}

# pg_cluster WORK DATA_DIRECTORY DEFAULT_MODEL [extra postgresql.conf lines]: a fresh cluster in
# WORK/pg following the Argus store DATA_DIRECTORY, started; sets PG_WORK and PG_PORT.
pg_cluster() {
  PG_WORK=$1
  PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
  chmod 755 "$PG_WORK"
  chown -R postgres "$PG_WORK"
  su postgres -c "$PG_BIN/initdb -D $PG_WORK/pg -A trust --no-instructions" >/dev/null
  cat >>"$PG_WORK/pg/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = ''
unix_socket_directories = '$PG_WORK'
shared_preload_libraries = 'argus'
argus.data_directory = '$2'
argus.default_model = '$3'
max_connections = 40
${4:-}
CONF
  pg_start
}

pg_start() { su postgres -c "$PG_BIN/pg_ctl -D $PG_WORK/pg -l $PG_WORK/log -w start" >/dev/null; }
pg_stop() { su postgres -c "$PG_BIN/pg_ctl -D $PG_WORK/pg -m ${1:-immediate} stop" >/dev/null 2>&1 || true; }

# pg_db DATABASE SQL: one statement through psql in DATABASE, unaligned, tuples only.
pg_db() { su postgres -c "$PG_BIN/psql -X -tA -h $PG_WORK -p $PG_PORT -U postgres -d $1 -c \"$2\"" 2>&1; }
# pg_q SQL: pg_db in database postgres.
pg_q() { pg_db postgres "$1"; }

# pg_bench OPTIONS...: pgbench against the cluster (scripts must be readable by `postgres`).
pg_bench() { su postgres -c "$PG_BIN/pgbench -n -h $PG_WORK -p $PG_PORT -U postgres $*"; }
