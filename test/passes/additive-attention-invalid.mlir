// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-tile-flash)'

func.func @dynamic_hidden(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<?x8xf32>, %wk: tensor<?x8xf32>, %ws: tensor<1x?xf32>) -> tensor<2x1x8xf32> {
  // expected-error @+1 {{attn-tile-flash: the hidden size H must be static (only batch, Sq and Skv may be run-time sizes)}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<1x?xf32> -> tensor<2x1x8xf32>
  return %o : tensor<2x1x8xf32>
}

// -----

func.func @dynamic_value_dim(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x?xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>) -> tensor<2x1x?xf32> {
  // expected-error @+1 {{attn-tile-flash: the value dim Dv must be static}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x?xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x?xf32>
  return %o : tensor<2x1x?xf32>
}
