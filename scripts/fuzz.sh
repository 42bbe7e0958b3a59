#!/usr/bin/env bash
# Builds the libFuzzer target (a separate ASan+UBSan+fuzzer build tree) and
# fuzzes attn-opt's front end and both pipelines for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
#
# The seed corpus is every example and every `// -----` piece of the lit
# tests, and test/fuzz/regressions (inputs that once crashed the target);
# the corpus grows in $ATTN_FUZZ_BUILD/corpus between runs. Crashes,
# hangs and sanitizer reports land in $ATTN_FUZZ_BUILD/findings and make
# the script fail. A hang is an input over ATTN_FUZZ_TIMEOUT seconds of
# wall time (default 300: at nice 19 on the shared 2-core machine a valid
# seed took 36 s through both pipelines, and -timeout=30 called it a
# hang); a -timeout=N among the extra flags replaces it. One process (no
# -jobs: libFuzzer would fork a child logging to ./fuzz-0.log), at the
# lowest priority: the build machine is shared.
set -euo pipefail
ATTN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
timeout_flag="-timeout=${ATTN_FUZZ_TIMEOUT:-300}"
for arg in "$@"; do
  case "$arg" in -timeout=*) timeout_flag="$arg" ;; esac
done
ATTN_FUZZ_BUILD="${ATTN_FUZZ_BUILD:-$ATTN_ROOT/build-fuzz}"
ATTN_BUILD="$ATTN_FUZZ_BUILD" \
  ATTN_CMAKE_ARGS="${ATTN_CMAKE_ARGS:-} -DATTN_SANITIZE=ON -DATTN_FUZZ=ON" \
  bash -c "source '$ATTN_ROOT/scripts/common.sh' && attn_install_packages && \
           attn_configure && cmake --build '$ATTN_FUZZ_BUILD' --target attn-fuzz \
           -- ${ATTN_NINJA_ARGS:-}"

seeds="$ATTN_FUZZ_BUILD/seeds"
corpus="$ATTN_FUZZ_BUILD/corpus"
findings="$ATTN_FUZZ_BUILD/findings"
mkdir -p "$seeds" "$corpus" "$findings"
python3 "$ATTN_ROOT/scripts/fuzz-seeds.py" "$ATTN_ROOT" "$seeds"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
log="$ATTN_FUZZ_BUILD/fuzz.log"
set +e
nice -n 19 "$ATTN_FUZZ_BUILD/bin/attn-fuzz" "$corpus" "$seeds" \
  "$ATTN_ROOT/test/fuzz/regressions" \
  -dict="$ATTN_ROOT/test/fuzz/attn.dict" -max_total_time="$seconds" \
  "$timeout_flag" -rss_limit_mb=4096 -max_len=8192 \
  -print_final_stats=1 -artifact_prefix="$findings/" "$@" 2>&1 | tee "$log" |
  grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE|pulse)|==[0-9]+==|SUMMARY|stat::|artifact_prefix|Test unit written)"
# (no `|| true` above: it would reset PIPESTATUS, and a crash exited 0)
status=${PIPESTATUS[0]}
set -e
# slow-unit-* files (inputs over 10 s) are kept but are not findings.
echo "attn fuzz: ${seconds}s, exit ${status}, $(ls "$corpus" | wc -l) corpus units," \
  "$(ls "$findings" | grep -cvE '^slow-unit-') findings," \
  "$(ls "$findings" | grep -cE '^slow-unit-') slow units (log: $log)"
exit "$status"
