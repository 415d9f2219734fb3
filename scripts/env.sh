# Sourced by the other scripts: one persistent target directory outside the clone, so CI and
# later runs reuse earlier builds, and the mold linker when it is installed.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/argus-target}"
if command -v mold >/dev/null 2>&1; then
  export RUSTFLAGS="${RUSTFLAGS:--C link-arg=-fuse-ld=mold}"
fi
export CARGO_TERM_PROGRESS_WHEN=never
# NVRTC for the CUDA kernel compile test, where scripts/setup.sh could fetch it.
if [ -d "$HOME/.cache/argus-nvrtc/lib" ]; then
  export LD_LIBRARY_PATH="$HOME/.cache/argus-nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
