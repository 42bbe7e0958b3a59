#!/usr/bin/env bash
# Charts of the benchmarks (bench/plot.py) into docs/img/:
#
#   scripts/plot-benchmarks.sh                 # CPU: run both CPU benchmarks
#                                              # here, then compare-cpu.png,
#                                              # roofline-cpu.png
#   scripts/plot-benchmarks.sh --gpu DIR [TAG] # GPU: from DIR/attn-bench.jsonl
#                                              # + DIR/peers.jsonl (what
#                                              # scripts/gpu-check.sh leaves in
#                                              # $OUT): compare-TAG.png,
#                                              # roofline-TAG.png (TAG: h200)
#
# The CPU run takes a few minutes on 2 cores and measures what it plots:
# run it on a quiet machine (it prints the load average first). The JSON
# lines are kept next to the charts' inputs in $ATTN_BUILD/bench-json/.
# Environment: ATTN_BENCH_THREADS (default: all cores), ATTN_PLOT_DIR
# (default docs/img), ATTN_PREFILL_ARGS / ATTN_DECODE_ARGS (extra options),
# ATTN_PLOT_NOTE (the GPU charts' title note; default the files' date).
# The conditions (date, load, options) go into the CPU charts' titles.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
set -euo pipefail
out="${ATTN_PLOT_DIR:-$ATTN_ROOT/docs/img}"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

if [ "${1:-}" = "--gpu" ]; then
  dir="${2:?usage: $0 --gpu DIR [TAG]}"
  exec "$py" "$ATTN_ROOT/bench/plot.py" --out-dir "$out" --tag "${3:-h200}" \
    --note "${ATTN_PLOT_NOTE:-$(date -u -r "$dir/peers.jsonl" +%F)}" \
    "$dir/attn-bench.jsonl" "$dir/peers.jsonl"
fi

attn_install_packages
attn_configure
cmake --build "$ATTN_BUILD" --target attn-bench-cpu-prefill attn-bench-cpu-decode \
  -- ${ATTN_NINJA_ARGS:-}
json="$ATTN_BUILD/bench-json"
mkdir -p "$json"
threads="${ATTN_BENCH_THREADS:-$(nproc)}"
before="$(cut -d' ' -f1 /proc/loadavg)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $threads threads"
# ATTN_CACHE_DIR=off: the benchmarks compile every kernel (and leave no cache).
ATTN_CACHE_DIR=off "$ATTN_BUILD/bin/attn-bench-cpu-prefill" \
  --bench-threads="$threads" --json ${ATTN_PREFILL_ARGS:-} > "$json/cpu-prefill.jsonl"
ATTN_CACHE_DIR=off "$ATTN_BUILD/bin/attn-bench-cpu-decode" \
  --bench-threads="$threads" --json ${ATTN_DECODE_ARGS:-} > "$json/cpu-decode.jsonl"
after="$(cut -d' ' -f1 /proc/loadavg)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# The conditions go into the charts' titles.
note="$(date -u '+%F %H:%M UTC'), load $before -> $after"
opts="$(echo "${ATTN_PREFILL_ARGS:-} ${ATTN_DECODE_ARGS:-}" | xargs)"
[ -n "$opts" ] && note+=", $opts"
"$py" "$ATTN_ROOT/bench/plot.py" --out-dir "$out" --tag cpu --note "$note" \
  "$json/cpu-prefill.jsonl" "$json/cpu-decode.jsonl"
