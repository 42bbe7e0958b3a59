#!/usr/bin/env bash
# The main job: compile the example GQA spec through attn's pipeline.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
attn_build
example="$ATTN_ROOT/examples/gqa_causal.mlir"
echo "== attn-opt --canonicalize $example"
"$ATTN_BUILD/bin/attn-opt" --canonicalize "$example"
