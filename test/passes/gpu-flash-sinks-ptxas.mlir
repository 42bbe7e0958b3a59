// REQUIRES: ptxas
// Kernels with attention sinks through ptxas (sm_90 mma.sync, sm_90a
// wgmma; ptxas lists the kernels last defined first): they assemble, the
// decode and combine kernels keep every value in registers, and the
// prefill kernels spill no more than their sinkless counterparts
// (attn-to-nvvm-ptxas.mlir).
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx

// PTXAS-LABEL: Function properties for paged_dynamic_combine
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for paged_dynamic_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_split_combine
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_split_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for prefill_flash
// PTXAS-NEXT: {{[0-9]+}} bytes stack frame, {{[0-9]|[12][0-9]|3[0-2]}} bytes spill stores, {{[0-9]|[12][0-9]|3[0-2]}} bytes spill loads

// The combine kernel reads the sinks (its fifth parameter) once per
// column it merges.
// PTX-LABEL: .entry decode_split_combine(
// PTX: ld.param.b64 %{{.*}}, [decode_split_combine_param_4];
// PTX: ld.global.b32

func.func @prefill(%q: memref<2x32x512x128xbf16>, %k: memref<2x8x512x128xbf16>, %v: memref<2x8x512x128xbf16>, %s: memref<32xf32>, %o: memref<2x32x512x128xbf16>, %l: memref<2x32x512xf32>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x512x128xbf16> to tensor<2x32x512x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x512x128xbf16> to tensor<2x8x512x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x512x128xbf16> to tensor<2x8x512x128xbf16>
  %st = bufferization.to_tensor %s restrict : memref<32xf32> to tensor<32xf32>
  %r, %rl = attn.attention %qt, %kt, %vt sinks(%st : tensor<32xf32>) {mask = #attn.mask<causal = true, window_left = 200>} : tensor<2x32x512x128xbf16>, tensor<2x8x512x128xbf16>, tensor<2x8x512x128xbf16> -> tensor<2x32x512x128xbf16>, tensor<2x32x512xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x512x128xbf16>, memref<2x32x512x128xbf16>) -> ()
  bufferization.materialize_in_destination %rl in restrict writable %l : (tensor<2x32x512xf32>, memref<2x32x512xf32>) -> ()
  return
}

// Head dim 72 (an odd multiple of 8), GQA 7:1, split KV.
func.func @decode_split(%q: memref<1x7x1x72xf16>, %k: memref<1x1x4096x72xf16>, %v: memref<1x1x4096x72xf16>, %s: memref<7xf32>, %o: memref<1x7x1x72xf16>, %l: memref<1x7x1xf32>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x7x1x72xf16> to tensor<1x7x1x72xf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x1x4096x72xf16> to tensor<1x1x4096x72xf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x1x4096x72xf16> to tensor<1x1x4096x72xf16>
  %st = bufferization.to_tensor %s restrict : memref<7xf32> to tensor<7xf32>
  %r, %rl = attn.attention %qt, %kt, %vt sinks(%st : tensor<7xf32>) : tensor<1x7x1x72xf16>, tensor<1x1x4096x72xf16>, tensor<1x1x4096x72xf16> -> tensor<1x7x1x72xf16>, tensor<1x7x1xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x7x1x72xf16>, memref<1x7x1x72xf16>) -> ()
  bufferization.materialize_in_destination %rl in restrict writable %l : (tensor<1x7x1xf32>, memref<1x7x1xf32>) -> ()
  return
}

func.func @paged_dynamic(%q: memref<?x8x1x128xbf16>, %kc: memref<?x16x2x128xbf16>, %vc: memref<?x16x2x128xbf16>, %len: memref<?xi32>, %bt: memref<?x?xi32>, %s: memref<8xf32>, %o: memref<?x8x1x128xbf16>, %l: memref<?x8x1xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x?xi32>) sinks(%s : memref<8xf32>) outs(%o, %l : memref<?x8x1xf32>) {mask = #attn.mask<causal = true>} : memref<?x8x1x128xbf16>, memref<?x16x2x128xbf16>, memref<?x16x2x128xbf16>, memref<?xi32> -> memref<?x8x1x128xbf16>
  return
}
