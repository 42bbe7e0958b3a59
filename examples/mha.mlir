// Multi-head attention (BERT-base shape): every query head has its own K/V.
func.func @mha(%q: tensor<8x12x1024x64xf32>, %k: tensor<8x12x1024x64xf32>,
               %v: tensor<8x12x1024x64xf32>) -> tensor<8x12x1024x64xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<8x12x1024x64xf32>, tensor<8x12x1024x64xf32>, tensor<8x12x1024x64xf32>
      -> tensor<8x12x1024x64xf32>
  return %o : tensor<8x12x1024x64xf32>
}
