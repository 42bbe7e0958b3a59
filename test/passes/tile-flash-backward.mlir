// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash)' | FileCheck %s
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash,func.func(attn-mask-aware-iteration))' | FileCheck %s --check-prefix=MASK
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash,func.func(attn-mask-aware-iteration,attn-vectorize-tiles{vector-width=16}))' | FileCheck %s --check-prefix=VEC
// RUN: attn-opt %s --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=LLVM

// The backward of a GQA group (Hq 8, Hkv 2: 4 query heads per K/V head),
// 100 queries after 30 cached keys, 130 keys, causal. One work-item loop:
// 1 batch x 2 K/V heads x 1 block of all 130 keys (up to four 64-key
// tiles, padded to 144) = 2 K/V items (dK, dV), then 2 x 7 query blocks of
// 16 = 14 query items (dQ, over 64-key tiles).

// CHECK-LABEL: func.func @grad
// CHECK: scf.forall (%[[ITEM:.*]]) in (16)
// CHECK: %[[KV:.*]] = arith.cmpi slt, %[[ITEM]], %c2
// CHECK: scf.if %[[KV]] {
// K/V item: the tile's K and V packed once, dK/dV accumulated over the
// query blocks of the whole group.
// CHECK: attn.tile_pack %{{.*}} into %[[K:.*]] : memref<?x64xf32, {{.*}}> into memref<144x64xf32>
// CHECK: attn.tile_pack %{{.*}} into %[[V:.*]] : memref<?x64xf32, {{.*}}> into memref<144x64xf32>
// CHECK: scf.for
// CHECK: attn.tile_pack {{.*}} {scale = 1.250000e-01 : f32, transpose}
// CHECK: attn.tile_rowdot %[[DO:.*]], %[[O:.*]] into %[[D:.*]] :
// CHECK: attn.tile_matmul %[[K]], %[[QT:.*]] into %[[S:.*]] :
// CHECK: attn.tile_mask %[[S]] {{.*}} {mask = #attn.mask<causal = true, q_offset = 30>, rows_per_head = 16 : i64}
// CHECK: attn.tile_matmul %[[V]], %[[DOT:.*]] into %[[DP:.*]] :
// CHECK: attn.tile_softmax_grad %[[S]], %[[DP]], %[[LSE:.*]], %[[D]]
// CHECK: attn.tile_matmul %[[S]], %[[DO]] into %[[DV:.*]] {accumulate}
// CHECK: attn.tile_matmul %[[DP]], %[[QR:.*]] into %[[DK:.*]] {accumulate}
// CHECK: } {attn.q_tile_loop = 144 : i64}
// CHECK: attn.tile_finalize %[[DK]]
// CHECK: attn.tile_finalize %[[DV]]
// CHECK: } else {
// Query item: the dQ pass over the KV tiles, K packed scaled.
// CHECK: attn.tile_rowdot
// CHECK: scf.for
// CHECK: attn.tile_pack %{{.*}} into %[[KS:.*]] {scale = 1.250000e-01 : f32}
// CHECK: attn.tile_softmax_grad
// CHECK: attn.tile_matmul %{{.*}}, %[[KS]] into %[[DQ:.*]] {accumulate, transpose_lhs}
// CHECK: } {attn.kv_tile_loop = 64 : i64}
// CHECK: attn.tile_finalize
// CHECK: } {attn.work_items}

// Mask-aware iteration narrows both loops: the K/V item's query blocks start
// at the first query that sees the tile, the dQ pass stops at the last
// visible tile; masks run only on partial tiles.
// MASK: %[[J0:.*]] = arith.muli %{{.*}}, %c144
// MASK: %[[FROM:.*]] = arith.subi %[[J0]], %c30
// MASK: scf.for %{{.*}} = %[[LO:.*]] to %{{.*}}
// MASK: scf.if
// MASK-NEXT: attn.tile_mask
// MASK: } {attn.mask_aware, attn.q_tile_loop = 144 : i64}
// MASK: scf.if
// MASK-NEXT: attn.tile_mask
// MASK: } {attn.kv_tile_loop = 64 : i64, attn.mask_aware}

// VEC-NOT: attn.tile_
// VEC: math.exp %{{.*}} : vector<16xf32>
// VEC: vector.reduction <add>

// LLVM: llvm.func @grad
// LLVM-NOT: attn.
func.func @grad(%q: tensor<1x8x100x64xf32>, %k: tensor<1x2x130x64xf32>,
                %v: tensor<1x2x130x64xf32>, %o: tensor<1x8x100x64xf32>,
                %do: tensor<1x8x100x64xf32>, %lse: tensor<1x8x100xf32>)
    -> (tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      {mask = #attn.mask<causal = true, q_offset = 30>}
      : tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>,
        tensor<1x8x100x64xf32>, tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
      -> tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>
  return %dq, %dk, %dv : tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>
}
