#!/usr/bin/env bash
# Runs every test (lit + GoogleTest, through ctest) and ends with a count.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
attn_build
cd "$ATTN_BUILD"
set +e
ctest --output-on-failure -j "$(nproc)" "$@" | tee ctest.log
status=${PIPESTATUS[0]}
set -e
passed=$(grep -cE "Test +#[0-9]+: .* Passed" ctest.log || true)
# ctest glues the status to the dots ("....***Failed"): no space before it.
failed=$(grep -cE "Test +#[0-9]+: .*(\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout|Not Run)" ctest.log || true)
skipped=$(grep -cE "Test +#[0-9]+: .*\*\*\*Skipped" ctest.log || true)
echo "attn tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
