// Decode with a contiguous per-sequence cache [B, Hkv, Smax, D], f32 queries
// over a bf16 cache, returning the log-sum-exp for a later split-KV merge.
func.func @contiguous_decode(
    %q: memref<4x32x1x128xf32>, %k_cache: memref<4x8x8192x128xbf16>,
    %v_cache: memref<4x8x8192x128xbf16>, %lengths: memref<4xi32>,
    %out: memref<4x32x1x128xf32>, %lse: memref<4x32x1xf32>) {
  attn.cache_attention %q, %k_cache, %v_cache lengths(%lengths)
      outs(%out, %lse : memref<4x32x1xf32>)
      : memref<4x32x1x128xf32>, memref<4x8x8192x128xbf16>, memref<4x8x8192x128xbf16>,
        memref<4xi32> -> memref<4x32x1x128xf32>
  return
}
