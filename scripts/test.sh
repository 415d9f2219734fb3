#!/usr/bin/env bash
# Runs every check and test of Argus: formatting, lints, docs, unit, property, conformance,
# integration and crash tests, then the Postgres extension's tests (scripts/pg-test.sh: a real
# PostgreSQL 15 cluster). `scripts/test.sh --long` runs the crash test with 100 trials.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

if [ "${1:-}" = "--long" ]; then
  export ARGUS_CRASH_TRIALS=100
fi

FEATURES="argus-engine/sled,argus-tests/sled"
# The Postgres extension (package `argus`, pg_ext/) builds against Postgres headers through
# cargo-pgrx: its lints and tests run in scripts/pg-test.sh, below.
EXCLUDE="--exclude argus"
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace $EXCLUDE --all-targets --features "$FEATURES" -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace $EXCLUDE --no-deps --features "$FEATURES" --quiet
echo "== cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace $EXCLUDE --features "$FEATURES" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: cargo prints one summary per test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
echo "== Postgres extension"
scripts/pg-test.sh || status=1
exit "$status"
