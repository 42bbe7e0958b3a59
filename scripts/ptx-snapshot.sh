#!/usr/bin/env bash
# Dumps the IR and PTX of every GPU lit test, gpu-probe case, attn-run shape
# and hand-written test kernel into DIR (see ptx-snapshot.py), so that a
# change meant to keep the generated code is checked by one diff:
#   scripts/ptx-snapshot.sh /tmp/before; <change, rebuild>;
#   scripts/ptx-snapshot.sh /tmp/after; diff -r /tmp/before /tmp/after
# Builds nothing: build attn-opt, attn-run and attn-gpu-tests first.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
exec python3 "$(dirname "${BASH_SOURCE[0]}")/ptx-snapshot.py" "$1"
