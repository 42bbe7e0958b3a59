// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-tile-flash)'

// What the CPU backward does not lower yet is a located error naming it.

func.func @grad_bias(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %b: tensor<1x1x16x24xf32>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take a bias gradient (grad_bias) yet}}
  %dq, %dk, %dv, %db = attn.attention_grad %q, %k, %v, %o, %do, %lse bias(%b : tensor<1x1x16x24xf32>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x1x16x24xf32>
  return
}

// -----

func.func @dynamic(%q: tensor<1x4x?x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x?x32xf32>, %do: tensor<1x4x?x32xf32>, %lse: tensor<1x4x?xf32>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take run-time sizes yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x?x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?xf32>
      -> tensor<1x4x?x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}
