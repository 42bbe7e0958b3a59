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
// SPLITS: error: 'attn.attention' op attn-gpu-flash: kv-splits 4 needs static sizes (kernels of run-time sizes choose their split count per call; kv-splits=1 keeps them unsplit)
func.func @splits(%q: memref<?x4x1x64xbf16>, %k: memref<?x4x?x64xbf16>, %v: memref<?x4x?x64xbf16>, %o: memref<?x4x1x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x4x1x64xbf16> to tensor<?x4x1x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<?x4x1x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16> -> tensor<?x4x1x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x4x1x64xbf16>, memref<?x4x1x64xbf16>) -> ()
  return
}

// -----

// KV-cache ops: heads, head dims and the page size shape the kernels.
func.func @cache_heads(%q: memref<?x?x1x64xbf16>, %kc: memref<32x16x2x64xbf16>, %vc: memref<32x16x2x64xbf16>, %len: memref<?xi32>, %bt: memref<?x8xi32>, %o: memref<?x?x1x64xbf16>) {
  // expected-error @+1 {{attn-gpu-flash needs static heads, head dims and page size (batch, the query or chunk length, the cache capacity and the page count may be `?`)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x8xi32>) outs(%o) : memref<?x?x1x64xbf16>, memref<32x16x2x64xbf16>, memref<32x16x2x64xbf16>, memref<?xi32> -> memref<?x?x1x64xbf16>
  return
}

// -----

func.func @append_page_size(%k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x64xbf16>, %kc: memref<32x?x2x64xbf16>, %vc: memref<32x?x2x64xbf16>, %len: memref<?xi32>, %nl: memref<?xi32>, %bt: memref<?x8xi32>) {
  // expected-error @+1 {{attn-gpu-flash needs static heads, head dims and page size}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%nl : memref<?xi32>) block_table(%bt : memref<?x8xi32>) : memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16> into memref<32x?x2x64xbf16>, memref<32x?x2x64xbf16>, memref<?xi32>
  return
}
