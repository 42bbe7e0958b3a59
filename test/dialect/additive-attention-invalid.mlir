// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @query_rank(%q: tensor<2x1x4x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{query must have rank 3 [B, S, dim], got rank 4}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x4x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @weight_rank(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<16xf32>) {
  // expected-error @+1 {{score_weight must have rank 2 (nn.Linear [out, in]), got rank 1}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @batch(%q: tensor<2x1x8xf32>, %k: tensor<3x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{key shape [3, 5, 8] does not match expected [B, Skv, Dk] = [2, 5, 8]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<3x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @value_length(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x6x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{value shape [2, 6, 8] does not match expected [B, Skv, Dv] = [2, 5, 8]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x6x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @query_weight_in(%q: tensor<2x1x8xf32>, %k: tensor<2x5x6xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x6xf32>, %wk: tensor<16x6xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{query_weight shape [16, 6] does not match expected [H, Dq] = [16, 8]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x6xf32>, tensor<2x5x8xf32>, tensor<16x6xf32>, tensor<16x6xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @key_weight_hidden(%q: tensor<2x1x8xf32>, %k: tensor<2x5x6xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<12x6xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{key_weight shape [12, 6] does not match expected [H, Dk] = [16, 6]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x6xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<12x6xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @score_weight(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<2x16xf32>) {
  // expected-error @+1 {{score_weight shape [2, 16] does not match expected [1, H] = [1, 16]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<2x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @bias(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bias shape [8] does not match expected [H] = [16]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws bias(%b : tensor<8xf32>) : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @score_bias(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{score_bias shape [2] does not match expected [1] = [1]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws score_bias(%b : tensor<2xf32>) : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @lengths(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>, %l: tensor<3xi32>) {
  // expected-error @+1 {{kv_lengths shape [3] does not match expected [B] = [2]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws kv_lengths(%l : tensor<3xi32>) : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @lengths_type(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>, %l: tensor<2xi64>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit signless integer values, but got 'tensor<2xi64>'}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws kv_lengths(%l : tensor<2xi64>) : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @mask_rank(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>, %m: tensor<2x5xi1>) {
  // expected-error @+1 {{bool_mask must have rank 3 (broadcastable to [B, Sq, Skv]), got rank 2}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws bool_mask(%m : tensor<2x5xi1>) : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @mask_broadcast(%q: tensor<2x3x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>, %m: tensor<2x2x5xi1>) {
  // expected-error @+1 {{bool_mask shape [2, 2, 5] is not broadcastable to [B, Sq, Skv] = [2, 3, 5] (each dim must be 1 or equal)}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws bool_mask(%m : tensor<2x2x5xi1>) : tensor<2x3x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @output_shape(%q: tensor<2x3x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x4xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{output shape [2, 3, 8] does not match expected [B, Sq, Dv] = [2, 3, 4]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x3x8xf32>, tensor<2x5x8xf32>, tensor<2x5x4xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @weights_shape(%q: tensor<2x3x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{weights shape [2, 5, 3] does not match expected [B, Sq, Skv] = [2, 3, 5]}}
  %o, %w = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x3x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x3x8xf32>, tensor<2x5x3xf32>
  return
}

// -----

func.func @dtype(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<16x8xf16>, %wk: tensor<16x8xf32>, %ws: tensor<1x16xf32>) {
  // expected-error @+1 {{query_weight element type 'f16' differs from the query's 'f32' (one element type for every float operand and result)}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<16x8xf16>, tensor<16x8xf32>, tensor<1x16xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @weights_dtype(%q: tensor<2x1x8xbf16>, %k: tensor<2x5x8xbf16>, %v: tensor<2x5x8xbf16>, %wq: tensor<16x8xbf16>, %wk: tensor<16x8xbf16>, %ws: tensor<1x16xbf16>) {
  // expected-error @+1 {{weights element type 'f32' differs from the query's 'bf16'}}
  %o, %w = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xbf16>, tensor<2x5x8xbf16>, tensor<2x5x8xbf16>, tensor<16x8xbf16>, tensor<16x8xbf16>, tensor<1x16xbf16> -> tensor<2x1x8xbf16>, tensor<2x1x5xf32>
  return
}

// -----

func.func @hidden_limit(%q: tensor<2x1x8xf32>, %k: tensor<2x5x8xf32>, %v: tensor<2x5x8xf32>, %wq: tensor<2048x8xf32>, %wk: tensor<2048x8xf32>, %ws: tensor<1x2048xf32>) {
  // expected-error @+1 {{hidden size H must be in [1, 1024], got 2048}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<2048x8xf32>, tensor<2048x8xf32>, tensor<1x2048xf32> -> tensor<2x1x8xf32>
  return
}

// -----

func.func @dynamic_mismatch(%q: tensor<?x1x8xf32>, %k: tensor<?x5x8xf32>, %v: tensor<?x5x8xf32>, %wq: tensor<?x8xf32>, %wk: tensor<16x8xf32>, %ws: tensor<1x12xf32>) {
  // expected-error @+1 {{score_weight shape [1, 12] does not match expected [1, H] = [1, 16]}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<?x1x8xf32>, tensor<?x5x8xf32>, tensor<?x5x8xf32>, tensor<?x8xf32>, tensor<16x8xf32>, tensor<1x12xf32> -> tensor<?x1x8xf32>
  return
}
