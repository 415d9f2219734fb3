#!/usr/bin/env bash
# Evaluates Argus's fraud models on the public data sets in ../shared/data under their published
# protocols: builds `argus` (release), loads the data set once into a store under
# $ARGUS_EVAL_DIR (default ~/.cache/argus-eval), then runs `argus eval node-classification`.
#   scripts/eval.sh tolokers [eval options]    # e.g. --report validation --models trees
#   scripts/eval.sh otc [eval options]         # Bitcoin OTC, e.g. --without established
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/eval.sh tolokers|otc [eval options]}"
shift
data="$(cd .. && pwd)/shared/data"
source scripts/env.sh
if [ -z "${ARGUS:-}" ]; then
  cargo build --release -p argus-cli --bin argus >&2
  ARGUS="$CARGO_TARGET_DIR/release/argus"
fi
dir="${ARGUS_EVAL_DIR:-$HOME/.cache/argus-eval}"
mkdir -p "$dir"
# Per data set: its folder, the node and edge loads, and what to predict.
case "$name" in
  tolokers)
    src="$data/tolokers"
    nodes=(toloker "$src/nodes.csv" --key id)
    edges=(worked_with "$src/edges.csv" --src toloker:src --dst toloker:dst --undirected)
    label=toloker.label
    ;;
  otc)
    src="$data/bitcoin-otc"
    nodes=(user "$src/labels.csv" --key user)
    edges=(rates "$src/edges.csv" --src user:src --dst user:dst --time time --create-missing-nodes)
    label=user.fraud
    ;;
  *)
    echo "eval.sh: unknown data set $name (tolokers, otc)" >&2
    exit 2
    ;;
esac
db="$dir/$name.db"
if [ ! -f "$db/.loaded" ]; then
  rm -rf "$db"
  "$ARGUS" --db "$db" load nodes "${nodes[@]}" >&2
  "$ARGUS" --db "$db" load edges "${edges[@]}" >&2
  touch "$db/.loaded"
fi
exec "$ARGUS" --db "$db" eval node-classification --label "$label" --splits "$src/splits.csv" "$@"
