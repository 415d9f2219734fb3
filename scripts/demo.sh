#!/usr/bin/env bash
# The main job: builds the `argus` binary (release) and runs `argus demo` — generate a payments
# graph, load it with progress, print stats, run neighbourhood and time-window queries, check.
# Extra arguments go to `argus demo` (e.g. --users 100000 --transactions 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo build --release -p argus-cli --bin argus
exec "$CARGO_TARGET_DIR/release/argus" demo "$@"
