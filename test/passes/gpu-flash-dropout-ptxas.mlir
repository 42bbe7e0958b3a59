// REQUIRES: ptxas
// Dropout kernels through ptxas (sm_90 mma.sync, sm_90a wgmma where the
// shape takes it): they assemble and keep every value in registers (the
// Philox rounds sit beside S and O: prefill blocks of two m tiles take
// 32-key tiles with dropout). Measured and left: d = 128 on wgmma spills 4
// bytes (docs/gpu.md, "Dropout").
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: FileCheck %s --check-prefix=WGMMA < %t90a.ptx

// PTXAS-LABEL: Function properties for prefill_d96_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for prefill_d64_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_d128_combine
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_d128_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

// The Philox products are 32x32->64 multiplies; d = 64 prefill is on wgmma.
// WGMMA-LABEL: .entry decode_d128_flash(
// WGMMA: mul.wide.u32
// WGMMA-LABEL: .entry prefill_d64_flash(
// WGMMA: wgmma.mma_async
// WGMMA: mul.wide.u32

func.func @decode_d128(%q: tensor<4x32x1x128xbf16>, %k: tensor<4x8x4096x128xbf16>, %v: tensor<4x8x4096x128xbf16>, %r: tensor<2xi64>) -> tensor<4x32x1x128xbf16> {
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>) {dropout_p = 0.5 : f64} : tensor<4x32x1x128xbf16>, tensor<4x8x4096x128xbf16>, tensor<4x8x4096x128xbf16> -> tensor<4x32x1x128xbf16>
  return %o : tensor<4x32x1x128xbf16>
}

func.func @prefill_d64(%q: tensor<2x8x1000x64xf16>, %k: tensor<2x2x1000x64xf16>, %v: tensor<2x2x1000x64xf16>, %r: tensor<2xi64>) -> tensor<2x8x1000x64xf16> {
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>) {dropout_p = 0.1 : f64, mask = #attn.mask<causal = true>} : tensor<2x8x1000x64xf16>, tensor<2x2x1000x64xf16>, tensor<2x2x1000x64xf16> -> tensor<2x8x1000x64xf16>
  return %o : tensor<2x8x1000x64xf16>
}

func.func @prefill_d96(%q: tensor<1x7x333x96xbf16>, %k: tensor<1x1x333x96xbf16>, %v: tensor<1x1x333x96xbf16>, %r: tensor<2xi64>) -> tensor<1x7x333x96xbf16> {
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>) {dropout_p = 0.3 : f64} : tensor<1x7x333x96xbf16>, tensor<1x1x333x96xbf16>, tensor<1x1x333x96xbf16> -> tensor<1x7x333x96xbf16>
  return %o : tensor<1x7x333x96xbf16>
}
