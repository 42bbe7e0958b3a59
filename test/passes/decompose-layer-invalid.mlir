// RUN: attn-opt %s --attn-decompose-layer -verify-diagnostics

func.func @dynamic(%x: tensor<?x16x64xf32>, %w: tensor<192x64xf32>,
                   %wo: tensor<64x64xf32>) -> tensor<?x16x64xf32> {
  // expected-error @+1 {{attn-decompose-layer needs static shapes (got 'tensor<?x16x64xf32>')}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<192x64xf32>)
      out_weight(%wo : tensor<64x64xf32>) {num_heads = 4}
      : tensor<?x16x64xf32> -> tensor<?x16x64xf32>
  return %o : tensor<?x16x64xf32>
}
