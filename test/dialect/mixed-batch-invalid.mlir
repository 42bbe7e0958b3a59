// RUN: attn-opt %s -split-input-file -verify-diagnostics

// A packed query without its offsets.
func.func @packed_without_offsets(%q: memref<5x8x64xf32>, %kc: memref<2x2x32x64xf32>,
                                  %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                                  %o: memref<5x8x64xf32>) {
  // expected-error @+1 {{a rank-3 query [T, Hq, D] is packed: it needs query_offsets [B + 1]}}
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o)
      : memref<5x8x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<5x8x64xf32>
  return
}

// -----

// Offsets with a [B, Hq, Sq, D] query.
func.func @offsets_with_rank4(%q: memref<2x8x1x64xf32>, %kc: memref<2x2x32x64xf32>,
                              %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                              %qo: memref<3xi32>, %o: memref<2x8x1x64xf32>) {
  // expected-error @+1 {{query must have rank 3 [T, Hq, D] (packed by query_offsets), got rank 4}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o)
      : memref<2x8x1x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<2x8x1x64xf32>
  return
}

// -----

// B + 1 offsets for B sequences.
func.func @offsets_size(%q: memref<5x8x64xf32>, %kc: memref<2x2x32x64xf32>,
                        %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                        %qo: memref<2xi32>, %o: memref<5x8x64xf32>) {
  // expected-error @+1 {{query_offsets has 2 entries but the batch has 2 sequences: it needs B + 1 = 3}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<2xi32>) outs(%o)
      : memref<5x8x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<5x8x64xf32>
  return
}

// -----

func.func @offsets_rank(%q: memref<5x8x64xf32>, %kc: memref<2x2x32x64xf32>,
                        %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                        %qo: memref<3x1xi32>, %o: memref<5x8x64xf32>) {
  // expected-error @+1 {{query_offsets must have rank 1 [B + 1] (cumulative query counts), got rank 2}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3x1xi32>) outs(%o)
      : memref<5x8x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<5x8x64xf32>
  return
}

// -----

func.func @output_rows(%q: memref<5x8x64xf32>, %kc: memref<2x2x32x64xf32>,
                       %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                       %qo: memref<3xi32>, %o: memref<4x8x64xf32>) {
  // expected-error @+1 {{output shape [4, 8, 64] does not match expected [T, Hq, Dv] = [5, 8, 64]}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o)
      : memref<5x8x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<4x8x64xf32>
  return
}

// -----

func.func @output_rank(%q: memref<5x8x64xf32>, %kc: memref<2x2x32x64xf32>,
                       %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                       %qo: memref<3xi32>, %o: memref<1x5x8x64xf32>) {
  // expected-error @+1 {{output must have rank 3 [T, Hq, Dv], got rank 4}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o)
      : memref<5x8x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<1x5x8x64xf32>
  return
}

// -----

func.func @lse_shape(%q: memref<5x8x64xf32>, %kc: memref<2x2x32x64xf32>,
                     %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                     %qo: memref<3xi32>, %o: memref<5x8x64xf32>,
                     %lse: memref<2x8x1xf32>) {
  // expected-error @+1 {{lse must have rank 2 [T, Hq], got rank 3}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o, %lse : memref<2x8x1xf32>)
      : memref<5x8x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<5x8x64xf32>
  return
}

// -----

func.func @lse_rows(%q: memref<5x8x64xf32>, %kc: memref<2x2x32x64xf32>,
                    %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                    %qo: memref<3xi32>, %o: memref<5x8x64xf32>,
                    %lse: memref<5x4xf32>) {
  // expected-error @+1 {{lse shape [5, 4] does not match expected [T, Hq] = [5, 8]}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o, %lse : memref<5x4xf32>)
      : memref<5x8x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<5x8x64xf32>
  return
}

// -----

// The batch comes from the lengths; a contiguous cache of another batch.
func.func @cache_batch(%q: memref<5x8x64xf32>, %kc: memref<3x2x32x64xf32>,
                       %vc: memref<3x2x32x64xf32>, %len: memref<2xi32>,
                       %qo: memref<3xi32>, %o: memref<5x8x64xf32>) {
  // expected-error @+1 {{key_cache shape [3, 2, 32, 64] does not match expected [B, Hkv, Smax, D] = [2, 2, 32, 64]}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o)
      : memref<5x8x64xf32>, memref<3x2x32x64xf32>, memref<3x2x32x64xf32>,
        memref<2xi32> -> memref<5x8x64xf32>
  return
}

// -----

// Packed query heads must be a multiple of the cache's K/V heads.
func.func @packed_heads(%q: memref<5x3x64xf32>, %kc: memref<2x2x32x64xf32>,
                        %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                        %qo: memref<3xi32>, %o: memref<5x3x64xf32>) {
  // expected-error @+1 {{query heads (3) must be a multiple of key/value heads (2)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o)
      : memref<5x3x64xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<5x3x64xf32>
  return
}

// -----

// The head dim of a packed query is its last dim.
func.func @packed_head_dim(%q: memref<5x8x32xf32>, %kc: memref<2x2x32x64xf32>,
                           %vc: memref<2x2x32x64xf32>, %len: memref<2xi32>,
                           %qo: memref<3xi32>, %o: memref<5x8x64xf32>) {
  // expected-error @+1 {{key_cache shape [2, 2, 32, 64] does not match expected [B, Hkv, Smax, D] = [2, 2, 32, 32]}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) outs(%o)
      : memref<5x8x32xf32>, memref<2x2x32x64xf32>, memref<2x2x32x64xf32>,
        memref<2xi32> -> memref<5x8x64xf32>
  return
}
