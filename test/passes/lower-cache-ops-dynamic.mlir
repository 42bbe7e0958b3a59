// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops{parallelism=2})' | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-to-cpu="vector-width=16 parallelism=2" | FileCheck %s --check-prefix=LLVM

// Decode over a paged cache with a run-time batch, page count and
// block-table width: the KV capacity is width × page size, the split
// count comes from the cost model in the kernel, and the block-table
// clamps use the table's run-time width. Sq = 1 stays static (decode).
// CHECK-LABEL: func @paged_decode
// CHECK-DAG: %[[B:.*]] = memref.dim %{{.*}}, %c0 : memref<?x32x1x128xbf16>
// CHECK-DAG: %[[W:.*]] = memref.dim %{{.*}}, %c1 : memref<?x?xi32>
// CHECK: %[[CAP:.*]] = arith.muli %[[W]], %c16
// CHECK: arith.divui %[[CAP]], %c512
// CHECK: %[[SPLITS:.*]] = arith.select
// CHECK: %[[ITEMS:.*]] = arith.muli %{{.*}}, %[[SPLITS]]
// CHECK: scf.forall (%{{.*}}) in (%[[ITEMS]])
// CHECK: %[[LASTSLOT:.*]] = arith.subi %[[W]], %c1
// CHECK: arith.minsi %{{.*}}, %[[LASTSLOT]]
// CHECK: attn.tile_combine
// CHECK: } {attn.work_items}
// LLVM: llvm.func @paged_decode(
// LLVM: llvm.func @paged_decode_scratch_bytes(
// LLVM: llvm.func @paged_decode_work_items(
func.func @paged_decode(%q: memref<?x32x1x128xbf16>, %kc: memref<?x16x8x128xbf16>,
                        %vc: memref<?x16x8x128xbf16>, %len: memref<?xi32>,
                        %bt: memref<?x?xi32>, %o: memref<?x32x1x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x?xi32>) outs(%o)
      {mask = #attn.mask<causal = true>}
      : memref<?x32x1x128xbf16>, memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>,
        memref<?xi32> -> memref<?x32x1x128xbf16>
  return
}

// -----

// Chunked prefill into a contiguous cache: a run-time chunk length Snew
// gives a run-time query-block count; queries sit at the end of each
// sequence (position = length - Snew + q).
// CHECK-LABEL: func @contiguous_chunk
// CHECK-DAG: %[[SQ:.*]] = memref.dim %{{.*}}, %c2 : memref<?x8x?x64xf32>
// CHECK: arith.ceildivsi %[[SQ]], %c16
// CHECK: scf.forall
// CHECK: arith.subi %{{.*}}, %[[SQ]]
// CHECK: } {attn.work_items}
func.func @contiguous_chunk(%q: memref<?x8x?x64xf32>, %kc: memref<?x2x?x64xf32>,
                            %vc: memref<?x2x?x64xf32>, %len: memref<?xi32>,
                            %o: memref<?x8x?x64xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o)
      {mask = #attn.mask<causal = true>}
      : memref<?x8x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>,
        memref<?xi32> -> memref<?x8x?x64xf32>
  return
}

// -----

// Append with a run-time batch and chunk length: one item per (sequence,
// K/V head), rows up to the chunk length, never past width × page size.
// CHECK-LABEL: func @paged_append
// CHECK-DAG: %[[B:.*]] = memref.dim %{{.*}}, %c0 : memref<?x8x?x128xf32>
// CHECK-DAG: %[[SNEW:.*]] = memref.dim %{{.*}}, %c2 : memref<?x8x?x128xf32>
// CHECK-DAG: %[[W:.*]] = memref.dim %{{.*}}, %c1 : memref<?x?xi32>
// CHECK: %[[CAP:.*]] = arith.muli %[[W]], %c16
// CHECK: %[[ITEMS:.*]] = arith.muli %[[B]], %c8
// CHECK: scf.forall (%{{.*}}) in (%[[ITEMS]])
// CHECK: arith.minsi %{{.*}}, %[[SNEW]]
// CHECK: arith.subi %[[CAP]], %{{.*}}
// CHECK: } {attn.work_items}
// LLVM: llvm.func @paged_append(
// LLVM-NOT: llvm.func @paged_append_scratch_bytes(
// LLVM: llvm.func @paged_append_work_items(
func.func @paged_append(%k: memref<?x8x?x128xf32>, %v: memref<?x8x?x128xf32>,
                        %kc: memref<?x16x8x128xbf16>, %vc: memref<?x16x8x128xbf16>,
                        %len: memref<?xi32>, %n: memref<?xi32>, %bt: memref<?x?xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>)
      : memref<?x8x?x128xf32>, memref<?x8x?x128xf32>
        into memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>, memref<?xi32>
  return
}
