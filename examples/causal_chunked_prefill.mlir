// Causal attention of a 256-token chunk continuing a 768-token prefix: the
// queries sit at positions 768..1023 of the 1024 keys (q_offset = 768).
func.func @chunked_prefill(%q: tensor<1x32x256x128xf16>, %k: tensor<1x8x1024x128xf16>,
                           %v: tensor<1x8x1024x128xf16>)
    -> (tensor<1x32x256x128xf16>, tensor<1x32x256xf32>) {
  %o, %lse = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, q_offset = 768>}
      : tensor<1x32x256x128xf16>, tensor<1x8x1024x128xf16>, tensor<1x8x1024x128xf16>
      -> tensor<1x32x256x128xf16>, tensor<1x32x256xf32>
  return %o, %lse : tensor<1x32x256x128xf16>, tensor<1x32x256xf32>
}
