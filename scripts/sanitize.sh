#!/usr/bin/env bash
# The sanitizer job: tests built with AddressSanitizer + UndefinedBehavior-
# Sanitizer (any UB report aborts), then libFuzzer over the front end and
# both pipelines. One build tree, build-fuzz/ (ASan + UBSan + fuzzer
# coverage), shared with scripts/fuzz.sh.
#
#   scripts/sanitize.sh [FUZZ_SECONDS]          the full job: every unit,
#                                   KV-cache and conversion test, then fuzzing
#   scripts/sanitize.sh --quick [FUZZ_SECONDS]  CI's subset (.ci/run): the
#       dialect/spec tests, the runtime's error, reliability and reference
#       tests, SanitizedParse (ASan vs libMLIR's allocator), and the fuzz
#       target over every seed, then fuzzing
#
# FUZZ_SECONDS defaults to 60; 0 skips the fuzz phase (e.g. while a long
# scripts/fuzz.sh campaign uses the same corpus). Ends with "attn sanitize:
# N passed, N failed".
set -euo pipefail
ATTN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi
fuzz_seconds="${1:-60}"
export ATTN_FUZZ_BUILD="${ATTN_FUZZ_BUILD:-$ATTN_ROOT/build-fuzz}"
targets="attn-unit-tests attn-runtime-tests attn-fuzz"
# The quick subset: what a hostile input reaches first (parser, verifier,
# spec validation, buffer checks, the float64 reference and its region
# interpreter) and stays cheap under ASan: no compiled-kernel numerics.
tests='^(AttentionSpec|MaskSpec|SpecShorthand|Reliability|RuntimeErrors|RuntimeCompileErrors|Reference|CheckFixture|Tolerance|SanitizedParse)\.'
if [ $quick = 0 ]; then
  targets="$targets attn-kvcache-tests attn-diskcache-tests attn-convert-tests"
  tests=""
fi
ATTN_BUILD="$ATTN_FUZZ_BUILD" \
  ATTN_CMAKE_ARGS="${ATTN_CMAKE_ARGS:-} -DATTN_SANITIZE=ON -DATTN_FUZZ=ON" \
  bash -c "source '$ATTN_ROOT/scripts/common.sh' && attn_install_packages && \
           attn_configure && cmake --build '$ATTN_FUZZ_BUILD' --target \
           $targets -- ${ATTN_NINJA_ARGS:-}"
# LeakSanitizer stays on for the tests; JIT code is not instrumented.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$ATTN_FUZZ_BUILD"
set +e
if [ $quick = 1 ]; then
  ctest --output-on-failure -j "$(nproc)" -R "$tests" | tee ctest-sanitize.log
else
  ctest --output-on-failure -j "$(nproc)" -L 'unit|kvcache|convert' |
    tee ctest-sanitize.log
fi
status=${PIPESTATUS[0]}
set -e
passed=$(grep -cE "Test +#[0-9]+: .* Passed" ctest-sanitize.log || true)
failed=$(grep -cE "Test +#[0-9]+: .*(\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout|Not Run)" ctest-sanitize.log || true)
if [ "$fuzz_seconds" = 0 ]; then
  # (libFuzzer's -max_total_time=0 would fuzz forever)
  echo "attn sanitize: fuzz phase skipped (FUZZ_SECONDS 0)"
  echo "attn sanitize: $passed passed, $failed failed"
  exit "$status"
fi
fuzz=1
"$ATTN_ROOT/scripts/fuzz.sh" "$fuzz_seconds" || { status=1; fuzz=0; }
echo "attn sanitize: $((passed + fuzz)) passed, $((failed + 1 - fuzz)) failed"
exit "$status"
