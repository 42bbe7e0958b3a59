// RUN: attn-opt %s -split-input-file -verify-diagnostics
// The sizes the verifier bounds (dialect/Limits.h, docs/reliability.md):
// past them an index computation of a lowering would overflow its type.

// S = 2^63 - 1 (once SIGFPE / signed overflow in attn-to-nvvm).
func.func @huge_seq(%q: tensor<1x16x1x128xbf16>, %k: tensor<1x1x9223372036854775807x128xbf16>, %v: tensor<1x1x9223372036854775807x128xbf16>) {
  // expected-error @+1 {{operand #1 dim 9223372036854775807 exceeds the limit of 2147483647 (positions and lengths are i32)}}
  %o = attn.attention %q, %k, %v : tensor<1x16x1x128xbf16>, tensor<1x1x9223372036854775807x128xbf16>, tensor<1x1x9223372036854775807x128xbf16> -> tensor<1x16x1x128xbf16>
  return
}

// -----

func.func @too_many_elements(%q: tensor<65536x1x65536x1024xf32>, %k: tensor<65536x1x16x1024xf32>, %v: tensor<65536x1x16x1024xf32>) {
  // expected-error @+1 {{operand #0 shape [65536, 1, 65536, 1024] has more than 1099511627776 elements}}
  %o = attn.attention %q, %k, %v : tensor<65536x1x65536x1024xf32>, tensor<65536x1x16x1024xf32>, tensor<65536x1x16x1024xf32> -> tensor<65536x1x65536x1024xf32>
  return
}

// -----

// D = 16384 once took 33 s to compile.
func.func @head_dim(%q: tensor<1x1x16x2048xf32>, %k: tensor<1x1x16x2048xf32>, %v: tensor<1x1x16x2048xf32>) {
  // expected-error @+1 {{head dim D must be in [1, 1024], got 2048}}
  %o = attn.attention %q, %k, %v : tensor<1x1x16x2048xf32>, tensor<1x1x16x2048xf32>, tensor<1x1x16x2048xf32> -> tensor<1x1x16x2048xf32>
  return
}

// -----

func.func @zero_head_dim(%q: tensor<1x1x16x0xf32>, %k: tensor<1x1x16x0xf32>, %v: tensor<1x1x16x16xf32>) {
  // expected-error @+1 {{head dim D must be in [1, 1024], got 0}}
  %o = attn.attention %q, %k, %v : tensor<1x1x16x0xf32>, tensor<1x1x16x0xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x16x16xf32>
  return
}

// -----

func.func @value_dim(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x1025xf32>) {
  // expected-error @+1 {{value head dim Dv must be in [1, 1024], got 1025}}
  %o = attn.attention %q, %k, %v : tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x1025xf32> -> tensor<1x1x16x1025xf32>
  return
}

// -----

// 4096 query heads per K/V head once took 12.6 s and 1.4 GB to compile.
func.func @group(%q: tensor<1x4096x1x64xf32>, %k: tensor<1x1x16x64xf32>, %v: tensor<1x1x16x64xf32>) {
  // expected-error @+1 {{query heads per key/value head (4096 / 1) exceed the limit of 256}}
  %o = attn.attention %q, %k, %v : tensor<1x4096x1x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32> -> tensor<1x4096x1x64xf32>
  return
}

// -----

// Query positions q_offset + q are i32 lanes in the CPU mask code.
func.func @query_positions(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x40x16xf32>, %v: tensor<1x1x40x16xf32>) {
  // expected-error @+1 {{mask q_offset + Sq (2147483647 + 16) exceeds the limit of 2147483647 (query positions are i32)}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, q_offset = 2147483647>} : tensor<1x1x16x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32> -> tensor<1x1x16x16xf32>
  return
}

// -----

func.func @global_tokens(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x40x16xf32>, %v: tensor<1x1x40x16xf32>) {
  // expected-error @+1 {{mask global_tokens 2147483648 exceeds the limit of 2147483647}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<window_left = 3, global_tokens = 2147483648>} : tensor<1x1x16x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32> -> tensor<1x1x16x16xf32>
  return
}

