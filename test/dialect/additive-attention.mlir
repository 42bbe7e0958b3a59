// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Additive (Bahdanau) attention, seed 002's AdditiveAttention: nn.Linear
// weights [out, in], the bias inside the tanh, the score projection's bias.

// CHECK-LABEL: func @seed_decoder_step
// CHECK: = attn.additive_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<256xf32>) score_bias(%{{.*}} : tensor<1xf32>) : tensor<8x1x256xf32>, tensor<8x50x256xf32>, tensor<8x50x256xf32>, tensor<256x256xf32>, tensor<256x256xf32>, tensor<1x256xf32> -> tensor<8x1x256xf32>, tensor<8x1x50xf32>
func.func @seed_decoder_step(%q: tensor<8x1x256xf32>, %k: tensor<8x50x256xf32>,
                             %v: tensor<8x50x256xf32>, %wq: tensor<256x256xf32>,
                             %wk: tensor<256x256xf32>, %ws: tensor<1x256xf32>,
                             %bias: tensor<256xf32>, %sb: tensor<1xf32>)
    -> (tensor<8x1x256xf32>, tensor<8x1x50xf32>) {
  %o, %w = attn.additive_attention %q, %k, %v, %wq, %wk, %ws
      bias(%bias : tensor<256xf32>) score_bias(%sb : tensor<1xf32>)
      : tensor<8x1x256xf32>, tensor<8x50x256xf32>, tensor<8x50x256xf32>,
        tensor<256x256xf32>, tensor<256x256xf32>, tensor<1x256xf32>
      -> tensor<8x1x256xf32>, tensor<8x1x50xf32>
  return %o, %w : tensor<8x1x256xf32>, tensor<8x1x50xf32>
}

// Independent H, Dq, Dk, Dv; run-time batch, Sq and Skv; ragged lengths and
// a broadcast boolean mask; no weights result.
// CHECK-LABEL: func @dynamic_masked
// CHECK: attn.additive_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} kv_lengths(%{{.*}} : tensor<?xi32>) bool_mask(%{{.*}} : tensor<?x1x?xi1>) : tensor<?x?x24xbf16>, tensor<?x?x40xbf16>, tensor<?x?x12xbf16>, tensor<37x24xbf16>, tensor<37x40xbf16>, tensor<1x37xbf16> -> tensor<?x?x12xbf16>
// CHECK-NOT: tensor<?x?x?xbf16>
func.func @dynamic_masked(%q: tensor<?x?x24xbf16>, %k: tensor<?x?x40xbf16>,
                          %v: tensor<?x?x12xbf16>, %wq: tensor<37x24xbf16>,
                          %wk: tensor<37x40xbf16>, %ws: tensor<1x37xbf16>,
                          %len: tensor<?xi32>, %m: tensor<?x1x?xi1>)
    -> tensor<?x?x12xbf16> {
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws
      kv_lengths(%len : tensor<?xi32>) bool_mask(%m : tensor<?x1x?xi1>)
      : tensor<?x?x24xbf16>, tensor<?x?x40xbf16>, tensor<?x?x12xbf16>,
        tensor<37x24xbf16>, tensor<37x40xbf16>, tensor<1x37xbf16>
      -> tensor<?x?x12xbf16>
  return %o : tensor<?x?x12xbf16>
}
