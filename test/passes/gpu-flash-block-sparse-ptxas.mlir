// REQUIRES: ptxas
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --check-prefix=WGMMA --implicit-check-not=warning

// Block-sparse kernels through ptxas (ptxas lists the kernels last defined
// first). The list build (bitmaps, ballot, union list) happens before the
// KV loop; in the loop only the tile's list entry and, on masked tiles,
// each row's bitmap word are live. No spills: the GQA 4:1 causal prefill
// at d = 64 (mma.sync; wgmma on sm_90a) and the split-KV decode at
// d = 128 with per-head lists, and the wgmma prefill at d = 128. The
// mma.sync causal prefill at d = 128 (255 registers) spills 24 bytes
// (40 reloaded) where the dense kernel spills 12 (24): bounded here.
// PTXAS-LABEL: Function properties for decode_combine
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for sparse128_flash
// PTXAS-NEXT: {{[0-9]+}} bytes stack frame, {{[0-9]|[12][0-9]|3[0-2]}} bytes spill stores, {{[0-9]|[1-3][0-9]|4[0-8]}} bytes spill loads
// PTXAS-LABEL: Function properties for sparse_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// WGMMA-LABEL: Function properties for decode_flash
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// WGMMA-LABEL: Function properties for sparse128_flash
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// WGMMA-LABEL: Function properties for sparse_flash
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @sparse(%q: memref<1x8x300x64xbf16>, %k: memref<1x2x500x64xbf16>, %v: memref<1x2x500x64xbf16>, %n: memref<1x8x3xi32>, %i: memref<1x8x3x4xi32>, %o: memref<1x8x300x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x300x64xbf16> to tensor<1x8x300x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x500x64xbf16> to tensor<1x2x500x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x500x64xbf16> to tensor<1x2x500x64xbf16>
  %nt = bufferization.to_tensor %n restrict : memref<1x8x3xi32> to tensor<1x8x3xi32>
  %it = bufferization.to_tensor %i restrict : memref<1x8x3x4xi32> to tensor<1x8x3x4xi32>
  %r = attn.attention %qt, %kt, %vt block_mask(%nt, %it : tensor<1x8x3xi32>, tensor<1x8x3x4xi32>) block_size [128, 128] {mask = #attn.mask<causal = true>} : tensor<1x8x300x64xbf16>, tensor<1x2x500x64xbf16>, tensor<1x2x500x64xbf16> -> tensor<1x8x300x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x300x64xbf16>, memref<1x8x300x64xbf16>) -> ()
  return
}

func.func @sparse128(%q: memref<1x8x1000x128xbf16>, %k: memref<1x2x1000x128xbf16>, %v: memref<1x2x1000x128xbf16>, %n: memref<1x8x8xi32>, %i: memref<1x8x8x8xi32>, %o: memref<1x8x1000x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x1000x128xbf16> to tensor<1x8x1000x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x1000x128xbf16> to tensor<1x2x1000x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x1000x128xbf16> to tensor<1x2x1000x128xbf16>
  %nt = bufferization.to_tensor %n restrict : memref<1x8x8xi32> to tensor<1x8x8xi32>
  %it = bufferization.to_tensor %i restrict : memref<1x8x8x8xi32> to tensor<1x8x8x8xi32>
  %r = attn.attention %qt, %kt, %vt block_mask(%nt, %it : tensor<1x8x8xi32>, tensor<1x8x8x8xi32>) block_size [128, 128] {mask = #attn.mask<causal = true>} : tensor<1x8x1000x128xbf16>, tensor<1x2x1000x128xbf16>, tensor<1x2x1000x128xbf16> -> tensor<1x8x1000x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x1000x128xbf16>, memref<1x8x1000x128xbf16>) -> ()
  return
}
func.func @decode(%q: memref<2x8x1x128xbf16>, %k: memref<2x2x3000x128xbf16>, %v: memref<2x2x3000x128xbf16>, %n: memref<1x8x1xi32>, %i: memref<1x8x1x24xi32>, %o: memref<2x8x1x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x8x1x128xbf16> to tensor<2x8x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x2x3000x128xbf16> to tensor<2x2x3000x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x2x3000x128xbf16> to tensor<2x2x3000x128xbf16>
  %nt = bufferization.to_tensor %n restrict : memref<1x8x1xi32> to tensor<1x8x1xi32>
  %it = bufferization.to_tensor %i restrict : memref<1x8x1x24xi32> to tensor<1x8x1x24xi32>
  %r = attn.attention %qt, %kt, %vt block_mask(%nt, %it : tensor<1x8x1xi32>, tensor<1x8x1x24xi32>) block_size [128, 128] : tensor<2x8x1x128xbf16>, tensor<2x2x3000x128xbf16>, tensor<2x2x3000x128xbf16> -> tensor<2x8x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x8x1x128xbf16>, memref<2x8x1x128xbf16>) -> ()
  return
}
