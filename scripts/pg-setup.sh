#!/usr/bin/env bash
# Installs what building and testing the Postgres extension needs, idempotently: the Debian
# PostgreSQL 15 server and its development headers, clang (for bindgen), and the cargo-pgrx
# whose version equals the pinned pgrx crate; then registers pg_config with cargo-pgrx.
set -euo pipefail
cd "$(dirname "$0")/.."
PGRX_VERSION=0.18.0
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

need=()
for pkg in postgresql-15 postgresql-server-dev-15 clang libclang-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "pg-setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
  echo "pg-setup: installing cargo-pgrx $PGRX_VERSION (a few minutes, once)"
  cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked --quiet
fi
# cargo-pgrx reads pg_config from its config file; as root it does not create a cluster.
if ! grep -q "pg15" "${PGRX_HOME:-$HOME/.pgrx}/config.toml" 2>/dev/null; then
  cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi
