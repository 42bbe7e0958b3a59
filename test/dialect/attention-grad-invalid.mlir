// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every invalid form of attn.attention_grad: the checks it shares with
// attn.attention (one helper, verifyAttentionOperands) and its own.

func.func @query_rank(%q: tensor<4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{query must have rank 4 [B, H, S, D] (bhsd layout), got rank 3}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @head_ratio(%q: tensor<1x4x16x32xf32>, %k: tensor<1x3x24x32xf32>, %v: tensor<1x3x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3)}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x3x24x32xf32>, tensor<1x3x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x3x24x32xf32>, tensor<1x3x24x32xf32>
  return
}

// -----

func.func @key_shape_bshd(%q: tensor<1x16x4x32xf32>, %k: tensor<1x24x2x16xf32>, %v: tensor<1x24x2x32xf32>, %o: tensor<1x16x4x32xf32>, %do: tensor<1x16x4x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{key shape [1, 24, 2, 16] does not match expected [B, Skv, Hkv, D] = [1, 24, 2, 32]}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse {layout = #attn.layout<bshd>}
      : tensor<1x16x4x32xf32>, tensor<1x24x2x16xf32>, tensor<1x24x2x32xf32>, tensor<1x16x4x32xf32>, tensor<1x16x4x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x16x4x32xf32>, tensor<1x24x2x16xf32>, tensor<1x24x2x32xf32>
  return
}

// -----

func.func @value_dtype(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf16>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{value element type 'f16' differs from query element type 'f32'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf16>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf16>
  return
}

// -----

func.func @output_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x16xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{output shape [1, 4, 16, 16] does not match expected [B, Hq, Sq, Dv] = [1, 4, 16, 32]}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x16xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @output_dtype(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf16>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{output element type 'f16' differs from query element type 'f32'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf16>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @grad_output_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x15x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{grad_output shape [1, 4, 15, 32] does not match expected [B, Hq, Sq, Dv] = [1, 4, 16, 32]}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x15x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @grad_output_dtype(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xbf16>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{grad_output element type 'bf16' differs from query element type 'f32'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xbf16>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @lse_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x17xf32>) {
  // expected-error @+1 {{lse shape [1, 4, 17] does not match expected [B, Hq, Sq] = [1, 4, 16]}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x17xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @grad_query_type(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{grad_query type 'tensor<1x4x16x32xf16>' differs from its input's type 'tensor<1x4x16x32xf32>'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf16>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @grad_key_type(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{grad_key type 'tensor<1x2x23x32xf32>' differs from its input's type 'tensor<1x2x24x32xf32>'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x23x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @grad_value_type(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{grad_value type 'tensor<1x2x24x16xf32>' differs from its input's type 'tensor<1x2x24x32xf32>'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x16xf32>
  return
}

// -----

func.func @grad_bias_without_bias(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{grad_bias needs a bias operand}}
  %dq, %dk, %dv, %db = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x24xf32>
  return
}

// -----

func.func @grad_bias_type(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %bias: tensor<1x1x16x24xf32>) {
  // expected-error @+1 {{grad_bias type 'tensor<1x4x16x24xf32>' differs from the bias type 'tensor<1x1x16x24xf32>'}}
  %dq, %dk, %dv, %db = attn.attention_grad %q, %k, %v, %o, %do, %lse bias(%bias : tensor<1x1x16x24xf32>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x24xf32>
  return
}

// -----

func.func @bias_broadcast(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %bias: tensor<1x3x16x24xf32>) {
  // expected-error @+1 {{bias shape [1, 3, 16, 24] is not broadcastable to [B, Hq, Sq, Skv] = [1, 4, 16, 24]}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse bias(%bias : tensor<1x3x16x24xf32>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @kv_lengths_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %len: tensor<2xi32>) {
  // expected-error @+1 {{kv_lengths shape [2] does not match expected [B] = [1]}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse kv_lengths(%len : tensor<2xi32>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @segment_ids_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %qs: tensor<1x16xi32>, %ks: tensor<1x16xi32>) {
  // expected-error @+1 {{kv_segment_ids shape [1, 16] does not match expected [B, Skv] = [1, 24]}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse segment_ids(%qs, %ks : tensor<1x16xi32>, tensor<1x16xi32>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @scale_zero(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{scale must be nonzero}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse {scale = 0.0 : f32}
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @softcap_negative(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{softcap must be finite and > 0}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse {softcap = -1.0 : f32}
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @q_offset_limit(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{mask q_offset + Sq (2147483640 + 16) exceeds the limit of 2147483647 (query positions are i32)}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse {mask = #attn.mask<causal = true, q_offset = 2147483640>}
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @score_mod_args(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{score_mod region must have arguments (score: f32, b: index, h: index, q_idx: index, kv_idx: index)}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32):
        attn.yield %s : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @mask_mod_yield(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{mask_mod region must yield 'i1', got 'f32'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 1.0 : f32
        attn.yield %c : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @lse_dtype(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf16>) {
  // expected-error @+1 {{operand #5 must be ranked tensor of 32-bit float values}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf16>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @score_mod_grad_alone(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{score_mod_grad region needs a score_mod region}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod_grad {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %one = arith.constant 1.0 : f32
        attn.yield %one : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @score_mod_grad_args(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{score_mod_grad region must have arguments (score: f32, b: index, h: index, q_idx: index, kv_idx: index)}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      } score_mod_grad {
      ^bb0(%s: f32, %b: index):
        attn.yield %s : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @score_mod_grad_yield(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{score_mod_grad region must yield 'f32', got 'i1'}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      } score_mod_grad {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = arith.cmpi sle, %j, %i : index
        attn.yield %t : i1
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @dropout_p_one(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %r: tensor<2xi64>) {
  // expected-error @+1 {{dropout_p must be in [0, 1), got 1.000000e+00}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse dropout(%r : tensor<2xi64>) {dropout_p = 1.0 : f64}
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @dropout_p_without_state(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{dropout_p needs a dropout state operand (tensor<2xi64>: seed, offset)}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse {dropout_p = 0.1 : f64}
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @dropout_state_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %r: tensor<3xi64>) {
  // expected-error @+1 {{dropout state}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse dropout(%r : tensor<3xi64>) {dropout_p = 0.1 : f64}
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}
