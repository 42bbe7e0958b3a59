// Run-time sizes on the GPU: what still needs static sizes is a located
// error of attn-gpu-flash.
// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash='kv-splits=4' 2>&1 | FileCheck %s --check-prefix=SPLITS

// A bias (its shape would follow the run-time sizes).
func.func @bias(%q: memref<?x4x?x64xbf16>, %k: memref<?x4x?x64xbf16>, %v: memref<?x4x?x64xbf16>, %b: memref<1x4x1x90xf32>, %o: memref<?x4x?x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
  %bt = bufferization.to_tensor %b restrict : memref<1x4x1x90xf32> to tensor<1x4x1x90xf32>
  // expected-error @+1 {{attn-gpu-flash with run-time sizes (`?`) takes no bias, bool_mask or segment ids yet; give those kernels static sizes}}
  %r = attn.attention %qt, %kt, %vt bias(%bt : tensor<1x4x1x90xf32>) : tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16> -> tensor<?x4x?x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x4x?x64xbf16>, memref<?x4x?x64xbf16>) -> ()
  return
}

// -----

// A fixed split count: the partials' scratch would follow the sizes.
// SPLITS: error: 'attn.attention' op attn-gpu-flash: kv-splits 4 needs static sizes (run-time batch, Sq or Skv run unsplit)
func.func @splits(%q: memref<?x4x1x64xbf16>, %k: memref<?x4x?x64xbf16>, %v: memref<?x4x?x64xbf16>, %o: memref<?x4x1x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x4x1x64xbf16> to tensor<?x4x1x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<?x4x1x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16> -> tensor<?x4x1x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x4x1x64xbf16>, memref<?x4x1x64xbf16>) -> ()
  return
}
