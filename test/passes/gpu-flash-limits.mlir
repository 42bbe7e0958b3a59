// The GPU kernels reject, with the reason, what a CUDA launch cannot run:
// zero sizes (an empty grid is a launch error; the CPU pipeline runs them
// as no-ops) and grids past CUDA's limits. These once divided by zero.
// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash

func.func @batch0(%q: memref<0x2x8x64xbf16>, %k: memref<0x2x8x64xbf16>, %v: memref<0x2x8x64xbf16>, %o: memref<0x2x8x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<0x2x8x64xbf16> to tensor<0x2x8x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<0x2x8x64xbf16> to tensor<0x2x8x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<0x2x8x64xbf16> to tensor<0x2x8x64xbf16>
  // expected-error @+1 {{attn-gpu-flash needs non-empty sizes (batch, query heads, Sq, Skv); zero-sized problems run on the CPU pipeline (attn-to-cpu)}}
  %r = attn.attention %qt, %kt, %vt : tensor<0x2x8x64xbf16>, tensor<0x2x8x64xbf16>, tensor<0x2x8x64xbf16> -> tensor<0x2x8x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<0x2x8x64xbf16>, memref<0x2x8x64xbf16>) -> ()
  return
}

// -----

func.func @no_keys(%q: memref<1x2x8x64xf16>, %k: memref<1x2x0x64xf16>, %v: memref<1x2x0x64xf16>, %o: memref<1x2x8x64xf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x8x64xf16> to tensor<1x2x8x64xf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x0x64xf16> to tensor<1x2x0x64xf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x0x64xf16> to tensor<1x2x0x64xf16>
  // expected-error @+1 {{attn-gpu-flash needs non-empty sizes}}
  %r = attn.attention %qt, %kt, %vt : tensor<1x2x8x64xf16>, tensor<1x2x0x64xf16>, tensor<1x2x0x64xf16> -> tensor<1x2x8x64xf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x8x64xf16>, memref<1x2x8x64xf16>) -> ()
  return
}

// -----

func.func @empty_block_table(%q: memref<1x8x1x64xbf16>, %kc: memref<4x16x2x64xbf16>, %vc: memref<4x16x2x64xbf16>, %len: memref<1xi32>, %bt: memref<1x0xi32>, %o: memref<1x8x1x64xbf16>) {
  // expected-error @+1 {{attn-gpu-flash needs non-empty sizes (batch, query heads, Sq, K/V heads, cache capacity, pages)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<1x0xi32>) outs(%o) : memref<1x8x1x64xbf16>, memref<4x16x2x64xbf16>, memref<4x16x2x64xbf16>, memref<1xi32> -> memref<1x8x1x64xbf16>
  return
}

// -----

func.func @append_no_pages(%k: memref<1x2x1x64xbf16>, %v: memref<1x2x1x64xbf16>, %kc: memref<0x16x2x64xbf16>, %vc: memref<0x16x2x64xbf16>, %len: memref<1xi32>, %bt: memref<1x4xi32>) {
  // expected-error @+1 {{attn-gpu-flash needs non-empty sizes (batch, K/V heads, Snew, pages)}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) block_table(%bt : memref<1x4xi32>) : memref<1x2x1x64xbf16>, memref<1x2x1x64xbf16> into memref<0x16x2x64xbf16>, memref<0x16x2x64xbf16>, memref<1xi32>
  return
}

// -----

// 70000 K/V heads: grid y past 65535.
func.func @grid_y(%q: memref<1x70000x1x64xbf16>, %k: memref<1x70000x64x64xbf16>, %v: memref<1x70000x64x64xbf16>, %o: memref<1x70000x1x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x70000x1x64xbf16> to tensor<1x70000x1x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x70000x64x64xbf16> to tensor<1x70000x64x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x70000x64x64xbf16> to tensor<1x70000x64x64xbf16>
  // expected-error @+1 {{attn-gpu-flash: grid (1, 70000, 1) exceeds CUDA's limits (2^31 - 1, 65535, 65535)}}
  %r = attn.attention %qt, %kt, %vt : tensor<1x70000x1x64xbf16>, tensor<1x70000x64x64xbf16>, tensor<1x70000x64x64xbf16> -> tensor<1x70000x1x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x70000x1x64xbf16>, memref<1x70000x1x64xbf16>) -> ()
  return
}
