// Grouped-query causal prefill (Llama-3-8B shape): 32 query heads in groups
// of 4 over 8 K/V heads, head dim 128.
func.func @gqa_causal(%q: tensor<1x32x1024x128xf32>, %k: tensor<1x8x1024x128xf32>,
                      %v: tensor<1x8x1024x128xf32>) -> tensor<1x32x1024x128xf32> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<1x32x1024x128xf32>, tensor<1x8x1024x128xf32>, tensor<1x8x1024x128xf32>
      -> tensor<1x32x1024x128xf32>
  return %o : tensor<1x32x1024x128xf32>
}
