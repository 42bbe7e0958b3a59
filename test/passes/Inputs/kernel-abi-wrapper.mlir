// The runtime's kernel ABI of kernel-abi-plain.mlir, as
// runtime/KernelBuilder.cpp writes it (dynamic strides and offset).
!q = memref<2x8x256x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
!kv = memref<2x2x256x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @plain(%q: !q, %k: !kv, %v: !kv, %o: !q) attributes {llvm.emit_c_interface} {
  %qt = bufferization.to_tensor %q restrict : !q to tensor<2x8x256x64xbf16>
  %kt = bufferization.to_tensor %k restrict : !kv to tensor<2x2x256x64xbf16>
  %vt = bufferization.to_tensor %v restrict : !kv to tensor<2x2x256x64xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>}
      : tensor<2x8x256x64xbf16>, tensor<2x2x256x64xbf16>, tensor<2x2x256x64xbf16>
      -> tensor<2x8x256x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o
      : (tensor<2x8x256x64xbf16>, !q) -> ()
  return
}
