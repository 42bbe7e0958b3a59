#!/usr/bin/env bash
# Builds what the GPU machine needs and packs it into .device-carry/ (git-
# ignored), to be carried by the device tool together with the working tree:
#
#   scripts/gpu-bundle.sh                  # here (Debian, LLVM 22)
#   run(command="scripts/gpu-check.sh", carry=[".device-carry"])   # there
#
# The GPU machine has the CUDA driver, PyTorch and Triton but no LLVM/MLIR,
# so the binaries are linked statically (ATTN_STATIC_TOOLS=ON, back ends X86
# + NVPTX only) into build-static/, stripped and xz-compressed:
#
#   attn-gpu-tests   the GPU GoogleTests (with the KV-cache device steps of
#                    KvCacheDeviceTest.cpp, for compute-sanitizer); `--bench`
#                    runs the GPU benchmark (one binary for all: the carry
#                    limit is 64 MiB)
#   attn-cuda-tests  the driver-layer tests (no MLIR inside, ~0.3 MB)
#   libz3.so.4       Debian's static LLVMSupport links libz3 dynamically
#   attn-run         only with ATTN_BUNDLE_ATTN_RUN=1 (another ~22 MB xz)
#   attn-import-onnx only with ATTN_BUNDLE_TARGETS=attn-import-onnx (with its
#                    ONNX/protobuf libraries and the bench-size seed models;
#                    gpu-check's "onnx" step, skip the others)
#   libattn.so       the C API, self-contained, for the Python package
#                    (python/, from the working tree); ATTN_BUNDLE_PYTHON=0
#                    leaves it out (it and attn-run do not fit together)
#
# The bench scripts (bench/gpu_peers.py, bench/gpu_table.py) come with the
# working tree. Prints the sizes; fails above ATTN_CARRY_LIMIT_MB (60).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ATTN_BUILD="${ATTN_STATIC_BUILD:-$ATTN_ROOT/build-static}"
ATTN_CMAKE_ARGS="-DATTN_STATIC_TOOLS=ON ${ATTN_CMAKE_ARGS:-}"
CARRY="$ATTN_ROOT/.device-carry"
LIMIT_MB="${ATTN_CARRY_LIMIT_MB:-60}"

# ATTN_BUNDLE_TARGETS picks other binaries (the CPU peer check's:
# "attn-bench-cpu-prefill attn-bench-cpu-decode", scripts/cpu-peer-check.sh).
read -ra targets <<< "${ATTN_BUNDLE_TARGETS:-attn-gpu-tests attn-cuda-tests}"
[ "${ATTN_BUNDLE_ATTN_RUN:-0}" = 1 ] && targets+=(attn-run)
python_lib=0
[ "${ATTN_BUNDLE_PYTHON:-${ATTN_BUNDLE_TARGETS:+0}}" != 0 ] && python_lib=1

attn_install_packages
attn_configure
cmake --build "$ATTN_BUILD" --target "${targets[@]}" -- ${ATTN_NINJA_ARGS:-}
[ $python_lib = 1 ] &&
  cmake --build "$ATTN_BUILD" --target attn_c -- ${ATTN_NINJA_ARGS:-}

rm -rf "$CARRY"
mkdir -p "$CARRY"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pack() { # pack SRC NAME: strip (binaries), xz -9 into the carry
  local src="$1" name="$2"
  if [ -x "$src" ] && file -b "$src" | grep -q ELF && [[ "$name" != *.so* ]]; then
    strip -o "$tmp/$name" "$src"
  else
    cp -L "$src" "$tmp/$name"
  fi
  xz -9 -T"$(nproc)" -c "$tmp/$name" > "$CARRY/$name.xz"
  awk -v n="$name" -v a="$(stat -c %s "$tmp/$name")" \
    -v b="$(stat -c %s "$CARRY/$name.xz")" \
    'BEGIN { printf "%-18s %8.1f MB  ->  %6.1f MB xz\n", n, a / 1048576, b / 1048576 }'
}
echo "bundle (stripped -> compressed):"
for t in "${targets[@]}"; do
  src="$(find "$ATTN_BUILD" -name "$t" -type f -perm -u+x | head -1)"
  [ -n "$src" ] || { echo "gpu-bundle: $t not built" >&2; exit 1; }
  pack "$src" "$t"
done
if [ $python_lib = 1 ]; then
  strip --strip-unneeded -o "$tmp/libattn.so.stripped" "$ATTN_BUILD/lib/libattn.so"
  pack "$tmp/libattn.so.stripped" libattn.so
fi
z3="$(ldd "$(find "$ATTN_BUILD" -name "${targets[0]}" -type f | head -1)" |
  awk '/libz3/ {print $3}')"
[ -n "$z3" ] && pack "$z3" libz3.so.4
# attn-import-onnx: Debian's ONNX/protobuf shared libraries (not on the GPU
# machine) and the seeds' models at bench sizes (bench-<name>.*; they need
# Debian's torch 1.13 exporter, so they are made here).
if [[ " ${targets[*]} " == *" attn-import-onnx "* ]]; then
  tool="$(find "$ATTN_BUILD" -name attn-import-onnx -type f | head -1)"
  for lib in $(ldd "$tool" | awk '/libonnx_proto|libprotobuf/ {print $3}'); do
    pack "$lib" "$(basename "$lib")"
  done
  mkdir -p "$tmp/onnx-bench"
  /usr/bin/python3 "$ATTN_ROOT/test/onnx/export_seeds.py" --bench "$tmp/onnx-bench" > /dev/null 2>&1 ||
    { echo "gpu-bundle: exporting the bench models failed" >&2; exit 1; }
  for f in "$tmp/onnx-bench"/*; do pack "$f" "bench-$(basename "$f")" > /dev/null; done
fi
{
  echo "commit $(git -C "$ATTN_ROOT" rev-parse --short HEAD)$(git -C "$ATTN_ROOT" diff --quiet || echo '+dirty')"
  echo "built $(date -u +%FT%TZ)"
  (cd "$CARRY" && ls -l)
} > "$CARRY/MANIFEST"
total=$(du -cb "$CARRY"/* | tail -1 | cut -f1)
awk -v t="$total" -v c="$CARRY" 'BEGIN { printf "total %.1f MB in %s\n", t / 1048576, c }'
if [ "$total" -gt $((LIMIT_MB * 1048576)) ]; then
  echo "gpu-bundle: the carry exceeds ${LIMIT_MB} MB" >&2
  exit 1
fi
