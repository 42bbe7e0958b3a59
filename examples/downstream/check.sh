#!/usr/bin/env bash
# Installs the attn build tree ($1) into a fresh prefix, then configures,
# builds and runs this downstream project against it: what CI checks of
# find_package(Attn). Usage: check.sh BUILD_DIR [WORK_DIR]
set -euo pipefail
build="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ge 2 ]; then work="$2"; keep=1; else work="$(mktemp -d /tmp/attn-downstream.XXXXXX)"; keep=0; fi
rm -rf "$work/prefix" "$work/build"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
echo "installed $(find "$work/prefix" -type f | wc -l) files into $work/prefix"
compiler="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
ccompiler="$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
launcher="$(sed -n 's/^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=//p' "$build/CMakeCache.txt")"
cmake -G Ninja -S "$here" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_C_COMPILER="$ccompiler" \
  ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" -DCMAKE_C_COMPILER_LAUNCHER="$launcher"} \
  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld > "$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
grep "attn " "$work/configure.log" || true
cmake --build "$work/build" -- -j2
"$work/prefix/bin/attn-run" 'gqa:b=1,hq=4,hkv=2,s=33,d=64,causal' --check --threads=2 |
  grep -q PASS || { echo "installed attn-run failed" >&2; exit 1; }
echo "installed attn-run: PASS"
for exe in "$work/build"/gqa-decode*; do
  [ -x "$exe" ] && "$exe"
done
[ "$keep" = 1 ] || rm -rf "$work"
