// REQUIRES: ptxas
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{format=bin toolkit=%cuda_toolkit})' | FileCheck %s --check-prefix=CUBIN
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --check-prefix=WGMMA --implicit-check-not=warning

// sm_90a (wgmma prefill): ptxas keeps the asynchronous wgmma chains (no
// "wgmma serialized" warning: no accumulator is touched between issue and
// wait); the causal kernel, holding the second M tile's scores in flight
// during the first one's softmax, spills at most 32 bytes.
// Run-time sizes (`?` batch, Sq, Skv; ptxas lists the kernels last
// defined first): the same registers and spill bounds as the static
// kernels, except that the mma.sync prefill reloads 24 bytes (12 static);
// the decode kernel splits per call (its combine kernel first).
// WGMMA-LABEL: Function properties for dyn_decode_combine
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// WGMMA-LABEL: Function properties for dyn_decode_flash
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// WGMMA-LABEL: Function properties for dyn_prefill_flash
// WGMMA-NEXT: {{[0-9]+}} bytes stack frame, {{[0-9]|[12][0-9]|3[0-2]}} bytes spill stores, {{[0-9]|[12][0-9]|3[0-2]}} bytes spill loads
// WGMMA-LABEL: Function properties for prefill_flash
// WGMMA-NEXT: {{[0-9]+}} bytes stack frame, {{[0-9]|[12][0-9]|3[0-2]}} bytes spill stores, {{[0-9]|[12][0-9]|3[0-2]}} bytes spill loads
// WGMMA-LABEL: Function properties for prefill_full_flash
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

// ptxas on the generated PTX. Decode kernels and the non-causal prefill
// kernel fit in registers; the causal prefill kernel (two m tiles of 16 rows
// per warp, 64-key tiles, d = 128: 255 registers) spills a few bytes, which
// measured faster on the H100 than 32-key tiles without spills (316 vs 261
// TF/s): the check bounds the spill at 16 bytes.
// PTXAS-LABEL: Function properties for dyn_decode_combine
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for dyn_decode_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for dyn_prefill_flash
// PTXAS-NEXT: {{[0-9]+}} bytes stack frame, {{[0-9]|1[0-6]}} bytes spill stores, {{[0-9]|1[0-9]|2[0-4]}} bytes spill loads
// PTXAS-LABEL: Function properties for prefill_flash
// PTXAS-NEXT: {{[0-9]+}} bytes stack frame, {{[0-9]|1[0-6]}} bytes spill stores, {{[0-9]|1[0-6]}} bytes spill loads
// PTXAS-LABEL: Function properties for prefill_full_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

// The `?` kernels take the buffers as pointers and batch, Sq, Skv as
// 64-bit parameters, which the PTX reads instead of constants.
// RUN: FileCheck %s --check-prefix=DYNPTX < %t90a.ptx
// DYNPTX-LABEL: .entry dyn_prefill_flash(
// DYNPTX: .param .u64 .ptr .align 1 dyn_prefill_flash_param_0,
// DYNPTX: .param .u64 {{.*}}dyn_prefill_flash_param_8
// DYNPTX-NOT: .entry
// DYNPTX: ld.param.b64 {{.*}}[dyn_prefill_flash_param_7]
// DYNPTX: cp.async.bulk.tensor.4d

// A cubin (format=bin runs ptxas through gpu-module-to-binary).
// CUBIN: gpu.binary @attn_gpu  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, properties = {{.*}}, bin = "\7FELF

func.func @decode(%q: memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<64x32x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<64x8x4096x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<64x8x4096x128xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<64x32x1x128xbf16>, tensor<64x8x4096x128xbf16>, tensor<64x8x4096x128xbf16> -> tensor<64x32x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<64x32x1x128xbf16>, memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

func.func @prefill_full(%q: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x32x512x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<2x32x512x128xbf16>, tensor<2x8x512x128xbf16>, tensor<2x8x512x128xbf16> -> tensor<2x32x512x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x512x128xbf16>, memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

func.func @prefill(%q: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x32x512x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<2x32x512x128xbf16>, tensor<2x8x512x128xbf16>, tensor<2x8x512x128xbf16> -> tensor<2x32x512x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x512x128xbf16>, memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

func.func @dyn_prefill(%q: memref<?x32x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<?x32x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x32x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x32x?x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x8x?x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x8x?x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<?x32x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16> -> tensor<?x32x?x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x32x?x128xbf16>, memref<?x32x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

func.func @dyn_decode(%q: memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x32x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x8x?x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x8x?x128xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<?x32x1x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16> -> tensor<?x32x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x32x1x128xbf16>, memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}
