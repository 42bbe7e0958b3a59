# Shared by the README commands: install what is missing, configure, build.
# Every step is idempotent: a second run only rebuilds what changed.
set -euo pipefail

ATTN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ATTN_BUILD="${ATTN_BUILD:-$ATTN_ROOT/build}"
LLVM_PREFIX=/usr/lib/llvm-22

# libclang-rt-22-dev: clang-22's sanitizer and libFuzzer runtimes (the
# sanitizer job in scripts/test.sh, scripts/fuzz.sh); only recommended by
# clang-22, so an install without recommends lacks it.
ATTN_PACKAGES=(cmake ccache clang-format-22 ninja-build g++ llvm-22-dev libmlir-22-dev mlir-22-tools
  llvm-22-tools clang-22 libclang-rt-22-dev lld-22 libzstd-dev libgtest-dev libopenblas-dev
  libbenchmark-dev python3
  python3-numpy python3-pytest python3-torch python3-matplotlib python3-build
  python3-wheel python3-setuptools python3-venv
  libonnx-dev libprotobuf-dev protobuf-compiler python3-onnx)

attn_install_packages() {
  local missing=()
  for p in "${ATTN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "attn: installing missing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
}

attn_configure() {
  if [ ! -f "$ATTN_BUILD/build.ninja" ]; then
    cmake -G Ninja -S "$ATTN_ROOT" -B "$ATTN_BUILD" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER="$LLVM_PREFIX/bin/clang" \
      -DCMAKE_CXX_COMPILER="$LLVM_PREFIX/bin/clang++" \
      -DLLVM_USE_LINKER=lld \
      -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit" \
      ${ATTN_CMAKE_ARGS:-}
  fi
}

attn_build() {
  attn_install_packages
  attn_configure
  cmake --build "$ATTN_BUILD" -- ${ATTN_NINJA_ARGS:-}
}
