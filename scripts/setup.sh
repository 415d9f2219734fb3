#!/usr/bin/env bash
# Installs what building and testing Argus needs on Debian, idempotently: libclang (bindgen for
# RocksDB), a C++ compiler, the mold linker, and (best effort) an NVRTC library for the CUDA
# kernel compile test. Installs nothing that is already there.
set -euo pipefail

need=()
for pkg in libclang-dev g++ mold; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found: install a Rust toolchain (rustup)" >&2; exit 1; }

# An NVRTC library for the test that compiles every CUDA kernel on machines without a GPU (the
# PyPI package of CUDA 13.0's NVRTC, unpacked under ~/.cache). Best effort: without it that test
# says it was skipped.
nvrtc_dir="$HOME/.cache/argus-nvrtc"
if [ ! -f "$nvrtc_dir/lib/libnvrtc.so.13" ] && command -v python3 >/dev/null; then
  tmp="$(mktemp -d)"
  if python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "nvidia-cuda-nvrtc==13.0.*" \
    >/dev/null 2>&1; then
    mkdir -p "$nvrtc_dir/lib"
    python3 - "$tmp" "$nvrtc_dir/lib" <<'PY' || echo "setup: could not unpack NVRTC (kernel compile test will skip)"
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if "/lib/libnvrtc" in name:
            target = os.path.join(sys.argv[2], os.path.basename(name))
            with z.open(name) as src, open(target, "wb") as dst:
                dst.write(src.read())
PY
  else
    echo "setup: NVRTC not downloaded (no network?): the kernel compile test will skip"
  fi
  rm -rf "$tmp"
fi
