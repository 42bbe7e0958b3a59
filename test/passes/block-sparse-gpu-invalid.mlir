// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash

// Block-sparse masks on the GPU need whole key tiles per KV block: 40 keys
// are no multiple of the smallest tile (16 keys), a located error rather
// than a kernel that reads across blocks.
func.func @odd_kv_block(%q: memref<1x4x128x64xbf16>, %k: memref<1x2x200x64xbf16>, %v: memref<1x2x200x64xbf16>, %n: memref<1x1x2xi32>, %i: memref<1x1x2x5xi32>, %o: memref<1x4x128x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x128x64xbf16> to tensor<1x4x128x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x200x64xbf16> to tensor<1x2x200x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x200x64xbf16> to tensor<1x2x200x64xbf16>
  %nt = bufferization.to_tensor %n restrict : memref<1x1x2xi32> to tensor<1x1x2xi32>
  %it = bufferization.to_tensor %i restrict : memref<1x1x2x5xi32> to tensor<1x1x2x5xi32>
  // expected-error @+1 {{attn-gpu-flash: block_size kv_block 40 must be a multiple of the kernel's key tile (16 keys here; the smallest is 16): each KV block runs as whole tiles}}
  %r = attn.attention %qt, %kt, %vt block_mask(%nt, %it : tensor<1x1x2xi32>, tensor<1x1x2x5xi32>) block_size [64, 40] {mask = #attn.mask<causal = true>} : tensor<1x4x128x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16> -> tensor<1x4x128x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x128x64xbf16>, memref<1x4x128x64xbf16>) -> ()
  return
}

// -----

// Run-time sizes: the kernel sizes its shared-memory bitmaps by the KV
// block count, so block-sparse kernels take static sizes.
func.func @run_time_sizes(%q: memref<?x4x128x64xbf16>, %k: memref<?x2x256x64xbf16>, %v: memref<?x2x256x64xbf16>, %n: memref<1x1x2xi32>, %i: memref<1x1x2x4xi32>, %o: memref<?x4x128x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x4x128x64xbf16> to tensor<?x4x128x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x2x256x64xbf16> to tensor<?x2x256x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x2x256x64xbf16> to tensor<?x2x256x64xbf16>
  %nt = bufferization.to_tensor %n restrict : memref<1x1x2xi32> to tensor<1x1x2xi32>
  %it = bufferization.to_tensor %i restrict : memref<1x1x2x4xi32> to tensor<1x1x2x4xi32>
  // expected-error @+1 {{attn-gpu-flash takes block-sparse masks with static sizes only (batch, Sq, Skv and the list shapes): the kernel sizes its shared-memory bitmaps by the KV block count}}
  %r = attn.attention %qt, %kt, %vt block_mask(%nt, %it : tensor<1x1x2xi32>, tensor<1x1x2x4xi32>) block_size [64, 64] : tensor<?x4x128x64xbf16>, tensor<?x2x256x64xbf16>, tensor<?x2x256x64xbf16> -> tensor<?x4x128x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x4x128x64xbf16>, memref<?x4x128x64xbf16>) -> ()
  return
}