// -----

func.func @dilation(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x40x16xf32>, %v: tensor<1x1x40x16xf32>) {
  // expected-error @+1 {{mask dilation 4294967296 exceeds the limit of 2147483647}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<dilation = 4294967296>} : tensor<1x1x16x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32> -> tensor<1x1x16x16xf32>
  return
}

// -----

func.func @q_offset(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x40x16xf32>, %v: tensor<1x1x40x16xf32>) {
  // expected-error @+1 {{mask q_offset 4611686018427387904 exceeds the limit of 2147483647}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, q_offset = 4611686018427387904>} : tensor<1x1x16x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32> -> tensor<1x1x16x16xf32>
  return
}

// -----

func.func @window(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x40x16xf32>, %v: tensor<1x1x40x16xf32>) {
  // expected-error @+1 {{mask window_right 9223372036854775800 exceeds the limit of 2147483647}}
  %o = attn.attention %q, %k, %v {mask = #attn.mask<window_left = 5, window_right = 9223372036854775800>} : tensor<1x1x16x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32> -> tensor<1x1x16x16xf32>
  return
}

// -----

// scale = FLT_MAX once gave NaN output.
func.func @scale(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x16xf32>) {
  // expected-error @+1 {{scale magnitude must be at most 65536 (got 3.402823e+38): larger scales overflow ordinary logits}}
  %o = attn.attention %q, %k, %v {scale = 3.4028235e38 : f32} : tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x1x16x16xf32>
  return
}

// -----

// cache_append with D = 2^31 once compiled for minutes.
func.func @append_head_dim(%k: memref<1x1x1x2147483648xf32>, %v: memref<1x1x1x2147483648xf32>, %kc: memref<1x1x8x2147483648xf32>, %vc: memref<1x1x8x2147483648xf32>, %len: memref<1xi32>) {
  // expected-error @+1 {{operand #0 dim 2147483648 exceeds the limit of 2147483647 (positions and lengths are i32)}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) : memref<1x1x1x2147483648xf32>, memref<1x1x1x2147483648xf32> into memref<1x1x8x2147483648xf32>, memref<1x1x8x2147483648xf32>, memref<1xi32>
  return
}

// -----

func.func @append_head_dim_small(%k: memref<1x1x1x4096xf32>, %v: memref<1x1x1x4096xf32>, %kc: memref<1x1x8x4096xf32>, %vc: memref<1x1x8x4096xf32>, %len: memref<1xi32>) {
  // expected-error @+1 {{head dim D must be in [1, 1024], got 4096}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) : memref<1x1x1x4096xf32>, memref<1x1x1x4096xf32> into memref<1x1x8x4096xf32>, memref<1x1x8x4096xf32>, memref<1xi32>
  return
}

// -----

func.func @page_size_zero(%q: memref<1x1x1x16xf32>, %kc: memref<4x0x1x16xf32>, %vc: memref<4x0x1x16xf32>, %len: memref<1xi32>, %bt: memref<1x4xi32>, %o: memref<1x1x1x16xf32>) {
  // expected-error @+1 {{page_size must be at least 1}}
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<1x4xi32>) outs(%o) : memref<1x1x1x16xf32>, memref<4x0x1x16xf32>, memref<4x0x1x16xf32>, memref<1xi32> -> memref<1x1x1x16xf32>
  return
}

// -----

func.func @paged_capacity(%q: memref<1x1x1x16xf32>, %kc: memref<4x65536x1x16xf32>, %vc: memref<4x65536x1x16xf32>, %len: memref<1xi32>, %bt: memref<1x65536xi32>, %o: memref<1x1x1x16xf32>) {
  // expected-error @+1 {{max_pages * page_size (65536 * 65536) exceeds the limit of 2147483647 positions per sequence (positions are i32)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<1x65536xi32>) outs(%o) : memref<1x1x1x16xf32>, memref<4x65536x1x16xf32>, memref<4x65536x1x16xf32>, memref<1xi32> -> memref<1x1x1x16xf32>
  return
}
