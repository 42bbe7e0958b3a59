#!/usr/bin/env bash
# The main job: compile attention specs with attn-opt, JIT-run and check
# them on the CPU with attn-run, then run an autoregressive decode loop over
# a paged GQA KV cache. Exits non-zero if any check fails.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
attn_build
bin="$ATTN_BUILD/bin"
cd "$ATTN_ROOT"

echo "== attn-opt: examples/gqa_causal.mlir through attn-to-cpu"
"$bin/attn-opt" examples/gqa_causal.mlir --attn-to-cpu -o "$ATTN_BUILD/gqa_causal.llvm.mlir"
echo "   $(grep -c 'llvm.func @' "$ATTN_BUILD/gqa_causal.llvm.mlir") LLVM functions," \
     "$(grep -c 'llvm.intr.fmuladd' "$ATTN_BUILD/gqa_causal.llvm.mlir") vector FMAs" \
     "-> $ATTN_BUILD/gqa_causal.llvm.mlir"

echo "== attn-run: compile, JIT-run and check against the float64 reference"
for spec in \
    "gqa:b=1,hq=32,hkv=8,s=1024,d=128,causal" \
    "mha:b=2,hq=12,s=1000,d=64,causal,dtype=bf16" \
    "gqa:b=1,hq=28,hkv=4,s=777,d=80,window=256:0,causal,global=4,softcap=30" \
    examples/mha.mlir examples/mqa.mlir examples/dilated_bshd.mlir; do
  "$bin/attn-run" --check --bench --runs=3 "$spec"
done
# The float64 reference cannot evaluate score_mod/mask_mod regions (the unit
# tests check them against hand-written expectations): run and time only.
"$bin/attn-run" --bench --runs=3 examples/alibi_score_mod.mlir

echo "== attn-decode-loop: ragged batch, paged GQA cache, append + decode"
"$bin/attn-decode-loop" 64 8
