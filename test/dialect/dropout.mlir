// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Dropout on the attention weights: the probability as an f64 attribute,
// seed and offset as a run-time tensor<2xi64> operand.

// CHECK-LABEL: func @gqa_causal_dropout
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} kv_lengths(%{{.*}} : tensor<2xi32>) dropout(%{{.*}} : tensor<2xi64>) {dropout_p = 1.000000e-01 : f64, mask = #attn.mask<causal = true>} : {{.*}} -> tensor<2x8x100x64xf32>, tensor<2x8x100xf32>
func.func @gqa_causal_dropout(%q: tensor<2x8x100x64xf32>, %k: tensor<2x2x100x64xf32>,
                              %v: tensor<2x2x100x64xf32>, %len: tensor<2xi32>,
                              %rng: tensor<2xi64>)
    -> (tensor<2x8x100x64xf32>, tensor<2x8x100xf32>) {
  %o, %l = attn.attention %q, %k, %v kv_lengths(%len : tensor<2xi32>)
      dropout(%rng : tensor<2xi64>)
      {dropout_p = 0.1 : f64, mask = #attn.mask<causal = true>}
      : tensor<2x8x100x64xf32>, tensor<2x2x100x64xf32>, tensor<2x2x100x64xf32>
      -> tensor<2x8x100x64xf32>, tensor<2x8x100xf32>
  return %o, %l : tensor<2x8x100x64xf32>, tensor<2x8x100xf32>
}

// p = 0 is valid (every weight kept), with sinks before the dropout state.
// CHECK-LABEL: func @dynamic_sinks_p0
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} sinks(%{{.*}} : tensor<4xf32>) dropout(%{{.*}} : tensor<2xi64>) {dropout_p = 0.000000e+00 : f64} : tensor<?x4x?x32xbf16>
func.func @dynamic_sinks_p0(%q: tensor<?x4x?x32xbf16>, %k: tensor<?x4x?x32xbf16>,
                            %v: tensor<?x4x?x32xbf16>, %s: tensor<4xf32>,
                            %rng: tensor<2xi64>) -> tensor<?x4x?x32xbf16> {
  %o = attn.attention %q, %k, %v sinks(%s : tensor<4xf32>)
      dropout(%rng : tensor<2xi64>) {dropout_p = 0.0 : f64}
      : tensor<?x4x?x32xbf16>, tensor<?x4x?x32xbf16>, tensor<?x4x?x32xbf16>
      -> tensor<?x4x?x32xbf16>
  return %o : tensor<?x4x?x32xbf16>
}

// CHECK-LABEL: func @tile_dropout
// CHECK: attn.tile_dropout %{{.*}} seed(%{{.*}}, %{{.*}}) at(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {num_heads = 8 : i64, p = 5.000000e-01 : f64, rows_per_head = 4 : i64} : memref<64x16xf32>
func.func @tile_dropout(%p: memref<64x16xf32>, %seed: i64, %off: i64, %b: index,
                        %h: index, %q: index, %j: index) {
  attn.tile_dropout %p seed(%seed, %off) at(%b, %h, %q, %j)
      {p = 0.5 : f64, num_heads = 8 : i64, rows_per_head = 4 : i64}
      : memref<64x16xf32>
  return
}
