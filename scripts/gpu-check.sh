#!/usr/bin/env bash
# The GPU check of the CUDA backend, in two halves, so that the half that needs a GPU runs on a
# machine without a Rust toolchain:
#   scripts/gpu-check.sh build   here: builds the x86-64 binaries and packs them with the data
#                                into .gpu/ (about 40 MiB)
#   scripts/gpu-check.sh run     on the GPU machine, from the repository root with .gpu/:
#                                parity tests (GPU against CPU), the benchmark against PyTorch
#                                Geometric on the same GPU, and the end-to-end checks through
#                                `argus` (tolokers evaluation on GPU and CPU, fraud_score rates);
#                                prints one table at the end
#   scripts/gpu-check.sh         both, on a machine with a toolchain and a GPU
# `run` takes about 4 minutes on an H200; results and logs go to $OUT (default .gpu/out).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
pack=.gpu

build() {
  source scripts/env.sh
  local features="argus-engine/sled,argus-tests/sled"
  cargo build --release -p argus-extensions --features cuda --example gpu_bench >&2
  local parity
  parity=$(cargo test --release -p argus-extensions --features cuda --test cuda_parity --no-run \
    --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cuda_parity":
        print(m["executable"])')
  # The test build makes `argus` too, with the feature set the tests use (a plain `cargo build`
  # resolves other features and rebuilds the SQL stack).
  cargo test --workspace --features "$features" --no-run >&2
  rm -rf "$pack" && mkdir -p "$pack/tolokers"
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  # Stripped and compressed: what travels to the GPU machine must stay under 64 MiB.
  strip -o "$pack/gpu_bench" "$CARGO_TARGET_DIR/release/examples/gpu_bench"
  strip -o "$pack/cuda_parity" "$parity"
  strip -o "$pack/argus" "$CARGO_TARGET_DIR/debug/argus"
  xz -T2 -6 "$pack/argus"
  cp ../shared/data/tolokers/{nodes,edges,splits}.csv "$pack/tolokers/"
  du -sh "$pack" >&2
}

run() {
  # Every step runs even when an earlier one fails, so one run reports everything; the exit
  # status says whether all passed.
  set +e
  local failed=0
  local out="${OUT:-$pack/out}"
  mkdir -p "$out"
  local work
  work=$(mktemp -d)
  local argus="$work/argus"
  if command -v xz >/dev/null; then
    xz -dc "$pack/argus.xz" >"$argus"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$pack/argus.xz" "$argus"
  fi
  chmod +x "$argus"
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
    local t0
    t0=$(date +%s.%N)
    "$argus" --db "$db" --device "$device" --format csv sql -c "$sql" >"$out/score-$device.csv" 2>&1
    rates+=("$(python3 -c "import sys; print(f'{11758 / ($(date +%s.%N) - $t0):.0f}')")")
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
  echo "  gpu: $(tail -1 "$out/score-cuda.csv")   cpu: $(tail -1 "$out/score-cpu.csv")"
  return "$failed"
}

case "$mode" in
  build) build ;;
  run) run ;;
  all) build && run ;;
  *)
    echo "usage: scripts/gpu-check.sh [build|run]" >&2
    exit 2
    ;;
esac
