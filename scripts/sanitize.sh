#!/usr/bin/env bash
# The sanitizer job: the unit tests (dialect, runtime, KV caches) built with
# AddressSanitizer + UndefinedBehaviorSanitizer (any UB report aborts), then
# a short libFuzzer run over the front end and both pipelines. One build
# tree, build-fuzz/ (ASan + UBSan + fuzzer coverage), shared with
# scripts/fuzz.sh.
#
#   scripts/sanitize.sh [FUZZ_SECONDS]     (default 60)
set -euo pipefail
ATTN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_seconds="${1:-60}"
export ATTN_FUZZ_BUILD="${ATTN_FUZZ_BUILD:-$ATTN_ROOT/build-fuzz}"
ATTN_BUILD="$ATTN_FUZZ_BUILD" \
  ATTN_CMAKE_ARGS="${ATTN_CMAKE_ARGS:-} -DATTN_SANITIZE=ON -DATTN_FUZZ=ON" \
  bash -c "source '$ATTN_ROOT/scripts/common.sh' && attn_install_packages && \
           attn_configure && cmake --build '$ATTN_FUZZ_BUILD' --target \
           attn-unit-tests attn-runtime-tests attn-kvcache-tests attn-fuzz \
           -- ${ATTN_NINJA_ARGS:-}"
# LeakSanitizer stays on for the tests; JIT code is not instrumented.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$ATTN_FUZZ_BUILD"
set +e
ctest --output-on-failure -j "$(nproc)" -L 'unit|kvcache' | tee ctest-sanitize.log
status=${PIPESTATUS[0]}
set -e
grep -E "tests passed|tests failed" ctest-sanitize.log || true
"$ATTN_ROOT/scripts/fuzz.sh" "$fuzz_seconds" || status=1
exit "$status"
