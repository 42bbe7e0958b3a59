// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Seed 004's MultiHeadAttentionAlt: self-attention, one combined QKV
// weight [(Hq + 2·Hkv)·D, E] in nn.Linear layout, biases, causal.
// CHECK-LABEL: func @seed004
// CHECK: attn.multi_head_attention %{{.*}} qkv_weight(%{{.*}} : tensor<2304x768xf32>) qkv_bias(%{{.*}} : tensor<2304xf32>) out_weight(%{{.*}} : tensor<768x768xf32>) out_bias(%{{.*}} : tensor<768xf32>) {mask = #attn.mask<causal = true>, num_heads = 12 : i64} : tensor<8x1024x768xf32> -> tensor<8x1024x768xf32>
func.func @seed004(%x: tensor<8x1024x768xf32>, %w: tensor<2304x768xf32>,
                   %b: tensor<2304xf32>, %wo: tensor<768x768xf32>,
                   %bo: tensor<768xf32>) -> tensor<8x1024x768xf32> {
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<2304x768xf32>)
      qkv_bias(%b : tensor<2304xf32>) out_weight(%wo : tensor<768x768xf32>)
      out_bias(%bo : tensor<768xf32>)
      {num_heads = 12, mask = #attn.mask<causal = true>}
      : tensor<8x1024x768xf32> -> tensor<8x1024x768xf32>
  return %o : tensor<8x1024x768xf32>
}

// Cross-attention with separate weights, GQA 4:1, Dv != D, E_out != E, a
// padding mask, ragged lengths, dropout and the weights result.
// CHECK-LABEL: func @cross_gqa
// CHECK: attn.multi_head_attention %{{.*}} kv(%{{.*}}, %{{.*}} : tensor<2x37x24xbf16>, tensor<2x37x20xbf16>) qkv_weights(%{{.*}}, %{{.*}}, %{{.*}} : tensor<320x96xbf16>, tensor<80x24xbf16>, tensor<32x20xbf16>) qkv_biases(%{{.*}}, %{{.*}}, %{{.*}} : tensor<320xbf16>, tensor<80xbf16>, tensor<32xbf16>) out_weight(%{{.*}} : tensor<50x128xbf16>) bool_mask(%{{.*}} : tensor<2x1x1x37xi1>) kv_lengths(%{{.*}} : tensor<2xi32>) dropout(%{{.*}} : tensor<2xi64>) {dropout_p = 1.000000e-01 : f64, num_heads = 8 : i64, num_kv_heads = 2 : i64, scale = 2.500000e-01 : f32} : tensor<2x5x96xbf16> -> tensor<2x5x50xbf16>, tensor<2x8x5x37xbf16>
func.func @cross_gqa(%q: tensor<2x5x96xbf16>, %k: tensor<2x37x24xbf16>,
                     %v: tensor<2x37x20xbf16>, %wq: tensor<320x96xbf16>,
                     %wk: tensor<80x24xbf16>, %wv: tensor<32x20xbf16>,
                     %bq: tensor<320xbf16>, %bk: tensor<80xbf16>,
                     %bv: tensor<32xbf16>, %wo: tensor<50x128xbf16>,
                     %m: tensor<2x1x1x37xi1>, %len: tensor<2xi32>,
                     %st: tensor<2xi64>)
    -> (tensor<2x5x50xbf16>, tensor<2x8x5x37xbf16>) {
  %o, %w = attn.multi_head_attention %q
      kv(%k, %v : tensor<2x37x24xbf16>, tensor<2x37x20xbf16>)
      qkv_weights(%wq, %wk, %wv : tensor<320x96xbf16>, tensor<80x24xbf16>,
                  tensor<32x20xbf16>)
      qkv_biases(%bq, %bk, %bv : tensor<320xbf16>, tensor<80xbf16>,
                 tensor<32xbf16>)
      out_weight(%wo : tensor<50x128xbf16>)
      bool_mask(%m : tensor<2x1x1x37xi1>) kv_lengths(%len : tensor<2xi32>)
      dropout(%st : tensor<2xi64>)
      {num_heads = 8, num_kv_heads = 2, scale = 0.25 : f32, dropout_p = 0.1}
      : tensor<2x5x96xbf16> -> tensor<2x5x50xbf16>, tensor<2x8x5x37xbf16>
  return %o, %w : tensor<2x5x50xbf16>, tensor<2x8x5x37xbf16>
}

// MQA with run-time batch and sequence lengths, segment ids, no biases.
// CHECK-LABEL: func @mqa_dynamic
// CHECK: attn.multi_head_attention %{{.*}} qkv_weight(%{{.*}} : tensor<240x96xf16>) out_weight(%{{.*}} : tensor<96x160xf16>) segment_ids(%{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<?x?xi32>) {num_heads = 4 : i64, num_kv_heads = 1 : i64} : tensor<?x?x96xf16> -> tensor<?x?x96xf16>
func.func @mqa_dynamic(%x: tensor<?x?x96xf16>, %w: tensor<240x96xf16>,
                       %wo: tensor<96x160xf16>, %qs: tensor<?x?xi32>,
                       %ks: tensor<?x?xi32>) -> tensor<?x?x96xf16> {
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<240x96xf16>)
      out_weight(%wo : tensor<96x160xf16>)
      segment_ids(%qs, %ks : tensor<?x?xi32>, tensor<?x?xi32>)
      {num_heads = 4, num_kv_heads = 1}
      : tensor<?x?x96xf16> -> tensor<?x?x96xf16>
  return %o : tensor<?x?x96xf16>
}
