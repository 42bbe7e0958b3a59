#!/usr/bin/env bash
# What a user does: build the wheel (scripts/build-wheel.sh from BUILD's
# libattn.so), install it into a fresh venv offline, and run tests against
# the installed package from outside the source tree. Usage:
#   check_wheel.sh BUILD [TEST_FILE...]     # files of python/tests; default all
set -euo pipefail
build="$1"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${ATTN_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d /tmp/attn-wheel-check.XXXXXX)"
trap 'rm -rf "$work"' EXIT
ATTN_BUILD="$build" "$root/scripts/build-wheel.sh" "$work/dist" > /dev/null
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-index --no-deps "$work"/dist/attn-*.whl
mkdir -p "$work/python" "$work/examples"
cp -r "$root/python/tests" "$work/python/tests"
cp -r "$root/examples/python" "$work/examples/python"
cd "$work"
files=()
for f in "$@"; do files+=("python/tests/$f"); done
env -u ATTN_LIBRARY -u PYTHONPATH "$work/venv/bin/python" -c \
  'import attn, os; print("installed", attn.__file__, attn.__version__)'
env -u ATTN_LIBRARY -u PYTHONPATH "$work/venv/bin/python" -m pytest -q \
  -p no:cacheprovider "${files[@]:-python/tests}"
