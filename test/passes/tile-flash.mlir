// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2})' | FileCheck %s
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{tile-rows=16 tile-kv=32 parallelism=2})' | FileCheck %s --check-prefix=SMALL

// GQA 4:1, causal: one work item holds the 4 query heads of a K/V head, so
// each K/V tile serves the whole group; the online softmax rescales the
// accumulator before P·V accumulates into it. f32 K/V with whole-vector
// head dims are read in place on full tiles (no copy); the last, partial
// tile is packed (zero rows past the keys).
// CHECK-LABEL: func @gqa_causal
// CHECK-NOT: attn.attention
// CHECK: memref.alloc() : memref<1x8x100x64xf32>
// CHECK: scf.forall (%[[ITEM:.*]]) in (14)
// CHECK: memref.alloca_scope
// CHECK: %[[QT:.*]] = memref.alloca() : memref<64x64xf32>
// CHECK: %[[K:.*]] = memref.alloca() : memref<64x64xf32>
// CHECK: %[[V:.*]] = memref.alloca() : memref<64x64xf32>
// CHECK: %[[S:.*]] = memref.alloca() : memref<64x64xf32>
// CHECK: %[[ACC:.*]] = memref.alloca() : memref<64x64xf32>
// CHECK: scf.for
// CHECK: attn.tile_pack {{.*}} {scale = 1.250000e-01 : f32, transpose}
// CHECK: linalg.fill
// CHECK: scf.for
// CHECK: scf.if
// CHECK: %[[KROWS:.*]] = memref.subview %{{.*}} [1, 1, 64, 64] [1, 1, 1, 1] : memref<1x2x100x64xf32, {{.*}}> to memref<64x64xf32, strided<[?, 1], offset: ?>>
// CHECK: attn.tile_matmul %[[KROWS]], %[[QT]] into
// CHECK: } else {
// CHECK: attn.tile_pack {{.*}} into %[[K]] :
// CHECK: attn.tile_matmul %[[K]], %[[QT]] into %[[S]] :
// CHECK: attn.tile_mask %[[S]] {{.*}} {mask = #attn.mask<causal = true>, rows_per_head = 16 : i64}
// CHECK: attn.tile_online_softmax %[[S]], %[[ACC]]
// CHECK: scf.if
// CHECK: %[[VROWS:.*]] = memref.subview %{{.*}} [1, 1, 64, 64] [1, 1, 1, 1] : memref<1x2x100x64xf32, {{.*}}> to memref<64x64xf32, strided<[?, 1], offset: ?>>
// CHECK: attn.tile_matmul %{{.*}}, %[[VROWS]] into %[[ACC]] {accumulate, transpose_lhs}
// CHECK: } else {
// CHECK: attn.tile_pack {{.*}} into %[[V]] :
// CHECK: attn.tile_matmul %[[S]], %[[V]] into %[[ACC]] {accumulate, transpose_lhs}
// CHECK: } {attn.kv_tile_loop = 64 : i64}
// CHECK: attn.tile_finalize
// CHECK: } {attn.work_items}
// CHECK: bufferization.to_tensor
// SMALL-LABEL: func @gqa_causal
// SMALL: scf.forall (%{{.*}}) in (50)
// SMALL: attn.tile_mask {{.*}} rows_per_head = 4 : i64
// SMALL: } {attn.kv_tile_loop = 32 : i64}
func.func @gqa_causal(%q: tensor<1x8x100x64xf32>, %k: tensor<1x2x100x64xf32>,
                      %v: tensor<1x2x100x64xf32>) -> tensor<1x8x100x64xf32> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<1x8x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x8x100x64xf32>
  return %o : tensor<1x8x100x64xf32>
}

// -----

// Destination passing: a result that only feeds materialize_in_destination
// is written straight into the destination buffer (no allocation, no copy).
// CHECK-LABEL: func @in_place
// CHECK-NOT: memref.alloc()
// CHECK-NOT: materialize_in_destination
// CHECK: memref.subview %arg3
// CHECK: attn.tile_finalize {{.*}} lse(
func.func @in_place(%q: memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
                    %k: memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
                    %v: memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
                    %o: memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>>,
                    %l: memref<2x4x16xf32>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x4x16x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x4x16x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x4x16x64xbf16>
  %r, %lse = attn.attention %qt, %kt, %vt : tensor<2x4x16x64xbf16>, tensor<2x4x16x64xbf16>, tensor<2x4x16x64xbf16> -> tensor<2x4x16x64xbf16>, tensor<2x4x16xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x4x16x64xbf16>, memref<2x4x16x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  bufferization.materialize_in_destination %lse in restrict writable %l : (tensor<2x4x16xf32>, memref<2x4x16xf32>) -> ()
  return
}

