#!/bin/bash
# The seeds' exported ONNX graphs on the CPU, raised through attn vs the
# same graph through upstream lowering (attn-import-onnx --no-raise: every
# linalg op, attention included, as loops). The graph is one JIT function
# on one thread; with THREADS > 1 the raised attention kernels run on that
# many (see docs/onnx.md). Prints CPU time per call (all threads' time: at
# THREADS > 1 compare wall time too, on a quiet machine) and the ratio;
# both runs are checked against PyTorch's outputs first.
#
#   bench/onnx_cpu.sh [BUILD_DIR] [RUNS] [THREADS]   (default build, 5, 1)
#
# Models (test/onnx/export_seeds.py --bench, into a temporary folder):
#   mha004  seed 004's MultiHeadAttentionAlt, B 1, S 512, E 512, 8 heads
#           (QKV + output projections: naive matmul loops in both runs)
#   gqa001  seed 001's GQA alone, B 1, S 512, 8 query / 2 KV heads, D 64
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
runs=${2:-5}
threads=${3:-1}
tool=$build/bin/attn-import-onnx
[ -x "$tool" ] || { echo "onnx_cpu: $tool not built (needs libonnx-dev)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 "$root/test/onnx/export_seeds.py" --bench "$dir" > /dev/null 2>&1
echo "onnx_cpu: $(date -u +%F) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for m in mha004 gqa001; do
  args=()
  for f in "$dir/$m".in*.npy; do args+=("--input=$f"); done
  args+=("--expect=$dir/$m.out0.npy" --bench "--runs=$runs" --warmup=1 "--threads=$threads")
  # The process's CPU time (at one thread: comparable on a loaded machine,
  # where wall time is not); wall time printed next to it.
  time_of() { grep 'time per call' | sed 's/.*CPU time \([0-9.]*\) ms.*/\1/'; }
  wall_of() { grep 'time per call' "$1" | sed 's/.*call: \([0-9.]*\) ms.*/\1/'; }
  raised=$("$tool" "$dir/$m.onnx" "${args[@]}" | tee "$dir/raised.txt" | time_of)
  naive=$("$tool" "$dir/$m.onnx" --no-raise "${args[@]}" | tee "$dir/naive.txt" | time_of)
  grep -q 'elements outside: ok' "$dir/raised.txt" && grep -q 'elements outside: ok' "$dir/naive.txt" ||
    { echo "onnx_cpu: $m: outputs differ from PyTorch's"; cat "$dir"/*.txt; exit 1; }
  awk -v m="$m" -v r="$raised" -v n="$naive" -v t="$threads" \
      -v rw="$(wall_of "$dir/raised.txt")" -v nw="$(wall_of "$dir/naive.txt")" 'BEGIN {
    printf "%-8s CPU time per call: raised (attn.attention, %d thread(s)) %10.3f ms, upstream loops %10.3f ms: %.2fx (wall %.3f vs %.3f ms)\n",
      m, t, r, n, n / r, rw, nw }'
done
