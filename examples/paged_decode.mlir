// One decode step of a GQA model over a paged KV cache (vLLM layout):
// append each sequence's new K/V row, then attend its query over the cache.
// 16 sequences, pages of 16 tokens, up to 256 pages (4096 tokens) each.
func.func @paged_decode_step(
    %k_new: memref<16x8x1x128xbf16>, %v_new: memref<16x8x1x128xbf16>,
    %k_pool: memref<4096x16x8x128xbf16>, %v_pool: memref<4096x16x8x128xbf16>,
    %lengths_before: memref<16xi32>, %lengths_after: memref<16xi32>,
    %block_table: memref<16x256xi32>,
    %q: memref<16x32x1x128xbf16>, %out: memref<16x32x1x128xbf16>) {
  attn.cache_append %k_new, %v_new into %k_pool, %v_pool lengths(%lengths_before)
      block_table(%block_table : memref<16x256xi32>)
      : memref<16x8x1x128xbf16>, memref<16x8x1x128xbf16>
        into memref<4096x16x8x128xbf16>, memref<4096x16x8x128xbf16>, memref<16xi32>
  attn.cache_attention %q, %k_pool, %v_pool lengths(%lengths_after)
      block_table(%block_table : memref<16x256xi32>) outs(%out)
      {mask = #attn.mask<causal = true>}
      : memref<16x32x1x128xbf16>, memref<4096x16x8x128xbf16>, memref<4096x16x8x128xbf16>,
        memref<16xi32> -> memref<16x32x1x128xbf16>
  return
}
