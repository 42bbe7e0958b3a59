// What attn-gpu-backward does not take: located errors naming the option.
// (tile-rows=48 is refused in the last case; every other error comes first.)
// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-kernel-abi --attn-gpu-backward=tile-rows=48

func.func @softcap(%q: tensor<1x2x64x64xbf16>, %o: tensor<1x2x64x64xbf16>, %do: tensor<1x2x64x64xbf16>, %lse: tensor<1x2x64xf32>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  // expected-error @+1 {{attn-gpu-backward: softcap has no GPU backward yet (the CPU backward, attn-to-cpu, takes it)}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse {softcap = 30.0 : f32}
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
  return %dq, %dk, %dv : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}

// -----

func.func @dropout(%q: tensor<1x2x64x64xbf16>, %o: tensor<1x2x64x64xbf16>, %do: tensor<1x2x64x64xbf16>, %lse: tensor<1x2x64xf32>, %r: tensor<2xi64>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  // expected-error @+1 {{attn-gpu-backward: dropout (dropout_p with a dropout state) has no GPU backward yet (the CPU backward, attn-to-cpu, takes it)}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse dropout(%r : tensor<2xi64>) {dropout_p = 0.1 : f64}
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
  return %dq, %dk, %dv : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}

// -----

func.func @window(%q: tensor<1x2x64x64xbf16>, %o: tensor<1x2x64x64xbf16>, %do: tensor<1x2x64x64xbf16>, %lse: tensor<1x2x64xf32>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  // expected-error @+1 {{attn-gpu-backward: a sliding window (mask window_left / window_right) has no GPU backward yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse {mask = #attn.mask<causal = true, window_left = 16>}
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
  return %dq, %dk, %dv : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}

// -----

func.func @bias(%q: tensor<1x2x64x64xbf16>, %o: tensor<1x2x64x64xbf16>, %do: tensor<1x2x64x64xbf16>, %lse: tensor<1x2x64xf32>, %b: tensor<1x1x64x64xf32>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  // expected-error @+1 {{attn-gpu-backward: a bias has no GPU backward yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse bias(%b : tensor<1x1x64x64xf32>)
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
  return %dq, %dk, %dv : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}

// -----

func.func @headdim(%q: tensor<1x2x64x72xbf16>, %o: tensor<1x2x64x72xbf16>, %do: tensor<1x2x64x72xbf16>, %lse: tensor<1x2x64xf32>)
    -> (tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>) {
  // expected-error @+1 {{attn-gpu-backward: the backward takes head dims that are multiples of 16 up to 128 (got 72)}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse
      : tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>
  return %dq, %dk, %dv : tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>, tensor<1x2x64x72xbf16>
}

// -----

func.func @f32(%q: tensor<1x2x64x64xf32>, %o: tensor<1x2x64x64xf32>, %do: tensor<1x2x64x64xf32>, %lse: tensor<1x2x64xf32>)
    -> (tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>) {
  // expected-error @+1 {{attn-gpu-backward runs f16 and bf16 on tensor cores; element type 'f32' is not supported on the GPU}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse
      : tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>
  return %dq, %dk, %dv : tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>
}

// -----

func.func @dynamic(%q: tensor<?x2x64x64xbf16>, %o: tensor<?x2x64x64xbf16>, %do: tensor<?x2x64x64xbf16>, %lse: tensor<?x2x64xf32>)
    -> (tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>) {
  // expected-error @+1 {{attn-gpu-backward takes static sizes only for now (no `?`)}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse
      : tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>, tensor<?x2x64xf32>
      -> tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>
  return %dq, %dk, %dv : tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>, tensor<?x2x64x64xbf16>
}

// -----

func.func @tile_rows(%q: tensor<1x2x64x64xbf16>, %o: tensor<1x2x64x64xbf16>, %do: tensor<1x2x64x64xbf16>, %lse: tensor<1x2x64xf32>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  // expected-error @+1 {{attn-gpu-backward: tile-rows must be 16, 32 or 64 (got 48)}}
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
  return %dq, %dk, %dv : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}
