#!/usr/bin/env bash
# Every example parses, verifies, and prints to a fixed point in both the
# custom and the generic form.
set -uo pipefail
opt="$1"; dir="$2"; status=0; n=0
for f in "$dir"/*.mlir; do
  n=$((n + 1))
  a=$("$opt" "$f") || { echo "FAIL parse: $f"; status=1; continue; }
  b=$(printf '%s\n' "$a" | "$opt") || { echo "FAIL reparse: $f"; status=1; continue; }
  g=$("$opt" --mlir-print-op-generic "$f" | "$opt") ||
    { echo "FAIL generic: $f"; status=1; continue; }
  [ "$a" == "$b" ] || { echo "FAIL not a fixed point: $f"; status=1; }
  [ "$a" == "$g" ] || { echo "FAIL generic form differs: $f"; status=1; }
done
[ "$n" -ge 6 ] || { echo "FAIL: expected at least 6 examples, found $n"; status=1; }
echo "$n examples round-tripped"
exit $status
