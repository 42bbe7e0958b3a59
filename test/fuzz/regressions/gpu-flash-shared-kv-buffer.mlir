// Two independent attentions in one function: each result gets its buffer
// (attn-gpu-flash then launches both).
func.func @two(%x: tensor<1x2x64x64xbf16>, %y: tensor<1x2x64x64xbf16>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  %a = attn.attention %x, %y, %y
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  %b = attn.attention %y, %x, %x
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  return %b, %a : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}
