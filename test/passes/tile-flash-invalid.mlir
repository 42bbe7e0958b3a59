// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-tile-flash)'

// Head dims shape the tiles and the unrolled code: they must be static
// (batch and lengths may be run-time sizes, see tile-flash-dynamic.mlir).
func.func @dynamic_head_dim(%q: tensor<1x8x?x?xf32>, %k: tensor<1x8x?x?xf32>, %v: tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32> {
  // expected-error @+1 {{attn-tile-flash: the query head dim must be static (only batch, query and KV lengths may be run-time sizes)}}
  %o = attn.attention %q, %k, %v : tensor<1x8x?x?xf32>, tensor<1x8x?x?xf32>, tensor<1x8x?x64xf32> -> tensor<1x8x?x64xf32>
  return %o : tensor<1x8x?x64xf32>
}

// -----

func.func @dynamic_heads(%q: tensor<1x?x4x64xf32>, %k: tensor<1x?x4x64xf32>, %v: tensor<1x?x4x64xf32>) -> tensor<1x?x4x64xf32> {
  // expected-error @+1 {{attn-tile-flash: the query heads must be static}}
  %o = attn.attention %q, %k, %v : tensor<1x?x4x64xf32>, tensor<1x?x4x64xf32>, tensor<1x?x4x64xf32> -> tensor<1x?x4x64xf32>
  return %o : tensor<1x?x4x64xf32>
}

// -----

func.func @dynamic_value_dim(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x4x64xf32>, %v: tensor<1x8x4x?xf32>) -> tensor<1x8x4x?xf32> {
  // expected-error @+1 {{attn-tile-flash: the value head dim must be static}}
  %o = attn.attention %q, %k, %v : tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x?xf32> -> tensor<1x8x4x?xf32>
  return %o : tensor<1x8x4x?xf32>
}

// -----

func.func @static_ok(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x4x64xf32>, %v: tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32> -> tensor<1x8x4x64xf32>
  return %o : tensor<1x8x4x64xf32>
}
