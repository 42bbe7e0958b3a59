#!/usr/bin/env bash
# Runs ON THE GPU MACHINE, from the repository root, with .device-carry/
# carried (built here by scripts/gpu-bundle.sh):
#
#   run(command="scripts/gpu-check.sh", carry=[".device-carry"])
#
# 1. unpacks the static binaries (that machine has no LLVM/MLIR);
# 2. runs the GPU GoogleTests (driver layer, then the runtime's CUDA backend:
#    numerics against the float64 reference on fresh random inputs);
# 3. runs attn's GPU benchmark (attn-gpu-tests --bench, CUDA events);
# 4. measures the peers and ceilings with PyTorch (bench/gpu_peers.py);
# 5. prints the comparison table (bench/gpu_table.py) and draws the charts
#    (bench/plot.py: $OUT/img/compare-TAG.png, roofline-TAG.png, TAG from the
#    GPU's name, e.g. h200; copy them to docs/img/, or regenerate them there
#    with `scripts/plot-benchmarks.sh --gpu DIR` from the two .jsonl files);
# 6. ONNX (when attn-import-onnx is carried): the same .onnx files through
#    ONNX Runtime (CPU and CUDA providers) and attn (CPU and GPU), at 1 and
#    all threads (bench/onnx_gpu.py);
# 7. the Python package on CUDA tensors (when libattn.so is carried): what
#    the tests will find (python/tests/gpu_env.py: torch, its GPU, the GPU
#    attn sees, the torch.compile op), pytest (python/tests, CPU and CUDA;
#    a CUDA case that cannot run fails instead of skipping), attn.attention
#    vs SDPA timing and per-call overhead (bench/python_overhead.py), the
#    seed-004 example.
#
# Each step has its own time limit and a failing step does not stop the
# others; a summary of exit codes ends the output and the script fails if
# any step did. Raw outputs go to $OUT (the device tool brings it back) or a
# temporary folder. Environment: ATTN_GPU_CHECK_SKIP="tests bench peers"
# (any subset; also "sanitizer", "serving", "features", "backward", "python", "onnx" and "plot"), ATTN_GPU_TEST_FILTER (a --gtest_filter), ATTN_BENCH_ARGS
# (extra attn-bench-gpu options, e.g. --runs=50), ATTN_PEERS_ARGS.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARRY="${ATTN_CARRY:-$ROOT/.device-carry}"
RESULTS="${OUT:-$(mktemp -d /tmp/attn-gpu-results.XXXXXX)}"
BIN="$(mktemp -d /tmp/attn-gpu-bin.XXXXXX)"
SKIP=" ${ATTN_GPU_CHECK_SKIP:-} "
summary=()
failed=0

step() { # step NAME SECONDS CMD...: run with a time limit, record the status
  local name="$1" limit="$2"
  shift 2
  echo "=== $name (at ${SECONDS}s)"
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  [ $rc -eq 124 ] && echo "=== $name: timed out after ${limit}s"
  summary+=("$(printf '%-8s exit %3d  %4ds' "$name" "$rc" $((SECONDS - start)))")
  [ $rc -ne 0 ] && failed=1
  return 0
}

# The GPU GoogleTests in ATTN_GPU_TEST_SHARDS (default 4) processes at once
# (gtest sharding): most of their time is compiling kernels on the CPU, which
# one process does on one core. Each shard's full log (with per-test times)
# goes to $RESULTS/gpu-tests.N.log; the console shows failures and totals.
gpu_tests_sharded() {
  local n="${ATTN_GPU_TEST_SHARDS:-4}" i rc=0 pids=()
  for ((i = 0; i < n; i++)); do
    # No disk cache, as under ctest: tests count their compiles, and the
    # shards would otherwise fill one cache for each other.
    ATTN_CACHE_DIR=off GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i "$BIN/attn-gpu-tests" \
      ${ATTN_GPU_TEST_FILTER:+--gtest_filter="$ATTN_GPU_TEST_FILTER"} \
      > "$RESULTS/gpu-tests.$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { rc=1; echo "shard $i exited with an error"; }
  done
  cat "$RESULTS"/gpu-tests.*.log > "$RESULTS/gpu-tests.log"
  grep -hE '^\[  FAILED  \]|Failure$|^.*: error:' "$RESULTS"/gpu-tests.*.log | head -60
  grep -hE '^\[  (PASSED|SKIPPED|FAILED)  \] [0-9]+ test' "$RESULTS"/gpu-tests.*.log |
    awk '{n[$2] += $4} END {for (k in n) printf "%s %d tests; ", k, n[k]; print ""}'
  # The slowest tests, to keep this step inside its limit.
  grep -hE '^\[       OK \] .* \([0-9]+ ms\)$' "$RESULTS"/gpu-tests.*.log |
    sed -E 's/.*OK \] (.*) \(([0-9]+) ms\)$/\2 \1/' | sort -rn | head -8
  return $rc
}