// -----

// BSHD tensors are read through a transposed view; ragged lengths bound the
// KV loop per batch; soft-capping runs before the mask.
// CHECK-LABEL: func @bshd_ragged_softcap
// CHECK: memref.transpose {{.*}} (d0, d1, d2, d3) -> (d0, d2, d1, d3)
// CHECK: memref.load %{{.*}}[%{{.*}}] : memref<3xi32
// CHECK: arith.index_cast
// CHECK: attn.tile_matmul
// CHECK-NEXT: attn.tile_softcap %{{.*}} {cap = 3.000000e+01 : f32}
// CHECK-NEXT: attn.tile_mask
func.func @bshd_ragged_softcap(%q: tensor<3x9x4x80xf16>, %k: tensor<3x33x2x80xf16>,
                               %v: tensor<3x33x2x80xf16>, %len: tensor<3xi32>) -> tensor<3x9x4x80xf16> {
  %o = attn.attention %q, %k, %v kv_lengths(%len : tensor<3xi32>)
      {layout = #attn.layout<bshd>, softcap = 30.0 : f32}
      : tensor<3x9x4x80xf16>, tensor<3x33x2x80xf16>, tensor<3x33x2x80xf16> -> tensor<3x9x4x80xf16>
  return %o : tensor<3x9x4x80xf16>
}

// -----

// Custom modifiers are applied per score: the score_mod region is inlined
// before the structured mask, mask_mod/segment ids after it.
// CHECK-LABEL: func @custom
// CHECK: attn.tile_matmul
// CHECK-NOT: attn.yield
// CHECK: tensor.extract %{{.*}} : tensor<8xf32>
// CHECK: arith.addf
// CHECK: attn.tile_mask
// CHECK: arith.cmpi eq
// CHECK: arith.cmpi ule
// CHECK: arith.select
// CHECK: attn.tile_online_softmax
func.func @custom(%q: tensor<1x8x64x64xf32>, %k: tensor<1x8x64x64xf32>, %v: tensor<1x8x64x64xf32>,
                  %slopes: tensor<8xf32>, %qs: tensor<1x64xi32>, %ks: tensor<1x64xi32>) -> tensor<1x8x64x64xf32> {
  %o = attn.attention %q, %k, %v segment_ids(%qs, %ks : tensor<1x64xi32>, tensor<1x64xi32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %qi: index, %ki: index):
        %slope = tensor.extract %slopes[%h] : tensor<8xf32>
        %r = arith.addf %s, %slope : f32
        attn.yield %r : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %qi: index, %ki: index):
        %c = arith.cmpi ule, %ki, %qi : index
        attn.yield %c : i1
      }
      : tensor<1x8x64x64xf32>, tensor<1x8x64x64xf32>, tensor<1x8x64x64xf32> -> tensor<1x8x64x64xf32>
  return %o : tensor<1x8x64x64xf32>
}

// -----

// Decode-shaped attention (one query, one K/V head) would be one work item:
// the KV range is split so every core gets work, and the last split merges.
// CHECK-LABEL: func @decode_shaped
// CHECK: scf.forall (%{{.*}}) in (8)
// CHECK: memref.atomic_rmw addi
// CHECK: attn.tile_combine
// SMALL-LABEL: func @decode_shaped
// SMALL: scf.forall (%{{.*}}) in (8)
func.func @decode_shaped(%q: tensor<1x8x1x128xf32>, %k: tensor<1x1x8192x128xf32>,
                         %v: tensor<1x1x8192x128xf32>) -> tensor<1x8x1x128xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<1x8x1x128xf32>, tensor<1x1x8192x128xf32>, tensor<1x1x8192x128xf32> -> tensor<1x8x1x128xf32>
  return %o : tensor<1x8x1x128xf32>
}
