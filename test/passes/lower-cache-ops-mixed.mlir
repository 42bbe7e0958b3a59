// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops{parallelism=2},canonicalize)' | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-to-cpu="vector-width=16 parallelism=2" | FileCheck %s --check-prefix=LLVM

// A mixed batch over a paged cache (GQA 4:1): one work-item loop of
// (B + ceil(T / 16)) slots per K/V head, each item placing itself by a scan
// of the offsets; sequences of at most 2 queries (8 / group) are decode
// items (in-place K/V reads, dot-product scores; 1 row per head for one
// query, 2 for two), longer ones prefill blocks of 16 queries (outer
// products over packed tiles). Packed rows are [T, Hq, D] views: row
// stride Hq * D.
// CHECK-LABEL: func @paged_mixed
// CHECK-DAG: %[[QO:.*]] = memref.dim %arg4, %c0 : memref<?xi32>
// CHECK-DAG: %[[B:.*]] = arith.subi %[[QO]], %c1
// CHECK-DAG: %[[T:.*]] = memref.dim %arg0, %c0 : memref<?x8x64xbf16>
// CHECK: %[[BLOCKS:.*]] = arith.ceildivsi %[[T]], %c16
// CHECK: %[[SLOTS:.*]] = arith.addi %[[B]], %[[BLOCKS]]
// CHECK: %[[ITEMS:.*]] = arith.muli %[[SLOTS]], %c2
// CHECK: scf.forall (%{{.*}}) in (%[[ITEMS]])
// CHECK: scf.for %{{.*}} = %c0 to %[[B]] step %c1 iter_args
// CHECK: memref.load %arg4
// CHECK: scf.if
// CHECK: scf.if
// CHECK: scf.if
// CHECK: memref.subview %arg0[{{.*}}] [{{.*}}, 1, 64] [1, 1, 1] : memref<?x8x64xbf16> to memref<?x64xbf16, strided<[512, 1], offset: ?>>
// CHECK: attn.tile_matmul {{.*}} {transpose_rhs} : memref<16x64xbf16
// CHECK: attn.tile_mask {{.*}} {mask = #attn.mask<causal = true>, rows_per_head = 1 : i64}
// CHECK: attn.tile_finalize {{.*}} lse(%{{.*}} : memref<?xf32, strided<[8], offset: ?>>)
// CHECK: } else {
// CHECK: attn.tile_mask {{.*}} {mask = #attn.mask<causal = true>, rows_per_head = 2 : i64}
// CHECK: attn.tile_finalize
// CHECK: } else {
// CHECK: attn.tile_pack {{.*}} {scale = 1.250000e-01 : f32, transpose}
// CHECK: attn.tile_mask {{.*}} {mask = #attn.mask<causal = true>, rows_per_head = 16 : i64}
// CHECK: attn.tile_finalize
// CHECK: } {attn.work_items}
// CHECK-NOT: attn.tile_combine
// LLVM: llvm.func @paged_mixed(
// LLVM: llvm.func @paged_mixed_work_items(
func.func @paged_mixed(%q: memref<?x8x64xbf16>, %kc: memref<?x16x2x64xbf16>,
                       %vc: memref<?x16x2x64xbf16>, %len: memref<?xi32>,
                       %qo: memref<?xi32>, %bt: memref<?x?xi32>,
                       %o: memref<?x8x64xbf16>, %lse: memref<?x8xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) outs(%o, %lse : memref<?x8xf32>)
      {mask = #attn.mask<causal = true>}
      : memref<?x8x64xbf16>, memref<?x16x2x64xbf16>, memref<?x16x2x64xbf16>,
        memref<?xi32> -> memref<?x8x64xbf16>
  return
}

// -----

// Static sizes over a contiguous cache, MHA with an odd head dim: decode
// items hold up to 8 queries, prefill blocks 64; 3 + ceil(9 / 64) = 4
// slots per head, 2 heads.
// CHECK-LABEL: func @contiguous_static
// CHECK: scf.forall (%{{.*}}) in (8)
// CHECK: rows_per_head = 1 : i64
// CHECK: rows_per_head = 8 : i64
// CHECK: rows_per_head = 64 : i64
// LLVM: llvm.func @contiguous_static_work_items(
func.func @contiguous_static(%q: memref<9x2x40xf32>, %kc: memref<3x2x64x40xf32>,
                             %vc: memref<3x2x64x40xf32>, %len: memref<3xi32>,
                             %qo: memref<4xi32>, %o: memref<9x2x40xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<4xi32>) outs(%o)
      {mask = #attn.mask<causal = true>}
      : memref<9x2x40xf32>, memref<3x2x64x40xf32>, memref<3x2x64x40xf32>,
        memref<3xi32> -> memref<9x2x40xf32>
  return
}
