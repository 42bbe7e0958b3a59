// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash

// Block-sparse masks have no GPU lowering yet: a located error, not a
// kernel that ignores the lists.
func.func @block_mask(%q: memref<1x4x128x64xbf16>, %k: memref<1x2x256x64xbf16>, %v: memref<1x2x256x64xbf16>, %n: memref<1x1x2xi32>, %i: memref<1x1x2x4xi32>, %o: memref<1x4x128x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x128x64xbf16> to tensor<1x4x128x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x256x64xbf16> to tensor<1x2x256x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x256x64xbf16> to tensor<1x2x256x64xbf16>
  %nt = bufferization.to_tensor %n restrict : memref<1x1x2xi32> to tensor<1x1x2xi32>
  %it = bufferization.to_tensor %i restrict : memref<1x1x2x4xi32> to tensor<1x1x2x4xi32>
  // expected-error @+1 {{block-sparse masks are CPU-only for now (attn-gpu-flash; the CPU pipeline attn-to-cpu takes them)}}
  %r = attn.attention %qt, %kt, %vt block_mask(%nt, %it : tensor<1x1x2xi32>, tensor<1x1x2x4xi32>) block_size [64, 64] {mask = #attn.mask<causal = true>} : tensor<1x4x128x64xbf16>, tensor<1x2x256x64xbf16>, tensor<1x2x256x64xbf16> -> tensor<1x4x128x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x128x64xbf16>, memref<1x4x128x64xbf16>) -> ()
  return
}
