#!/usr/bin/env bash
# The GPU check of the CUDA backend, in two halves, so that the half that needs a GPU runs on a
# machine without a Rust toolchain:
#   scripts/gpu-check.sh build   here: builds the x86-64 binaries and packs them with the data
#                                into .gpu/ (about 37 MiB)
#   scripts/gpu-check.sh run     on the GPU machine, from the repository root with .gpu/:
#                                parity tests (GPU against CPU), the benchmark against PyTorch
#                                Geometric on the same GPU, and the end-to-end checks through
#                                `argus` (tolokers evaluation on GPU and CPU, fraud_score rates);
#                                prints one table at the end
#   scripts/gpu-check.sh payments  on the GPU machine too: fraud scores over every user of the
#                                generated 5 M-payment graph, GPU and CPU (about 5 minutes:
#                                generation, load, a short GNN training, then the scoring)
#   scripts/gpu-check.sh         all three, on a machine with a toolchain and a GPU
# `run` takes about 4 minutes on an H200; results and logs go to $OUT (default .gpu/out).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
pack=.gpu

build() {
  source scripts/env.sh
  # Release builds only, all in one target directory: `argus` as scripts/demo.sh builds it.
  cargo build --release -p argus-extensions --features cuda --example gpu_bench >&2
  local parity
  parity=$(cargo test --release -p argus-extensions --features cuda --test cuda_parity --no-run \
    --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cuda_parity":
        print(m["executable"])')
  cargo build --release -p argus-cli --bin argus >&2
  cargo build --release -p argus-benches --no-default-features --bin score_bench >&2
  rm -rf "$pack" && mkdir -p "$pack/tolokers"
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  # Stripped and compressed: what travels to the GPU machine must stay under 64 MiB.
  strip -o "$pack/gpu_bench" "$CARGO_TARGET_DIR/release/examples/gpu_bench"
  strip -o "$pack/cuda_parity" "$parity"
  strip -o "$pack/argus" "$CARGO_TARGET_DIR/release/argus"
  strip -o "$pack/score_bench" "$CARGO_TARGET_DIR/release/score_bench"
  xz -T2 -6 "$pack/argus" "$pack/score_bench"
  cp ../shared/data/tolokers/{nodes,edges,splits}.csv "$pack/tolokers/"
  du -sh "$pack" >&2
}

# unpack FILE.xz BINARY: the GPU machine may lack the xz tool; Python has lzma.
unpack() {
  if command -v xz >/dev/null; then
    xz -dc "$1" >"$2"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
  chmod +x "$2"
}

# Sets the caller's out (results, $OUT), work (a fresh folder) and argus (unpacked there).
start() {
  out="${OUT:-$pack/out}"
  mkdir -p "$out"
  work=$(mktemp -d)
  argus="$work/argus"
  unpack "$pack/argus.xz" "$argus"
}

# sql_rate DB DEVICE SQL KEYS OUTPUT: run SQL through argus on DEVICE and print KEYS over its
# wall time (process start and model load included) in keys/s, or "failed" (status 1).
sql_rate() {
  local t0
  t0=$(date +%s.%N)
  if "$argus" --db "$1" --device "$2" --format csv sql -c "$3" >"$5" 2>&1; then
    python3 -c "print(f'{$4 / ($(date +%s.%N) - $t0):.0f}')"
  else
    echo failed
    return 1
  fi
}

# The last non-empty line of a file.
last_line() {
  grep -v '^$' "$1" 2>/dev/null | tail -1
}

run() {
  # Every step runs even when an earlier one fails, so one run reports everything; the exit
  # status says whether all passed.
  set +e
  local failed=0
  local out work argus
  start
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

  echo "== parity: CUDA against CPU"
  "$pack/cuda_parity" --test-threads=1 --nocapture 2>&1 | tee "$out/parity.log" || failed=1

  echo "== benchmark: Argus CUDA against PyTorch Geometric on the same GPU"
  "$pack/gpu_bench" --tolokers "$pack/tolokers" --work "$work/bench" --runs 20 \
    --pyg benches/pyg_gpu_bench.py | tee "$out/bench.md" || failed=1

  echo "== end to end: tolokers evaluation (GNN, 10 splits) on the GPU and on the CPU"
  local db="$work/tolokers.db"
  "$argus" --db "$db" load nodes toloker "$pack/tolokers/nodes.csv" --key id >/dev/null
  "$argus" --db "$db" load edges worked_with "$pack/tolokers/edges.csv" \
    --src toloker:src --dst toloker:dst --undirected >/dev/null
  cp -r "$db" "$work/tolokers-cpu.db"
  local eval_args=(eval node-classification --label toloker.label
    --splits "$pack/tolokers/splits.csv" --models gnn --format csv)
  # The CPU evaluation runs beside the GPU one: only their results are compared here.
  (timeout 300 "$argus" --db "$work/tolokers-cpu.db" --device cpu "${eval_args[@]}" >"$out/eval-cpu.csv" \
    2>"$out/eval-cpu.log") &
  local cpu_pid=$!
  local started=$SECONDS
  "$argus" --db "$db" --device cuda "${eval_args[@]}" >"$out/eval-gpu.csv" 2>"$out/eval-gpu.log" ||
    failed=1
  local gpu_s=$((SECONDS - started))
  wait "$cpu_pid" || echo "the CPU evaluation did not finish in 300 s" >>"$out/eval-cpu.log"
  local cpu_s=$((SECONDS - started))

  echo "== end to end: fraud_score over every toloker in SQL, GPU and CPU"
  "$argus" --db "$db" --device cuda train fraud --name banned --label toloker.label --models gnn \
    --split "$pack/tolokers/splits.csv:split_0" --deploy >/dev/null 2>"$out/train-gpu.log"
  local sql="SELECT count(*) AS scored, avg(fraud_score(id)) AS mean FROM toloker"
  local rates=()
  for device in cuda cpu; do
    rates+=("$(sql_rate "$db" "$device" "$sql" 11758 "$out/score-$device.csv")") || failed=1
  done

  echo
  cat "$out/bench.md"
  for device in gpu cpu; do
    echo "tolokers eval (GNN, test ROC-AUC etc. × 100) on $device:"
    head -1 "$out/eval-$device.csv" 2>/dev/null || true
    tail -1 "$out/eval-$device.csv" 2>/dev/null || tail -2 "$out/eval-$device.log"
  done
  echo "eval wall time, side by side: gpu ${gpu_s} s, cpu ${cpu_s} s"
  echo "fraud_score over 11,758 tolokers in one SQL command (process start and model load"
  echo "included): gpu ${rates[0]} keys/s, cpu ${rates[1]} keys/s"
  echo "  gpu: $(last_line "$out/score-cuda.csv")   cpu: $(last_line "$out/score-cpu.csv")"
  return "$failed"
}

# The issue's last figure, kept apart because it takes minutes of its own: fraud scores over
# every user of the generated 5 M-payment graph on the GPU and on the CPU (`score_bench`
# rows, then `fraud_score` over every user in one SQL command per device).
payments() {
  set +e
  local failed=0
  local out work argus score_bench
  start
  score_bench="$work/score_bench"
  unpack "$pack/score_bench.xz" "$score_bench"
  echo "== end to end: fraud scores over every user of the 5 M-payment graph, GPU and CPU"
  local payments="$work/payments"
  "$argus" generate payments --users 500000 --merchants 50000 --transactions 5000000 \
    --out "$payments" >/dev/null
  ARGUS="$argus" bash "$payments/load.sh" "$work/payments.db" >"$out/payments-load.log" 2>&1 || failed=1
  # The GNN trains on the GPU (mini-batches over a 12,000-user sample, 2 epochs); each device
  # then scores one user at a time, a 10,000-key batch, and every user (blocks, through
  # score_keys in SQL-sized batches, and the pass over the whole graph).
  for device in cuda cpu; do
    "$score_bench" --db "$work/payments.db" --families gnn --device "$device" --entities 500 \
      --batch 10000 --every-user >"$out/score-users-$device.md" 2>"$out/score-users-$device.log" ||
      failed=1
  done
  local users_sql="SELECT count(*) AS scored, avg(fraud_score(user_id, 'bench_user_gnn')) AS mean FROM user"
  local user_rates=()
  for device in cuda cpu; do
    user_rates+=("$(sql_rate "$work/payments.db" "$device" "$users_sql" 500000 \
      "$out/score-users-sql-$device.csv")") || failed=1
  done

  echo
  for device in cuda cpu; do
    echo "score_bench on the 5 M-payment graph, $device:"
    if [ -s "$out/score-users-$device.md" ]; then
      cat "$out/score-users-$device.md"
    else
      head -1 "$out/score-users-$device.log"
    fi
  done
  echo "fraud_score over 500,000 users in one SQL command (process start, projection and model"
  echo "load included): gpu ${user_rates[0]} keys/s, cpu ${user_rates[1]} keys/s"
  echo "  gpu: $(last_line "$out/score-users-sql-cuda.csv")   cpu: $(last_line "$out/score-users-sql-cpu.csv")"
  return "$failed"
}

case "$mode" in
  build) build ;;
  run) run ;;
  payments) payments ;;
  all) build && run && payments ;;
  *)
    echo "usage: scripts/gpu-check.sh [build|run|payments]" >&2
    exit 2
    ;;
esac
