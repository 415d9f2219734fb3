#!/usr/bin/env bash
# Evaluates Argus's fraud models on the public data sets in ../shared/data under their published
# protocols: builds `argus` (release), loads the data set once into a store under
# $ARGUS_EVAL_DIR (default ~/.cache/argus-eval), then runs `argus eval node-classification`.
#   scripts/eval.sh tolokers [eval options]    # e.g. --report validation --models trees
#   scripts/eval.sh otc [eval options]         # Bitcoin OTC, e.g. --without established
#   scripts/eval.sh payments [eval options]    # the generated demo graph (20,000 users, seed 42),
#                                              # user.is_fraud, 5 seeded random 50/25/25 splits
#   scripts/eval.sh movielens [eval options]   # MovieLens 100K, `argus eval recommend` on the
#                                              # temporal protocol of ../shared/data/README.md
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/eval.sh tolokers|otc|payments|movielens [eval options]}"
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
  payments)
    src="$dir/payments-csv"
    label=user.is_fraud
    ;;
  movielens)
    src="$data/movielens-100k"
    # u.item: Latin-1, `|`-separated, no header; its 19 genre flags (named in u.genre) become
    # the items' categories.
    genres="$(cut -d'|' -f1 "$src/u.genre" | grep -v '^$' | paste -sd,)"
    nodes=(movie "$src/u.item" --no-header --delimiter '|' --encoding latin1
      --columns "movie_id,title,release_date,video_release_date,imdb_url,$genres" --key movie_id)
    edges=(rated "$src/u.data" --no-header --delimiter tab
      --columns user_id,movie_id,rating,timestamp --src user:user_id --dst movie:movie_id
      --time timestamp --create-missing-nodes)
    ;;
  *)
    echo "eval.sh: unknown data set $name (tolokers, otc, payments, movielens)" >&2
    exit 2
    ;;
esac
db="$dir/$name.db"
if [ ! -f "$db/.loaded" ]; then
  rm -rf "$db"
  if [ "$name" = payments ]; then
    rm -rf "$src"
    "$ARGUS" generate payments --users 20000 --merchants 2000 --transactions 200000 --seed 42 \
      --out "$src" >&2
    # load.sh also declares the generator's ground-truth columns label properties.
    ARGUS="$ARGUS" bash "$src/load.sh" "$db" >&2
    python3 - "$src/users.csv" "$src/splits.csv" <<'PY'
import csv, random, sys
ids = [row["user_id"] for row in csv.DictReader(open(sys.argv[1]))]
columns = []
for split in range(5):
    order = random.Random(1000 + split).sample(ids, len(ids))
    half, quarter = len(ids) // 2, len(ids) // 4
    part = {k: "train" for k in order[:half]}
    part.update({k: "val" for k in order[half:half + quarter]})
    part.update({k: "test" for k in order[half + quarter:]})
    columns.append(part)
with open(sys.argv[2], "w") as out:
    out.write("id," + ",".join(f"split_{i}" for i in range(5)) + "\n")
    for k in ids:
        out.write(k + "," + ",".join(c[k] for c in columns) + "\n")
PY
  else
    "$ARGUS" --db "$db" load nodes "${nodes[@]}" >&2
    "$ARGUS" --db "$db" load edges "${edges[@]}" >&2
  fi
  touch "$db/.loaded"
fi
if [ "$name" = movielens ]; then
  exec "$ARGUS" --db "$db" eval recommend --interactions rated --categories "$genres" "$@"
fi
exec "$ARGUS" --db "$db" eval node-classification --label "$label" --splits "$src/splits.csv" "$@"
