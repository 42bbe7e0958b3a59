// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2},func.func(attn-mask-aware-iteration,canonicalize))' | FileCheck %s

// Causal: the KV loop stops after the tile holding the block's last query
// (min with the tile count), and tile_mask only runs on partial tiles.
// CHECK-LABEL: func @causal
// CHECK: %[[Q0:.*]] = arith.muli %{{.*}}, %c64 : index
// CHECK: %[[QHI:.*]] = arith.addi %[[Q0]], %c63 : index
// CHECK: %[[T:.*]] = arith.divui %[[QHI]], %c64 : index
// CHECK: %[[T1:.*]] = arith.addi %[[T]], %c1 : index
// CHECK: %[[HI:.*]] = arith.minsi %[[T1]], %c16 : index
// CHECK: %[[HI2:.*]] = arith.maxsi %[[HI]], %c0 : index
// CHECK: scf.for %{{.*}} = %c0 to %[[HI2]] step %c1 {
// CHECK: attn.tile_matmul
// CHECK: arith.cmpi sle
// CHECK: %[[PARTIAL:.*]] = arith.xori
// CHECK: scf.if %[[PARTIAL]] {
// CHECK-NEXT: attn.tile_mask
// CHECK-NEXT: {{^ *}}}
// CHECK-NEXT: attn.tile_online_softmax
// CHECK: {attn.kv_tile_loop = 64 : i64, attn.mask_aware}
func.func @causal(%q: tensor<1x4x1000x64xf32>, %k: tensor<1x4x1000x64xf32>,
                  %v: tensor<1x4x1000x64xf32>) -> tensor<1x4x1000x64xf32> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<1x4x1000x64xf32>, tensor<1x4x1000x64xf32>, tensor<1x4x1000x64xf32> -> tensor<1x4x1000x64xf32>
  return %o : tensor<1x4x1000x64xf32>
}

// -----

// A look-back window also raises the first tile: tiles wholly before
// qLo - window_left are never visited.
// CHECK-LABEL: func @window
// CHECK: %[[BACK:.*]] = arith.subi %{{.*}}, %c256 : index
// CHECK: %[[FIRST:.*]] = arith.maxsi %[[BACK]], %c0 : index
// CHECK: %[[LO0:.*]] = arith.divui %[[FIRST]], %c64 : index
// CHECK: %[[LO:.*]] = arith.maxsi %[[LO0]], %c0 : index
// CHECK: scf.for %{{.*}} = %[[LO]] to
// (the scf.if around Q·Kᵀ picks in-place K on full tiles)
// CHECK: attn.tile_matmul
// CHECK: scf.if
// CHECK-NEXT: attn.tile_mask {{.*}}window_left = 256
func.func @window(%q: tensor<1x4x1000x64xf32>, %k: tensor<1x4x1000x64xf32>,
                  %v: tensor<1x4x1000x64xf32>) -> tensor<1x4x1000x64xf32> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, window_left = 256>}
      : tensor<1x4x1000x64xf32>, tensor<1x4x1000x64xf32>, tensor<1x4x1000x64xf32> -> tensor<1x4x1000x64xf32>
  return %o : tensor<1x4x1000x64xf32>
}

// -----

// Global tokens below the window get a KV loop of their own before the
// windowed one.
// CHECK-LABEL: func @global_tokens
// CHECK: scf.for
// CHECK: attn.tile_mask
// CHECK: {attn.kv_tile_loop = 64 : i64, attn.mask_aware}
// CHECK: scf.for
// CHECK: attn.tile_mask
// CHECK: {attn.kv_tile_loop = 64 : i64, attn.mask_aware}
func.func @global_tokens(%q: tensor<1x4x1000x64xf32>, %k: tensor<1x4x1000x64xf32>,
                         %v: tensor<1x4x1000x64xf32>) -> tensor<1x4x1000x64xf32> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, window_left = 128, global_tokens = 4>}
      : tensor<1x4x1000x64xf32>, tensor<1x4x1000x64xf32>, tensor<1x4x1000x64xf32> -> tensor<1x4x1000x64xf32>
  return %o : tensor<1x4x1000x64xf32>
}

// -----

// No structured mask: the loop keeps its bounds, and only the ragged tail
// tile (past kv_limit) is masked.
// CHECK-LABEL: func @unmasked
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK: %[[END:.*]] = arith.addi %{{.*}}, %c64 : index
// CHECK: %[[PARTIAL:.*]] = arith.cmpi sgt, %[[END]], %c100 : index
// CHECK-NEXT: scf.if %[[PARTIAL]] {
// CHECK-NEXT: attn.tile_mask
func.func @unmasked(%q: tensor<1x4x100x64xf32>, %k: tensor<1x4x100x64xf32>,
                    %v: tensor<1x4x100x64xf32>) -> tensor<1x4x100x64xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32> -> tensor<1x4x100x64xf32>
  return %o : tensor<1x4x100x64xf32>
}