echo "=== unpack ($CARRY -> $BIN)"
if ! ls "$CARRY"/*.xz > /dev/null 2>&1; then
  echo "gpu-check: no $CARRY/*.xz; run scripts/gpu-bundle.sh here and carry .device-carry" >&2
  exit 1
fi
[ -f "$CARRY/MANIFEST" ] && head -2 "$CARRY/MANIFEST"
for f in "$CARRY"/*.xz; do
  xz -dc "$f" > "$BIN/$(basename "$f" .xz)" || { echo "gpu-check: bad $f" >&2; exit 1; }
done
chmod +x "$BIN"/attn-* 2> /dev/null
export LD_LIBRARY_PATH="$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm \
  --format=csv,noheader 2>&1 | head -4

if [[ "$SKIP" != *" tests "* ]]; then
  step driver 60 "$BIN/attn-cuda-tests" --gtest_brief=1
  export BIN RESULTS ATTN_GPU_TEST_FILTER ATTN_GPU_TEST_SHARDS
  export -f gpu_tests_sharded
  step tests 420 bash -c gpu_tests_sharded
fi
# compute-sanitizer (memcheck: out-of-bounds and misaligned accesses;
# racecheck: shared-memory hazards) over one small case of every kernel
# family: mma.sync prefill (d 64/80/128, bshd, causal + offset, sliding
# window, lse + softcap), unsplit decode, split-KV decode + combine (ragged,
# empty rows, lse), wgmma + TMA prefill (sm_90a, d 64/128, causal), the
# custom-mask paths (bool mask + lengths, segment ids, score_mod/mask_mod,
# both chips), the hand-written naive kernel, and the KV-cache device steps
# (cache_append + paged NHD/HND and contiguous decode, bf16/f16; built into
# attn-gpu-tests too, so the default bundle carries them), the run-time
# split decode (one kernel, a split and an unsplit call). Parameterised
# tests are named Prefix/Suite.Test/case. A step fails on a sanitizer
# error, a failed test, or when no test ran (skipped without a device).
# ATTN_SANITIZER_FILTER replaces the filter.
sanitize_cases=(
  Matrix/GpuNumerics.MatchesReference/mha_s65_d64_f16
  Matrix/GpuNumerics.MatchesReference/gqa7_s63_d80_f16
  Matrix/GpuNumerics.MatchesReference/mha_bshd_s128_d128_f16
  Matrix/GpuNumerics.MatchesReference/causal_offset_d64_bf16
  Matrix/GpuNumerics.MatchesReference/sliding_window_d80_f16
  Matrix/GpuNumerics.MatchesReference/lse_softcap_causal_s200_d128_bf16
  Matrix/GpuNumerics.MatchesReference/decode_mha_sq3_kv65_d64_f16
  Matrix/GpuNumerics.MatchesReference/decode_mqa32_sq4_ragged_f16
  Matrix/GpuNumerics.MatchesReference/decode_lse_split_ragged_bf16
  Matrix/GpuNumericsSm90a.MatchesReference/mha_s65_d64_f16
  Matrix/GpuNumericsSm90a.MatchesReference/mha_bshd_s128_d128_f16
  Matrix/GpuNumericsSm90a.MatchesReference/causal_s300_d128_f16
  Matrix/GpuNumericsSm90a.MatchesReference/lse_softcap_causal_s200_d128_bf16
  "Chips/GpuCustomMasks.*"
  "GpuNaive.*"
  "Caches/KvCacheDeviceSteps.MatchesReference/*"
  GpuRunTimeSplitsDevice.SmallSplitAndUnsplit
  Matrix/GpuBackward.MatchesReference/gqa4_s130_d128_causal_bf16
  Matrix/GpuBackward.MatchesReference/ragged_empty_causal_offset_f16
)
# Families whose tests must show up as run (OK or FAILED) in the log; one
# missing (a binary older than the filter, a renamed test) is named but not
# an error: the ran-nothing check below catches an empty run.
sanitize_families="GpuNumerics. GpuNumericsSm90a. GpuCustomMasks. GpuNaive. KvCacheDeviceSteps. GpuRunTimeSplitsDevice. GpuBackward."
sanitize() { # sanitize TOOL LOG BINARY FILTER: one compute-sanitizer run
  local tool="$1" log="$2" bin="$3" filter="$4"
  if [ ! -x "$bin" ]; then
    echo "$tool: $(basename "$bin") is not in the carry: skipped"
    return 0
  fi
  # No --gtest_brief: the per-test OK lines say which families ran.
  "$cs" --tool "$tool" --error-exitcode 1 "$bin" \
    --gtest_filter="$filter" > "$log" 2>&1
  local rc=$?
  grep -E '(ERROR SUMMARY|RACECHECK SUMMARY|Invalid|Race|hazard|PASSED|FAILED|SKIPPED \])' \
    "$log" | tail -20
  local ran skipped family n counts=""
  ran=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
  skipped=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
  for family in $sanitize_families; do
    n=$(grep -cE "^\[ +(OK|FAILED) +\] ([A-Za-z0-9_]+/)?${family%.}\\." "$log")
    counts+=" ${family%.} $n"
    [ "$n" -eq 0 ] && echo "$tool: no $family* test ran (not in this binary, or filtered out)"
  done
  echo "$tool $(basename "$bin"): exit $rc, ${ran:-0} passed, ${skipped:-0} skipped;$counts"
  [ "${ran:-0}" -eq 0 ] && rc=1 # nothing ran (no device, or a stale filter)
  return $rc
}
if [[ "$SKIP" != *" sanitizer "* ]]; then
  cs="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
  sfilter="${ATTN_SANITIZER_FILTER:-$(IFS=:; echo "${sanitize_cases[*]}")}"
  export cs sanitize_families
  export -f sanitize
  # H200, 21 tests: memcheck 68 s (mostly compiles), racecheck 11 s (its
  # kernels come from the disk cache memcheck filled); the 4 KV-cache
  # device cases (8 kernels each) are not measured yet: limits 180/90 s.
  for tool in memcheck:180 racecheck:90; do
    limit="${tool#*:}" tool="${tool%:*}"
    # (through bash -c: timeout runs programs, not shell functions)
    step "$tool" "$limit" bash -c 'sanitize "$@"' sanitize "$tool" \
      "$RESULTS/sanitizer-$tool.log" "$BIN/attn-gpu-tests" "$sfilter"
  done
fi
if [[ "$SKIP" != *" bench "* ]]; then
  # Progress (case n of N, elapsed) goes to stderr: shown live, kept in .err.
  step bench 150 bash -c "'$BIN/attn-gpu-tests' --bench ${ATTN_BENCH_ARGS:-} \
    > '$RESULTS/attn-bench.jsonl' 2> >(tee '$RESULTS/attn-bench.err' >&2);
    rc=\$?; cat '$RESULTS/attn-bench.jsonl'; exit \$rc"
fi
if [[ "$SKIP" != *" backward "* ]]; then
  # The backward (attn-gpu-backward) against SDPA FLASH / CUDNN's backward
  # (out.backward(dO), CUDA events), 2.5x the forward's flops; its
  # numerics are the GpuBackward tests of the tests step.
  step backward 180 bash -c "'$BIN/attn-gpu-tests' --bench --backward --no-copy \
    > '$RESULTS/attn-backward.jsonl'; a=\$?; python3 bench/gpu_backward_peers.py \
    > '$RESULTS/peers-backward.jsonl'; p=\$?;
    cat '$RESULTS/attn-backward.jsonl' '$RESULTS/peers-backward.jsonl'; exit \$((a | p))"
fi
if [[ "$SKIP" != *" serving "* ]]; then
  # Continuous batching on the GPU (pools in device memory): compiles per
  # step with the default kernels, then with one kernel per shape; then one
  # decode step of batches 1/4/16 with both kinds of kernels (kernel speed,
  # compiles excluded).
  step serving 240 bash -c "'$BIN/attn-gpu-tests' --serving --target=cuda \
    --steps=48 --quiet && '$BIN/attn-gpu-tests' --serving --target=cuda \
    --steps=12 --quiet --static-sizes && '$BIN/attn-gpu-tests' --serving \
    --target=cuda --decode-compare --max-prompt=4096"
fi
if [[ "$SKIP" != *" features "* ]]; then
  # The serving features' benchmarks (issue 19): one mixed prefill + decode
  # launch vs two, append/decode steps with and without RoPE, block-sparse
  # masks at 100/50/25/12.5 % visible vs dense.
  step features 240 bash -c "ATTN_ROPE_BENCH=1 '$BIN/attn-gpu-tests' \
    --gtest_filter='KvCacheDeviceMixedBench.*:KvCacheDeviceRopeBench.*' |
    grep -E '^(mixed|rope-bench)|FAILED|PASSED'; a=\${PIPESTATUS[0]};
    '$BIN/attn-gpu-tests' --bench --block-sparse > '$RESULTS/block-sparse.jsonl';
    b=\$?; cat '$RESULTS/block-sparse.jsonl'; exit \$((a | b))"
fi
if [[ "$SKIP" != *" peers "* ]]; then
  step peers 240 bash -c "python3 bench/gpu_peers.py ${ATTN_PEERS_ARGS:-} \
    > '$RESULTS/peers.jsonl' 2> >(tee '$RESULTS/peers.err' |
      grep --line-buffered '^\[' >&2);
    rc=\$?; cat '$RESULTS/peers.jsonl'; [ \$rc -ne 0 ] && tail -5 '$RESULTS/peers.err';
    exit \$rc"
fi
if [[ "$SKIP" != *" python "* ]] && [ -f "$BIN/libattn.so" ]; then
  # No disk cache: the steps above may have filled ~/.cache/attn, and the
  # tests count compiles (as under ctest).
  export ATTN_LIBRARY="$BIN/libattn.so" PYTHONPATH="$ROOT/python" ATTN_CACHE_DIR=off
  step pyenv 60 python3 python/tests/gpu_env.py
  # -rfEs: one line per failure, error and skip with its reason; the full
  # tracebacks are in pytest.log (it comes back in $OUT).
  step pytest 300 bash -c "ATTN_TEST_DEVICES=cpu,cuda ATTN_TEST_REQUIRE_CUDA=1 \
    python3 -m pytest -q -rfEs --tb=short -p no:cacheprovider python/tests \
    > '$RESULTS/pytest.log' 2>&1; rc=\$?;
    sed -n '/short test summary/,\$p' '$RESULTS/pytest.log' | cut -c1-300 | tail -60;
    [ \$rc -ne 0 ] && echo 'pytest: exit '\$rc'; tracebacks: $RESULTS/pytest.log' &&
      { echo 'distinct failure messages (count, message):';
        grep '^E  ' '$RESULTS/pytest.log' | cut -c1-300 | sort | uniq -c |
          sort -rn | head -25; };
    tail -1 '$RESULTS/pytest.log'; exit \$rc"
  step pybench 180 bash -c "python3 bench/python_overhead.py \
    > '$RESULTS/python-overhead.jsonl'; rc=\$?; cat '$RESULTS/python-overhead.jsonl'; exit \$rc"
  step example 120 python3 examples/python/mha_seed004.py --device cuda --tokens 1024
fi
# ONNX: the committed seed/attention-op models (test/onnx/models) and the
# bench-size ones in the carry, through ONNX Runtime (CPU EP at N threads,
# CUDA EP) and attn-import-onnx --run on the CPU (attention on N threads)
# and with --target=cuda (the raised attention on attn's GPU kernels)
# (bench/onnx_gpu.py): outputs against the PyTorch/NumPy references, time
# per call side by side; N in ATTN_ONNX_THREADS (default "1 $(nproc)"). Needs
# attn-import-onnx in the carry (ATTN_BUNDLE_TARGETS=attn-import-onnx
# scripts/gpu-bundle.sh); without it, or without onnxruntime, one line.
if [[ "$SKIP" != *" onnx "* ]]; then
  if [ -x "$BIN/attn-import-onnx" ]; then
    mkdir -p "$BIN/onnx-bench"
    for f in "$BIN"/bench-*; do [ -e "$f" ] && mv "$f" "$BIN/onnx-bench/${f##*/bench-}"; done
    # One pass per thread count (ORT's CPU EP and attn's CPU attention get
    # the same); attn's GPU runner is the raised attention on the device.
    for t in ${ATTN_ONNX_THREADS:-1 $(nproc)}; do
      step "onnx-t$t" 400 bash -c "python3 bench/onnx_gpu.py --tool '$BIN/attn-import-onnx' \
        --threads=$t --runs=5 test/onnx/models '$BIN/onnx-bench' 2>&1 | tee '$RESULTS/onnx-t$t.txt'; exit \${PIPESTATUS[0]}"
    done
  else
    echo "=== onnx: skipped (attn-import-onnx not in the carry: ATTN_BUNDLE_TARGETS=attn-import-onnx scripts/gpu-bundle.sh)"
  fi
fi
echo "=== table (attn vs peers on the same device, same call)"
python3 bench/gpu_table.py "$RESULTS/attn-bench.jsonl" "$RESULTS/peers.jsonl" |
  tee "$RESULTS/table.txt"
if [[ "$SKIP" != *" plot "* ]] && [ -s "$RESULTS/attn-bench.jsonl" ]; then
  # (nothing to draw when the bench step was skipped) h200, h100, ... from "NVIDIA H200"; ATTN_PLOT_TAG overrides.
  tag="${ATTN_PLOT_TAG:-$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null |
    head -1 | awk '{print tolower($2)}')}"
  step plot 120 python3 bench/plot.py --out-dir "$RESULTS/img" --tag "${tag:-gpu}" \
    "$RESULTS/attn-bench.jsonl" "$RESULTS/peers.jsonl"
fi
echo "=== summary (raw outputs in $RESULTS)"
printf '%s\n' "${summary[@]}"
exit $failed
