// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2})' | FileCheck %s --check-prefix=FLASH
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2},func.func(attn-vectorize-tiles{vector-width=16}))' | FileCheck %s --check-prefix=VEC
// RUN: attn-opt %s -split-input-file --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=CPU

// Dropout: seed and offset are loaded once per work item; every KV tile's
// probabilities are dropped after the online softmax's exp (which has
// already added the undropped row sums) and before acc += P·V.
// FLASH-LABEL: func @gqa_dropout
// FLASH: %[[STATE:.*]] = bufferization.to_buffer %arg3 read_only : tensor<2xi64> to memref<2xi64, strided<[?], offset: ?>>
// FLASH: scf.forall
// FLASH: %[[SEED:.*]] = memref.load %[[STATE]][%{{.*}}] : memref<2xi64
// FLASH: %[[OFF:.*]] = memref.load %[[STATE]][%{{.*}}] : memref<2xi64
// FLASH: scf.for
// FLASH: attn.tile_mask
// FLASH: attn.tile_online_softmax %[[S:[^,]*]],
// FLASH: attn.tile_dropout %[[S]] seed(%[[SEED]], %[[OFF]]) at({{.*}}) {num_heads = 8 : i64, p = 2.500000e-01 : f64, rows_per_head = 16 : i64} : memref<64x64xf32>
// FLASH: scf.if
// FLASH: attn.tile_matmul {{.*}} {accumulate, transpose_lhs}
// FLASH: } else {
// FLASH: attn.tile_matmul %[[S]], {{.*}} {accumulate, transpose_lhs}
// Philox4x32-10 on i32 lanes: ten rounds of two extended products each,
// then the keep bit against floor(0.25 * 2^32) and the 1/(1-p) scale.
// VEC-LABEL: func @gqa_dropout
// VEC-NOT: attn.tile_dropout
// VEC-COUNT-20: arith.mului_extended %{{.*}}, %{{.*}} : vector<16xi32>
// VEC: %[[KEEP:.*]] = arith.cmpi uge, %{{.*}}, %{{.*}} : vector<16xi32>
// VEC: %[[SCALED:.*]] = arith.mulf %{{.*}}, %{{.*}} : vector<16xf32>
// VEC: arith.select %[[KEEP]], %[[SCALED]], %{{.*}} : vector<16xi1>, vector<16xf32>
// CPU-LABEL: llvm.func @gqa_dropout
// CPU-NOT: attn.
// CPU: llvm.return
func.func @gqa_dropout(%q: tensor<1x8x100x64xf32>, %k: tensor<1x2x100x64xf32>,
                       %v: tensor<1x2x100x64xf32>, %r: tensor<2xi64>)
    -> (tensor<1x8x100x64xf32>, tensor<1x8x100xf32>) {
  %o, %l = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>)
      {dropout_p = 0.25 : f64, mask = #attn.mask<causal = true>}
      : tensor<1x8x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>
      -> tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
  return %o, %l : tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
}

// -----

// p = 0 keeps every weight: the kernel is the one without dropout (the
// state operand is taken but never read).
// FLASH-LABEL: func @p_zero
// FLASH-NOT: memref.load
// FLASH-NOT: attn.tile_dropout
// FLASH: return
// VEC-LABEL: func @p_zero
// VEC-NOT: arith.mului_extended
// VEC: return
// CPU-LABEL: llvm.func @p_zero
// CPU: llvm.return
func.func @p_zero(%q: tensor<1x4x32x64xbf16>, %k: tensor<1x4x32x64xbf16>,
                  %v: tensor<1x4x32x64xbf16>, %r: tensor<2xi64>)
    -> tensor<1x4x32x64xbf16> {
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>)
      {dropout_p = 0.0 : f64}
      : tensor<1x4x32x64xbf16>, tensor<1x4x32x64xbf16>, tensor<1x4x32x64xbf16>
      -> tensor<1x4x32x64xbf16>
  return %o : tensor<1x4x32x64xbf16>
}
