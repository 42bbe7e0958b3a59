// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-tile-flash)'

// KV tiles are whole 16-key vectors and follow the KV block.
func.func @kv_block_step(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x96x16xf32>, %v: tensor<1x2x96x16xf32>, %n: tensor<1x1x1xi32>, %i: tensor<1x1x1x4xi32>) -> tensor<1x2x64x16xf32> {
  // expected-error @+1 {{attn-tile-flash: the KV block size (24) must be a multiple of 16 (the KV tile width step)}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x1x1xi32>, tensor<1x1x1x4xi32>) block_size [64, 24] : tensor<1x2x64x16xf32>, tensor<1x2x96x16xf32>, tensor<1x2x96x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}

// -----

func.func @dynamic_heads(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x96x16xf32>, %v: tensor<1x2x96x16xf32>, %n: tensor<1x?x1xi32>, %i: tensor<1x?x1x6xi32>) -> tensor<1x2x64x16xf32> {
  // expected-error @+1 {{attn-tile-flash: the block mask's head dim must be static (1 or Hq)}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x?x1xi32>, tensor<1x?x1x6xi32>) block_size [64, 16] : tensor<1x2x64x16xf32>, tensor<1x2x96x16xf32>, tensor<1x2x96x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}
