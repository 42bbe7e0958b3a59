// Multi-query attention: 16 query heads share one K/V head (PaLM style).
func.func @mqa(%q: tensor<2x16x512x128xbf16>, %k: tensor<2x1x512x128xbf16>,
               %v: tensor<2x1x512x128xbf16>) -> tensor<2x16x512x128xbf16> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<2x16x512x128xbf16>, tensor<2x1x512x128xbf16>, tensor<2x1x512x128xbf16>
      -> tensor<2x16x512x128xbf16>
  return %o : tensor<2x16x512x128xbf16>
}
