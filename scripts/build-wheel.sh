#!/usr/bin/env bash
# Builds the Python wheel dist/attn-0.1.0-py3-none-linux_x86_64.whl from the
# libattn.so of $ATTN_BUILD (default build/; ATTN_BUILD=build-static gives
# the self-contained library the GPU machine needs), with Debian's
# python3-build / python3-wheel, offline (--no-isolation).
#
#   scripts/build-wheel.sh [OUT_DIR]        # default: dist/
#   python3 -m venv --system-site-packages venv
#   venv/bin/pip install --no-index --no-deps dist/attn-*.whl
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PYTHON="${ATTN_PYTHON:-/usr/bin/python3}"
OUT="$(realpath -m "${1:-$ATTN_ROOT/dist}")"
lib="$ATTN_BUILD/lib/libattn.so"
attn_install_packages
attn_configure
cmake --build "$ATTN_BUILD" --target attn_c -- ${ATTN_NINJA_ARGS:-} > /dev/null
stage="$(mktemp -d /tmp/attn-wheel.XXXXXX)"
trap 'rm -rf "$stage"' EXIT
cp -r "$ATTN_ROOT/python/attn" "$ATTN_ROOT/python/pyproject.toml" \
  "$ATTN_ROOT/python/setup.py" "$ATTN_ROOT/python/README.md" "$stage/"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
cp -L "$lib" "$stage/attn/libattn.so"
mkdir -p "$OUT"
(cd "$stage" && "$PYTHON" -m build --wheel --no-isolation --outdir "$OUT" . \
  > "$stage/build.log" 2>&1) || { cat "$stage/build.log"; exit 1; }
ls -l "$OUT"/attn-*.whl
