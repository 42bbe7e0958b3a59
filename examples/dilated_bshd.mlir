// Dilated (LongNet-style) local attention on BSHD tensors: each query sees
// every second key within 512 positions on either side.
func.func @dilated(%q: tensor<2x2048x16x64xf16>, %k: tensor<2x2048x16x64xf16>,
                   %v: tensor<2x2048x16x64xf16>) -> tensor<2x2048x16x64xf16> {
  %o = attn.attention %q, %k, %v
      {layout = #attn.layout<bshd>,
       mask = #attn.mask<window_left = 512, window_right = 512, dilation = 2>}
      : tensor<2x2048x16x64xf16>, tensor<2x2048x16x64xf16>, tensor<2x2048x16x64xf16>
      -> tensor<2x2048x16x64xf16>
  return %o : tensor<2x2048x16x64xf16>
}
