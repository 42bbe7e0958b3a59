// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @query_rank(%x: tensor<2x5x4x24xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{query must have rank 3 [B, S, E], got rank 4}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x4x24xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @no_projection(%x: tensor<2x5x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{needs exactly one input projection: qkv_weight (combined) or qkv_weights (separate)}}
  %o = attn.multi_head_attention %x out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @two_projections(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %wq: tensor<96x96xf32>) {
  // expected-error @+1 {{needs exactly one input projection}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) qkv_weights(%wq, %wq, %wq : tensor<96x96xf32>, tensor<96x96xf32>, tensor<96x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @heads_ratio(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3)}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4, num_kv_heads = 3} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @zero_heads(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{num_heads and num_kv_heads must be positive, got 0 and 0}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 0} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @qkv_rows(%x: tensor<2x5x96xf32>, %w: tensor<290x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{qkv_weight rows (290) must be (Hq + 2·Hkv)·D = (4 + 2·4)·D}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<290x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @qkv_cols(%x: tensor<2x5x96xf32>, %w: tensor<288x64xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{qkv_weight shape [288, 64] does not match expected [(Hq + 2·Hkv)·D, E] = [288, 96]}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x64xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @qkv_bias(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %b: tensor<96xf32>) {
  // expected-error @+1 {{qkv_bias shape [96] does not match expected [(Hq + 2·Hkv)·D] = [288]}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) qkv_bias(%b : tensor<96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @mixed_bias(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %b: tensor<96xf32>) {
  // expected-error @+1 {{a combined qkv_weight takes a combined qkv_bias, not qkv_biases}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) qkv_biases(%b, %b, %b : tensor<96xf32>, tensor<96xf32>, tensor<96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @combined_cross(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %k: tensor<2x7x64xf32>) {
  // expected-error @+1 {{a combined qkv_weight needs key and value inputs of the query's embedding E = 96 (got Ek = 64, Ev = 64); use qkv_weights}}
  %o = attn.multi_head_attention %x kv(%k, %k : tensor<2x7x64xf32>, tensor<2x7x64xf32>) qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @kv_length(%x: tensor<2x5x96xf32>, %k: tensor<2x7x64xf32>, %v: tensor<2x9x64xf32>, %wq: tensor<96x96xf32>, %wk: tensor<48x64xf32>, %wv: tensor<32x64xf32>, %wo: tensor<96x64xf32>) {
  // expected-error @+1 {{value shape [2, 9, 64] does not match expected [B, Skv, Ev] = [2, 7, 64]}}
  %o = attn.multi_head_attention %x kv(%k, %v : tensor<2x7x64xf32>, tensor<2x9x64xf32>) qkv_weights(%wq, %wk, %wv : tensor<96x96xf32>, tensor<48x64xf32>, tensor<32x64xf32>) out_weight(%wo : tensor<96x64xf32>) {num_heads = 4, num_kv_heads = 2} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @k_weight(%x: tensor<2x5x96xf32>, %k: tensor<2x7x64xf32>, %v: tensor<2x7x64xf32>, %wq: tensor<96x96xf32>, %wk: tensor<40x64xf32>, %wv: tensor<32x64xf32>, %wo: tensor<96x64xf32>) {
  // expected-error @+1 {{k_weight shape [40, 64] does not match expected [Hkv·D, Ek] = [48, 64]}}
  %o = attn.multi_head_attention %x kv(%k, %v : tensor<2x7x64xf32>, tensor<2x7x64xf32>) qkv_weights(%wq, %wk, %wv : tensor<96x96xf32>, tensor<40x64xf32>, tensor<32x64xf32>) out_weight(%wo : tensor<96x64xf32>) {num_heads = 4, num_kv_heads = 2} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @v_rows(%x: tensor<2x5x96xf32>, %k: tensor<2x7x64xf32>, %v: tensor<2x7x64xf32>, %wq: tensor<96x96xf32>, %wk: tensor<48x64xf32>, %wv: tensor<33x64xf32>, %wo: tensor<96x64xf32>) {
  // expected-error @+1 {{v_weight rows (33) must be a multiple of Hkv = 2}}
  %o = attn.multi_head_attention %x kv(%k, %v : tensor<2x7x64xf32>, tensor<2x7x64xf32>) qkv_weights(%wq, %wk, %wv : tensor<96x96xf32>, tensor<48x64xf32>, tensor<33x64xf32>) out_weight(%wo : tensor<96x64xf32>) {num_heads = 4, num_kv_heads = 2} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @out_weight(%x: tensor<2x5x96xf32>, %k: tensor<2x7x64xf32>, %v: tensor<2x7x64xf32>, %wq: tensor<96x96xf32>, %wk: tensor<48x64xf32>, %wv: tensor<32x64xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{out_weight shape [96, 96] does not match expected [E_out, Hq·Dv] = [96, 64]}}
  %o = attn.multi_head_attention %x kv(%k, %v : tensor<2x7x64xf32>, tensor<2x7x64xf32>) qkv_weights(%wq, %wk, %wv : tensor<96x96xf32>, tensor<48x64xf32>, tensor<32x64xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4, num_kv_heads = 2} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @output(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{output shape [2, 5, 80] does not match expected [B, Sq, E_out] = [2, 5, 96]}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x80xf32>
  return
}

// -----

func.func @out_bias(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %bo: tensor<80xf32>) {
  // expected-error @+1 {{out_bias shape [80] does not match expected [E_out] = [96]}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) out_bias(%bo : tensor<80xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @elt(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf16>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{qkv_weight element type 'f16' differs from the query's 'f32'}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf16>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @bool_mask(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %m: tensor<2x4x5x6xi1>) {
  // expected-error @+1 {{bool_mask shape [2, 4, 5, 6] is not broadcastable to [B, Hq, Sq, Skv] = [2, 4, 5, 5]}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) bool_mask(%m : tensor<2x4x5x6xi1>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @kv_lengths(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %l: tensor<3xi32>) {
  // expected-error @+1 {{kv_lengths shape [3] does not match expected [B] = [2]}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) kv_lengths(%l : tensor<3xi32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @dropout_state(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{dropout_p needs a dropout state operand (tensor<2xi64>: seed, offset)}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4, dropout_p = 0.5} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @dropout_p(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{dropout_p must be in [0, 1), got 1}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) dropout(%s : tensor<2xi64>) {num_heads = 4, dropout_p = 1.0} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @weights(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{weights shape [2, 4, 5, 4] does not match expected [B, Hq, Sq, Skv] = [2, 4, 5, 5]}}
  %o, %a = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>, tensor<2x4x5x4xf32>
  return
}

// -----

func.func @weights_dynamic(%x: tensor<2x?x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{the weights result needs a static Skv of at most 1024 (it is for small sizes), got [?]}}
  %o, %a = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4} : tensor<2x?x96xf32> -> tensor<2x?x96xf32>, tensor<2x4x?x?xf32>
  return
}

// -----

func.func @head_dim(%x: tensor<2x5x96xf32>, %w: tensor<36900x96xf32>, %wo: tensor<96x12300xf32>) {
  // expected-error @+1 {{head dim D must be in [1, 1024], got 1025}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<36900x96xf32>) out_weight(%wo : tensor<96x12300xf32>) {num_heads = 12} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}

// -----

func.func @scale(%x: tensor<2x5x96xf32>, %w: tensor<288x96xf32>, %wo: tensor<96x96xf32>) {
  // expected-error @+1 {{scale must be finite}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<288x96xf32>) out_weight(%wo : tensor<96x96xf32>) {num_heads = 4, scale = 0x7F800000 : f32} : tensor<2x5x96xf32> -> tensor<2x5x96xf32>
  return
}
