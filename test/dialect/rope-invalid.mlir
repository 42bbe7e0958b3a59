// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @odd_rotary_dim(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x16xf32>, %sin: memref<16x16xf32>) {
  // expected-error @+1 {{rope rotary_dim must be even and positive, got 33}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf32>, memref<16x16xf32>) {rope = #attn.rope<style = neox, rotary_dim = 33>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @zero_rotary_dim(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x16xf32>, %sin: memref<16x16xf32>) {
  // expected-error @+1 {{rope rotary_dim must be even and positive, got 0}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf32>, memref<16x16xf32>) {rope = #attn.rope<style = interleaved, rotary_dim = 0>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @unknown_style(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x16xf32>, %sin: memref<16x16xf32>) {
  // expected-error @+2 {{expected ::mlir::attn::RopeStyle to be one of: neox, interleaved}}
  // expected-error @+1 {{failed to parse Attn_RopeAttr parameter 'style'}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf32>, memref<16x16xf32>) {rope = #attn.rope<style = gptj, rotary_dim = 32>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @rotary_dim_past_head_dim(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x40xf32>, %sin: memref<16x40xf32>) {
  // expected-error @+1 {{rope rotary_dim 80 exceeds the key head dim 64}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x40xf32>, memref<16x40xf32>) {rope = #attn.rope<style = neox, rotary_dim = 80>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @table_width(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x32xf32>, %sin: memref<16x32xf32>) {
  // expected-error @+1 {{rotary_cos has 32 columns, expected rotary_dim / 2 = 16}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x32xf32>, memref<16x32xf32>) {rope = #attn.rope<style = neox, rotary_dim = 32>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @table_rank(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x16xf32>, %sin: memref<16x16x1xf32>) {
  // expected-error @+1 {{rotary_sin must have rank 2 [max_pos, rotary_dim / 2], got rank 3}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf32>, memref<16x16x1xf32>) {rope = #attn.rope<style = neox, rotary_dim = 32>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @table_lengths_differ(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x16xf32>, %sin: memref<32x16xf32>) {
  // expected-error @+1 {{rotary_sin has 32 positions but rotary_cos has 16}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf32>, memref<32x16xf32>) {rope = #attn.rope<style = neox, rotary_dim = 32>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @table_dtypes_differ(%k: memref<1x2x1x64xbf16>, %v: memref<1x2x1x64xbf16>, %kc: memref<1x2x16x64xbf16>, %vc: memref<1x2x16x64xbf16>, %len: memref<1xi32>, %cos: memref<16x16xf32>, %sin: memref<16x16xbf16>) {
  // expected-error @+1 {{rotary_sin element type 'bf16' differs from rotary_cos element type 'f32'}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf32>, memref<16x16xbf16>) {rope = #attn.rope<style = neox, rotary_dim = 32>} : memref<1x2x1x64xbf16>, memref<1x2x1x64xbf16> into memref<1x2x16x64xbf16>, memref<1x2x16x64xbf16>, memref<1xi32>
  return
}

// -----

func.func @table_dtype(%k: memref<1x2x1x64xbf16>, %v: memref<1x2x1x64xbf16>, %kc: memref<1x2x16x64xbf16>, %vc: memref<1x2x16x64xbf16>, %len: memref<1xi32>, %cos: memref<16x16xf16>, %sin: memref<16x16xf16>) {
  // expected-error @+1 {{rotary_cos element type must be f32 or the key element type 'bf16', got 'f16'}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf16>, memref<16x16xf16>) {rope = #attn.rope<style = neox, rotary_dim = 32>} : memref<1x2x1x64xbf16>, memref<1x2x1x64xbf16> into memref<1x2x16x64xbf16>, memref<1x2x16x64xbf16>, memref<1xi32>
  return
}

// -----

// Static shapes: a position the cache can hold has no table row.
func.func @table_shorter_than_cache(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<8x16xf32>, %sin: memref<8x16xf32>) {
  // expected-error @+1 {{rotary tables hold 8 positions but the cache holds up to 16 (every cached position must have a table row)}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<8x16xf32>, memref<8x16xf32>) {rope = #attn.rope<style = neox, rotary_dim = 32>} : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @paged_table_shorter(%k: memref<2x2x1x64xf32>, %v: memref<2x2x1x64xf32>, %kc: memref<8x16x2x64xf32>, %vc: memref<8x16x2x64xf32>, %len: memref<2xi32>, %bt: memref<2x4xi32>, %cos: memref<63x16xf32>, %sin: memref<63x16xf32>) {
  // expected-error @+1 {{rotary tables hold 63 positions but the cache holds up to 64}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) block_table(%bt : memref<2x4xi32>) rotary(%cos, %sin : memref<63x16xf32>, memref<63x16xf32>) {rope = #attn.rope<style = neox, rotary_dim = 32>} : memref<2x2x1x64xf32>, memref<2x2x1x64xf32> into memref<8x16x2x64xf32>, memref<8x16x2x64xf32>, memref<2xi32>
  return
}

// -----

func.func @tables_without_rope(%k: memref<1x2x1x64xf32>, %v: memref<1x2x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %cos: memref<16x16xf32>, %sin: memref<16x16xf32>) {
  // expected-error @+1 {{rotary tables need a rope attribute}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x16xf32>, memref<16x16xf32>) : memref<1x2x1x64xf32>, memref<1x2x1x64xf32> into memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32>
  return
}

// -----

func.func @rope_without_tables(%q: memref<1x8x1x64xf32>, %kc: memref<1x2x16x64xf32>, %vc: memref<1x2x16x64xf32>, %len: memref<1xi32>, %o: memref<1x8x1x64xf32>) {
  // expected-error @+1 {{rope needs rotary(%cos, %sin) tables [max_pos, rotary_dim / 2]}}
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<1x8x1x64xf32>, memref<1x2x16x64xf32>, memref<1x2x16x64xf32>, memref<1xi32> -> memref<1x8x1x64xf32>
  return
}

// -----

func.func @query_rotary_dim(%q: memref<1x8x1x40xf32>, %kc: memref<1x2x16x40xf32>, %vc: memref<1x2x16x40xf32>, %len: memref<1xi32>, %cos: memref<16x24xf32>, %sin: memref<16x24xf32>, %o: memref<1x8x1x40xf32>) {
  // expected-error @+1 {{rope rotary_dim 48 exceeds the query head dim 40}}
  attn.cache_attention %q, %kc, %vc lengths(%len) rotary(%cos, %sin : memref<16x24xf32>, memref<16x24xf32>) outs(%o) {rope = #attn.rope<style = interleaved, rotary_dim = 48>} : memref<1x8x1x40xf32>, memref<1x2x16x40xf32>, memref<1x2x16x40xf32>, memref<1xi32> -> memref<1x8x1x40xf32>
  return
}

// -----

func.func @query_table_shorter(%q: memref<1x8x1x64xbf16>, %kc: memref<1x2x16x64xbf16>, %vc: memref<1x2x16x64xbf16>, %len: memref<1xi32>, %cos: memref<15x32xbf16>, %sin: memref<15x32xbf16>, %o: memref<1x8x1x64xbf16>) {
  // expected-error @+1 {{rotary tables hold 15 positions but the cache holds up to 16}}
  attn.cache_attention %q, %kc, %vc lengths(%len) rotary(%cos, %sin : memref<15x32xbf16>, memref<15x32xbf16>) outs(%o) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<1x8x1x64xbf16>, memref<1x2x16x64xbf16>, memref<1x2x16x64xbf16>, memref<1xi32> -> memref<1x8x1x64xbf16>
  return
}
