// REQUIRES: ptxas
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{format=bin toolkit=%cuda_toolkit})' | FileCheck %s --check-prefix=CUBIN

// ptxas on the generated PTX: the prefill kernel (two m tiles per warp, the
// register-heaviest configuration) and the decode kernel fit in registers
// with no local-memory spills.
// PTXAS: Compiling entry function 'prefill_flash' for 'sm_90'
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS: Used {{[0-9]+}} registers

// A cubin (format=bin runs ptxas through gpu-module-to-binary).
// CUBIN: gpu.binary @attn_gpu  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, properties = {{.*}}, bin = "\7FELF

func.func @prefill(%q: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x32x512x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<2x32x512x128xbf16>, tensor<2x8x512x128xbf16>, tensor<2x8x512x128xbf16> -> tensor<2x32x512x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x512x128xbf16>, memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}
