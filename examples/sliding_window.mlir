// Mistral-style causal sliding window of 4096 tokens, plus 4 global "sink"
// tokens every query keeps seeing (StreamingLLM), with Gemma-2 soft-capping.
func.func @sliding_window(%q: tensor<1x32x8192x128xbf16>, %k: tensor<1x8x8192x128xbf16>,
                          %v: tensor<1x8x8192x128xbf16>) -> tensor<1x32x8192x128xbf16> {
  %o = attn.attention %q, %k, %v
      {mask = #attn.mask<causal = true, window_left = 4095, global_tokens = 4>,
       softcap = 50.0 : f32}
      : tensor<1x32x8192x128xbf16>, tensor<1x8x8192x128xbf16>, tensor<1x8x8192x128xbf16>
      -> tensor<1x32x8192x128xbf16>
  return %o : tensor<1x32x8192x128xbf16>
}
