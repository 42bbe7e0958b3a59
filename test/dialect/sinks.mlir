// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Attention sinks: one f32 logit per query head, on both attention ops.

// CHECK-LABEL: func @gqa_window_sinks
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} sinks(%{{.*}} : tensor<8xf32>) {mask = #attn.mask<causal = true, window_left = 31>} : {{.*}} -> tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
func.func @gqa_window_sinks(%q: tensor<1x8x100x64xf32>, %k: tensor<1x2x100x64xf32>,
                            %v: tensor<1x2x100x64xf32>, %s: tensor<8xf32>)
    -> (tensor<1x8x100x64xf32>, tensor<1x8x100xf32>) {
  %o, %l = attn.attention %q, %k, %v sinks(%s : tensor<8xf32>)
      {mask = #attn.mask<causal = true, window_left = 31>}
      : tensor<1x8x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>
      -> tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
  return %o, %l : tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
}

// CHECK-LABEL: func @paged_decode_sinks
// CHECK: attn.cache_attention %{{.*}}, %{{.*}}, %{{.*}} lengths(%{{.*}}) block_table(%{{.*}} : memref<4x8xi32>) sinks(%{{.*}} : memref<8xf32>) outs(%{{.*}}, %{{.*}} : memref<4x8x1xf32>)
func.func @paged_decode_sinks(%q: memref<4x8x1x64xbf16>, %kc: memref<32x16x2x64xbf16>,
                              %vc: memref<32x16x2x64xbf16>, %len: memref<4xi32>,
                              %bt: memref<4x8xi32>, %s: memref<8xf32>,
                              %o: memref<4x8x1x64xbf16>, %l: memref<4x8x1xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<4x8xi32>)
      sinks(%s : memref<8xf32>) outs(%o, %l : memref<4x8x1xf32>)
      {mask = #attn.mask<causal = true, window_left = 127>}
      : memref<4x8x1x64xbf16>, memref<32x16x2x64xbf16>, memref<32x16x2x64xbf16>,
        memref<4xi32> -> memref<4x8x1x64xbf16>
  return
}
