#!/usr/bin/env bash
# Installs the peer systems the benchmarks compare against (Kuzu, and DuckDB for the SQL
# benchmark) into a private virtual environment, so nothing touches the system Python.
# Safe to run repeatedly: it only creates or installs what is missing.
#
# Usage: benches/setup_peers.sh            (venv at $HOME/.cache/argus-bench-venv)
#        benches/setup_peers.sh --gnn      (also torch + torch-geometric for gnn_bench: a large
#                                           download, several GB with torch's CUDA libraries)
#        benches/setup_peers.sh --trees    (also XGBoost, scikit-learn and Perpetual for trees_bench)
#        benches/setup_peers.sh --recs     (also implicit, the ALS/BPR recommender peer, for recs_bench)
#        ARGUS_BENCH_VENV=/some/dir benches/setup_peers.sh
set -euo pipefail

VENV="${ARGUS_BENCH_VENV:-$HOME/.cache/argus-bench-venv}"
PYTHON="${PYTHON:-python3}"
# Entries are IMPORT_NAME or IMPORT_NAME:PIP_NAME.
PACKAGES=(kuzu duckdb)
for option in "$@"; do
  case "$option" in
    --gnn) PACKAGES+=(torch torch_geometric:torch-geometric) ;;
    --trees) PACKAGES+=(xgboost:xgboost-cpu sklearn:scikit-learn perpetual:perpetual) ;;
    --recs) PACKAGES+=(numpy scipy implicit) ;;
    *) echo "unknown option $option (expected --gnn, --trees or --recs)" >&2; exit 2 ;;
  esac
done

if [[ -x "$VENV/bin/python" ]]; then
  echo "venv: $VENV already exists"
else
  echo "venv: creating $VENV with $("$PYTHON" --version 2>&1)"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi

for entry in "${PACKAGES[@]}"; do
  pkg="${entry%%:*}"
  pip_name="${entry#*:}"
  if "$VENV/bin/python" -c "import $pkg" >/dev/null 2>&1; then
    echo "$pkg: already installed ($("$VENV/bin/python" -c "import $pkg; print($pkg.__version__)"))"
  else
    echo "$pkg: installing with pip"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$pip_name"
    echo "$pkg: installed ($("$VENV/bin/python" -c "import $pkg; print($pkg.__version__)"))"
  fi
done

echo "done: the benchmarks find this interpreter by default; override with ARGUS_BENCH_PYTHON=$VENV/bin/python"
