// A plain tensor function for attn-to-nvvm-plain.mlir; the runtime's
// wrapper of the same op is kernel-abi-wrapper.mlir.
func.func @plain(%q: tensor<2x8x256x64xbf16>, %k: tensor<2x2x256x64xbf16>,
                 %v: tensor<2x2x256x64xbf16>) -> tensor<2x8x256x64xbf16> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<2x8x256x64xbf16>, tensor<2x2x256x64xbf16>, tensor<2x2x256x64xbf16>
      -> tensor<2x8x256x64xbf16>
  return %o : tensor<2x8x256x64xbf16>
}
