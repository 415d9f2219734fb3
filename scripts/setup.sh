#!/usr/bin/env bash
# Installs what building and testing Argus needs on Debian, idempotently: libclang (bindgen for
# RocksDB), a C++ compiler, and the mold linker. Installs nothing that is already there.
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
