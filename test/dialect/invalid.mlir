// RUN: attn-opt %s -split-input-file -verify-diagnostics -allow-unregistered-dialect

func.func @bad_rank(%q: tensor<8x128x64xf32>, %k: tensor<1x8x128x64xf32>, %v: tensor<1x8x128x64xf32>) {
  // expected-error @+1 {{query must have rank 4 [B, H, S, D] (bhsd layout), got rank 3}}
  %o = attn.attention %q, %k, %v : tensor<8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @head_ratio(%q: tensor<1x12x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{query heads (12) must be a multiple of key/value heads (8)}}
  %o = attn.attention %q, %k, %v : tensor<1x12x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x12x16x64xf32>
  return
}

// -----

func.func @head_dim(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x128xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{key shape [1, 8, 16, 128] does not match expected [B, Hkv, Skv, D] = [1, 8, 16, 64]}}
  %o = attn.attention %q, %k, %v : tensor<1x8x16x64xf32>, tensor<1x8x16x128xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @batch(%q: tensor<2x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{key shape [1, 8, 16, 64] does not match expected [B, Hkv, Skv, D] = [2, 8, 16, 64]}}
  %o = attn.attention %q, %k, %v : tensor<2x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<2x8x16x64xf32>
  return
}

// -----

func.func @kv_len(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x17x64xf32>) {
  // expected-error @+1 {{value shape [1, 8, 17, 64] does not match expected [B, Hkv, Skv, Dv] = [1, 8, 16, 64]}}
  %o = attn.attention %q, %k, %v : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x17x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @out_shape(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x32xf32>) {
  // expected-error @+1 {{output shape [1, 8, 16, 64] does not match expected [B, Hq, Sq, Dv] = [1, 8, 16, 32]}}
  %o = attn.attention %q, %k, %v : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x32xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @bshd_shape(%q: tensor<1x16x8x64xf32>, %k: tensor<1x16x8x32xf32>, %v: tensor<1x16x8x64xf32>) {
  // expected-error @+1 {{key shape [1, 16, 8, 32] does not match expected [B, Skv, Hkv, D] = [1, 16, 8, 64]}}
  %o = attn.attention %q, %k, %v {layout = #attn.layout<bshd>} : tensor<1x16x8x64xf32>, tensor<1x16x8x32xf32>, tensor<1x16x8x64xf32> -> tensor<1x16x8x64xf32>
  return
}

// -----

func.func @dtype_mix(%q: tensor<1x8x16x64xf16>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf16>) {
  // expected-error @+1 {{key element type 'f32' differs from query element type 'f16'}}
  %o = attn.attention %q, %k, %v : tensor<1x8x16x64xf16>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf16> -> tensor<1x8x16x64xf16>
  return
}

// -----

func.func @out_dtype(%q: tensor<1x8x16x64xf16>, %k: tensor<1x8x16x64xf16>, %v: tensor<1x8x16x64xf16>) {
  // expected-error @+1 {{output element type 'f32' differs from query element type 'f16'}}
  %o = attn.attention %q, %k, %v : tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16>, tensor<1x8x16x64xf16> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @int_dtype(%q: tensor<1x8x16x64xi8>, %k: tensor<1x8x16x64xi8>, %v: tensor<1x8x16x64xi8>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %o = attn.attention %q, %k, %v : tensor<1x8x16x64xi8>, tensor<1x8x16x64xi8>, tensor<1x8x16x64xi8> -> tensor<1x8x16x64xi8>
  return
}

// -----

func.func @lse_shape(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{lse shape [1, 8, 15] does not match expected [B, Hq, Sq] = [1, 8, 16]}}
  %o, %l = attn.attention %q, %k, %v : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>, tensor<1x8x15xf32>
  return
}

// -----

func.func @mask_shape(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x32x64xf32>, %v: tensor<1x8x32x64xf32>, %m: tensor<1x1x16x16xi1>) {
  // expected-error @+1 {{bool_mask shape [1, 1, 16, 16] is not broadcastable to [B, Hq, Sq, Skv] = [1, 8, 16, 32]}}
  %o = attn.attention %q, %k, %v bool_mask(%m : tensor<1x1x16x16xi1>) : tensor<1x8x16x64xf32>, tensor<1x8x32x64xf32>, tensor<1x8x32x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @mask_rank(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x32x64xf32>, %v: tensor<1x8x32x64xf32>, %m: tensor<16x32xi1>) {
  // expected-error @+1 {{bool_mask must have rank 4 (broadcastable to [B, Hq, Sq, Skv]), got rank 2}}
  %o = attn.attention %q, %k, %v bool_mask(%m : tensor<16x32xi1>) : tensor<1x8x16x64xf32>, tensor<1x8x32x64xf32>, tensor<1x8x32x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @bias_shape(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x32x64xf32>, %v: tensor<1x8x32x64xf32>, %b: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{bias shape [1, 4, 16, 32] is not broadcastable to [B, Hq, Sq, Skv] = [1, 8, 16, 32]}}
  %o = attn.attention %q, %k, %v bias(%b : tensor<1x4x16x32xf32>) : tensor<1x8x16x64xf32>, tensor<1x8x32x64xf32>, tensor<1x8x32x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @kv_lengths(%q: tensor<2x8x16x64xf32>, %k: tensor<2x8x32x64xf32>, %v: tensor<2x8x32x64xf32>, %l: tensor<3xi32>) {
  // expected-error @+1 {{kv_lengths shape [3] does not match expected [B] = [2]}}
  %o = attn.attention %q, %k, %v kv_lengths(%l : tensor<3xi32>) : tensor<2x8x16x64xf32>, tensor<2x8x32x64xf32>, tensor<2x8x32x64xf32> -> tensor<2x8x16x64xf32>
  return
}

// -----

func.func @segments(%q: tensor<2x8x16x64xf32>, %k: tensor<2x8x32x64xf32>, %v: tensor<2x8x32x64xf32>, %qs: tensor<2x16xi32>, %ks: tensor<2x16xi32>) {
  // expected-error @+1 {{kv_segment_ids shape [2, 16] does not match expected [B, Skv] = [2, 32]}}
  %o = attn.attention %q, %k, %v segment_ids(%qs, %ks : tensor<2x16xi32>, tensor<2x16xi32>) : tensor<2x8x16x64xf32>, tensor<2x8x32x64xf32>, tensor<2x8x32x64xf32> -> tensor<2x8x16x64xf32>
  return
}

// -----

func.func @one_segment(%q: tensor<2x8x16x64xf32>, %k: tensor<2x8x32x64xf32>, %v: tensor<2x8x32x64xf32>, %qs: tensor<2x16xi32>) {
  // expected-error @+1 {{segment ids need both q_segment_ids and kv_segment_ids}}
  %o = "attn.attention"(%q, %k, %v, %qs) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0>}> ({}, {}) : (tensor<2x8x16x64xf32>, tensor<2x8x32x64xf32>, tensor<2x8x32x64xf32>, tensor<2x16xi32>) -> tensor<2x8x16x64xf32>
  return
}

// -----

func.func @score_mod_terminator(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{score_mod region must end with attn.yield}}
  %o = "attn.attention"(%q, %k, %v) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0>}> ({
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    "test.terminator"(%s) : (f32) -> ()
  }, {}) : (tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>) -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @scale(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{scale must be nonzero}}
  %o = attn.attention %q, %k, %v {scale = 0.0 : f32} : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @softcap(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{softcap must be finite and > 0}}
  %o = attn.attention %q, %k, %v {softcap = -2.0 : f32} : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @mask_dilation(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{mask dilation must be >= 1, got 0}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<dilation = 0>} : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @mask_window(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{mask window_left must be >= 0 or -1 (unbounded), got -5}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<window_left = -5>} : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @mask_causal_lookahead(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{causal mask cannot look ahead: window_right must be 0 or -1, got 4}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, window_right = 4>} : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @mask_offset(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{mask q_offset must be >= 0, got -1}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, q_offset = -1>} : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @mask_global(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{mask global_tokens must be >= 0, got -3}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<global_tokens = -3>} : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @score_mod_signature(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{score_mod region must have arguments (score: f32, b: index, h: index, q_idx: index, kv_idx: index)}}
  %o = attn.attention %q, %k, %v score_mod {
  ^bb0(%s: f32, %b: index):
    attn.yield %s : f32
  } : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @score_mod_yield(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{score_mod region must yield 'f32', got 'f16'}}
  %o = attn.attention %q, %k, %v score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %t = arith.truncf %s : f32 to f16
    attn.yield %t : f16
  } : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @mask_mod_yield(%q: tensor<1x8x16x64xf32>, %k: tensor<1x8x16x64xf32>, %v: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{mask_mod region must yield 'i1', got 'index'}}
  %o = attn.attention %q, %k, %v mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    attn.yield %i : index
  } : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @yield_outside(%x: f32) {
  // expected-error @+1 {{'attn.yield' op expects parent op to be one of 'attn.attention, attn.attention_grad'}}
  attn.yield %x : f32
}

// -----

func.func @append_heads(%k: memref<4x8x1x128xf32>, %v: memref<4x8x1x128xf32>, %kc: memref<4x4x64x128xf32>, %vc: memref<4x4x64x128xf32>, %l: memref<4xi32>) {
  // expected-error @+1 {{key_cache shape [4, 4, 64, 128] does not match expected [B, Hkv, Smax, D] = [4, 8, 64, 128]}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) : memref<4x8x1x128xf32>, memref<4x8x1x128xf32> into memref<4x4x64x128xf32>, memref<4x4x64x128xf32>, memref<4xi32>
  return
}

// -----

func.func @append_capacity(%k: memref<4x8x100x128xf32>, %v: memref<4x8x100x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>) {
  // expected-error @+1 {{appends 100 rows per sequence but the cache holds only 64}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) : memref<4x8x100x128xf32>, memref<4x8x100x128xf32> into memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32>
  return
}

// -----

func.func @append_lengths(%k: memref<4x8x1x128xf32>, %v: memref<4x8x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<2xi32>) {
  // expected-error @+1 {{cache_lengths shape [2] does not match expected [B] = [4]}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) : memref<4x8x1x128xf32>, memref<4x8x1x128xf32> into memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<2xi32>
  return
}

// -----

func.func @append_new_v(%k: memref<4x8x2x128xf32>, %v: memref<4x8x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>) {
  // expected-error @+1 {{value shape [4, 8, 1, 128] does not match expected [B, Hkv, Snew, Dv] = [4, 8, 2, 128]}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) : memref<4x8x2x128xf32>, memref<4x8x1x128xf32> into memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32>
  return
}

// -----

func.func @paged_pool_mismatch(%k: memref<4x8x1x128xbf16>, %v: memref<4x8x1x128xbf16>, %kc: memref<256x16x8x128xbf16>, %vc: memref<128x16x8x128xbf16>, %l: memref<4xi32>, %bt: memref<4x16xi32>) {
  // expected-error @+1 {{value_cache shape [128, 16, 8, 128] does not match expected [P, page_size, Hkv, Dv] = [256, 16, 8, 128]}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) : memref<4x8x1x128xbf16>, memref<4x8x1x128xbf16> into memref<256x16x8x128xbf16>, memref<128x16x8x128xbf16>, memref<4xi32>
  return
}

// -----

func.func @paged_block_table(%k: memref<4x8x1x128xbf16>, %v: memref<4x8x1x128xbf16>, %kc: memref<256x16x8x128xbf16>, %vc: memref<256x16x8x128xbf16>, %l: memref<4xi32>, %bt: memref<3x16xi32>) {
  // expected-error @+1 {{block_table has 3 rows but the batch size is 4}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) block_table(%bt : memref<3x16xi32>) : memref<4x8x1x128xbf16>, memref<4x8x1x128xbf16> into memref<256x16x8x128xbf16>, memref<256x16x8x128xbf16>, memref<4xi32>
  return
}

// -----

func.func @paged_block_table_rank(%k: memref<4x8x1x128xbf16>, %v: memref<4x8x1x128xbf16>, %kc: memref<256x16x8x128xbf16>, %vc: memref<256x16x8x128xbf16>, %l: memref<4xi32>, %bt: memref<64xi32>) {
  // expected-error @+1 {{block_table must have rank 2 [B, max_pages], got rank 1}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) block_table(%bt : memref<64xi32>) : memref<4x8x1x128xbf16>, memref<4x8x1x128xbf16> into memref<256x16x8x128xbf16>, memref<256x16x8x128xbf16>, memref<4xi32>
  return
}

// -----

func.func @paged_heads(%k: memref<4x8x1x128xbf16>, %v: memref<4x8x1x128xbf16>, %kc: memref<256x8x16x128xbf16>, %vc: memref<256x8x16x128xbf16>, %l: memref<4xi32>, %bt: memref<4x16xi32>) {
  // expected-error @+1 {{key_cache shape [256, 8, 16, 128] does not match expected [P, page_size, Hkv, D] = [256, 8, 8, 128]}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) : memref<4x8x1x128xbf16>, memref<4x8x1x128xbf16> into memref<256x8x16x128xbf16>, memref<256x8x16x128xbf16>, memref<4xi32>
  return
}

// -----

func.func @cache_kv_dtype(%k: memref<4x8x1x128xf32>, %v: memref<4x8x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xbf16>, %l: memref<4xi32>) {
  // expected-error @+1 {{value_cache element type 'bf16' differs from key_cache element type 'f32'}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) : memref<4x8x1x128xf32>, memref<4x8x1x128xf32> into memref<4x8x64x128xf32>, memref<4x8x64x128xbf16>, memref<4xi32>
  return
}

// -----

func.func @decode_ratio(%q: memref<4x12x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>, %o: memref<4x12x1x128xf32>) {
  // expected-error @+1 {{query heads (12) must be a multiple of key/value heads (8)}}
  attn.cache_attention %q, %kc, %vc lengths(%l) outs(%o) : memref<4x12x1x128xf32>, memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32> -> memref<4x12x1x128xf32>
  return
}

// -----

func.func @decode_offset(%q: memref<4x32x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+1 {{mask q_offset must be 0: cache_attention places queries at the end of each sequence}}
  attn.cache_attention %q, %kc, %vc lengths(%l) outs(%o) {mask = #attn.mask<causal = true, q_offset = 3>} : memref<4x32x1x128xf32>, memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @decode_head_dim(%q: memref<4x32x1x64xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+1 {{key_cache shape [4, 8, 64, 128] does not match expected [B, Hkv, Smax, D] = [4, 8, 64, 64]}}
  attn.cache_attention %q, %kc, %vc lengths(%l) outs(%o) : memref<4x32x1x64xf32>, memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @decode_out(%q: memref<4x32x2x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+1 {{output shape [4, 32, 1, 128] does not match expected [B, Hq, Sq, Dv] = [4, 32, 2, 128]}}
  attn.cache_attention %q, %kc, %vc lengths(%l) outs(%o) : memref<4x32x2x128xf32>, memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @decode_lse(%q: memref<4x32x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>, %o: memref<4x32x1x128xf32>, %lse: memref<4x32xf32>) {
  // expected-error @+1 {{lse must have rank 3 [B, Hq, Sq], got rank 2}}
  attn.cache_attention %q, %kc, %vc lengths(%l) outs(%o, %lse : memref<4x32xf32>) : memref<4x32x1x128xf32>, memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @decode_paged_rank(%q: memref<4x32x1x128xf32>, %kc: memref<256x16x128xf32>, %vc: memref<256x16x128xf32>, %l: memref<4xi32>, %bt: memref<4x16xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+1 {{key_cache must have rank 4 (contiguous [B, Hkv, Smax, D], paged [P, page_size, Hkv, D] or hnd paged [P, Hkv, page_size, D]), got rank 3}}
  attn.cache_attention %q, %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) outs(%o) : memref<4x32x1x128xf32>, memref<256x16x128xf32>, memref<256x16x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @hnd_not_paged(%k: memref<4x8x1x128xf32>, %v: memref<4x8x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>) {
  // expected-error @+1 {{page_layout applies only to paged caches (with a block_table)}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) {page_layout = #attn.page_layout<hnd>} : memref<4x8x1x128xf32>, memref<4x8x1x128xf32> into memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32>
  return
}

// -----

func.func @hnd_append_heads(%k: memref<4x8x1x128xbf16>, %v: memref<4x8x1x128xbf16>, %kc: memref<256x16x8x128xbf16>, %vc: memref<256x16x8x128xbf16>, %l: memref<4xi32>, %bt: memref<4x16xi32>) {
  // expected-error @+1 {{key_cache shape [256, 16, 8, 128] does not match expected [P, Hkv, page_size, D] (hnd) = [256, 8, 8, 128]}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) {page_layout = #attn.page_layout<hnd>} : memref<4x8x1x128xbf16>, memref<4x8x1x128xbf16> into memref<256x16x8x128xbf16>, memref<256x16x8x128xbf16>, memref<4xi32>
  return
}

// -----

func.func @hnd_value_pool(%k: memref<4x8x1x128xbf16>, %v: memref<4x8x1x64xbf16>, %kc: memref<256x8x16x128xbf16>, %vc: memref<256x8x32x64xbf16>, %l: memref<4xi32>, %bt: memref<4x16xi32>) {
  // expected-error @+1 {{value_cache shape [256, 8, 32, 64] does not match expected [P, Hkv, page_size, Dv] (hnd) = [256, 8, 16, 64]}}
  attn.cache_append %k, %v into %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) {page_layout = #attn.page_layout<hnd>} : memref<4x8x1x128xbf16>, memref<4x8x1x64xbf16> into memref<256x8x16x128xbf16>, memref<256x8x32x64xbf16>, memref<4xi32>
  return
}

// -----

func.func @hnd_decode_not_paged(%q: memref<4x32x1x128xf32>, %kc: memref<4x8x64x128xf32>, %vc: memref<4x8x64x128xf32>, %l: memref<4xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+1 {{page_layout applies only to paged caches (with a block_table)}}
  attn.cache_attention %q, %kc, %vc lengths(%l) outs(%o) {page_layout = #attn.page_layout<hnd>} : memref<4x32x1x128xf32>, memref<4x8x64x128xf32>, memref<4x8x64x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @hnd_decode_heads(%q: memref<4x32x1x128xf32>, %kc: memref<256x5x16x128xf32>, %vc: memref<256x5x16x128xf32>, %l: memref<4xi32>, %bt: memref<4x16xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+1 {{query heads (32) must be a multiple of key/value heads (5)}}
  attn.cache_attention %q, %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) outs(%o) {page_layout = #attn.page_layout<hnd>} : memref<4x32x1x128xf32>, memref<256x5x16x128xf32>, memref<256x5x16x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @hnd_decode_rank(%q: memref<4x32x1x128xf32>, %kc: memref<256x8x128xf32>, %vc: memref<256x8x128xf32>, %l: memref<4xi32>, %bt: memref<4x16xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+1 {{key_cache must have rank 4}}
  attn.cache_attention %q, %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) outs(%o) {page_layout = #attn.page_layout<hnd>} : memref<4x32x1x128xf32>, memref<256x8x128xf32>, memref<256x8x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}

// -----

func.func @bad_page_layout(%q: memref<4x32x1x128xf32>, %kc: memref<256x8x16x128xf32>, %vc: memref<256x8x16x128xf32>, %l: memref<4xi32>, %bt: memref<4x16xi32>, %o: memref<4x32x1x128xf32>) {
  // expected-error @+2 {{expected ::mlir::attn::PageLayout to be one of: nhd, hnd}}
  // expected-error @+1 {{failed to parse}}
  attn.cache_attention %q, %kc, %vc lengths(%l) block_table(%bt : memref<4x16xi32>) outs(%o) {page_layout = #attn.page_layout<hdn>} : memref<4x32x1x128xf32>, memref<256x8x16x128xf32>, memref<256x8x16x128xf32>, memref<4xi32> -> memref<4x32x1x128xf32>
  return
}
