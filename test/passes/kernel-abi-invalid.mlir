// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-kernel-abi

// expected-error @+1 {{attn-kernel-abi: @callee is called; its tensor signature would become buffers}}
func.func @callee(%q: tensor<1x2x64x64xbf16>) -> tensor<1x2x64x64xbf16> {
  %o = attn.attention %q, %q, %q
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  return %o : tensor<1x2x64x64xbf16>
}
func.func @caller(%q: tensor<1x2x64x64xbf16>) -> tensor<1x2x64x64xbf16> {
  %o = func.call @callee(%q) : (tensor<1x2x64x64xbf16>) -> tensor<1x2x64x64xbf16>
  return %o : tensor<1x2x64x64xbf16>
}

// -----

// One attention feeding another: the second reads a computed value, which
// the GPU kernels cannot (their operands are buffers of the caller).
func.func @chained(%q: tensor<1x2x64x64xbf16>, %k: tensor<1x2x64x64xbf16>)
    -> tensor<1x2x64x64xbf16> {
  %a = attn.attention %q, %k, %k
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  // expected-error @+1 {{attn-kernel-abi: operand query is computed inside @chained; the GPU kernels read every operand from a buffer argument}}
  %b = attn.attention %a, %k, %k
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  return %b : tensor<1x2x64x64xbf16>
}

// -----

func.func @computed_mask(%q: tensor<1x2x64x64xbf16>, %m: tensor<1x1x64x64xi1>)
    -> tensor<1x2x64x64xbf16> {
  %t = arith.constant dense<true> : tensor<1x1x64x64xi1>
  %mm = arith.andi %m, %t : tensor<1x1x64x64xi1>
  // expected-error @+1 {{attn-kernel-abi: operand bool_mask is computed inside @computed_mask}}
  %o = attn.attention %q, %q, %q bool_mask(%mm : tensor<1x1x64x64xi1>)
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  return %o : tensor<1x2x64x64xbf16>
}

// -----

// The same result returned twice: one kernel writes one buffer, and the GPU
// host code has no copy for the second.
func.func @twice(%q: tensor<1x2x64x64xbf16>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  %o = attn.attention %q, %q, %q
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  // expected-error @+1 {{attn-kernel-abi: result #0 of @twice is not an attn op's result used only by the return}}
  return %o, %o : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}

// -----

func.func @passthrough(%q: tensor<1x2x64x64xbf16>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  %o = attn.attention %q, %q, %q
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  // expected-error @+1 {{attn-kernel-abi: result #1 of @passthrough is not an attn op's result used only by the return}}
  return %o, %q : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}

// -----

// expected-error @+1 {{attn-kernel-abi: 'tensor<*xf32>' in the signature of @unranked is unranked}}
func.func @unranked(%q: tensor<1x2x64x64xbf16>, %x: tensor<*xf32>)
    -> tensor<1x2x64x64xbf16> {
  %o = attn.attention %q, %q, %q
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  return %o : tensor<1x2x64x64xbf16>
}

// -----

// expected-error @+1 {{attn-kernel-abi: @blocks has several blocks; kernels have one}}
func.func @blocks(%q: tensor<1x2x64x64xbf16>) -> tensor<1x2x64x64xbf16> {
  %o = attn.attention %q, %q, %q
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  cf.br ^bb1
^bb1:
  return %o : tensor<1x2x64x64xbf16>
}
