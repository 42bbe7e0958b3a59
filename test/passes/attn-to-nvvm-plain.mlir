// attn-to-nvvm on plain tensor functions (attn-kernel-abi first).
// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-to-nvvm)' | FileCheck %s
// A plain function and the runtime's wrapper of the same op give the same
// kernels, byte for byte (only the host code differs: the wrapper's strided
// arguments are cast to dense memrefs).
// RUN: attn-opt %S/Inputs/kernel-abi-plain.mlir --pass-pipeline='builtin.module(attn-to-nvvm)' -o %t.plain.mlir
// RUN: FileCheck %s --input-file=%t.plain.mlir --check-prefix=PLAIN
// RUN: %python %attn_src/scripts/extract-ptx.py < %t.plain.mlir > %t.plain.ptx
// RUN: attn-opt %S/Inputs/kernel-abi-wrapper.mlir --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.wrapper.ptx
// RUN: diff %t.plain.ptx %t.wrapper.ptx
// RUN: FileCheck %s --input-file=%t.plain.ptx --check-prefix=PTX
// PTX: .entry plain_flash(
// PLAIN-LABEL: func.func @plain(
// PLAIN-SAME: %[[Q:.*]]: memref<2x8x256x64xbf16>, %[[K:.*]]: memref<2x2x256x64xbf16>, %[[V:.*]]: memref<2x2x256x64xbf16>, %[[O:.*]]: memref<2x8x256x64xbf16>) {
// PLAIN-NOT: bufferization
// PLAIN-NOT: memref.cast
// PLAIN: gpu.launch_func @attn_gpu::@plain_flash {{.*}} args(%[[Q]] : memref<2x8x256x64xbf16>, %[[K]] : memref<2x2x256x64xbf16>, %[[V]] : memref<2x2x256x64xbf16>, %[[O]] : memref<2x8x256x64xbf16>)
// PLAIN-NEXT: return
// PLAIN: gpu.binary @attn_gpu

// Two attentions of one function: two kernels, two launches.
// CHECK-LABEL: func.func @two(
// CHECK: gpu.launch_func @attn_gpu::@two_flash
// CHECK: gpu.launch_func @attn_gpu::@two_flash_1
// CHECK: gpu.binary @attn_gpu
func.func @two(%x: tensor<1x2x64x64xf16>, %y: tensor<1x2x64x64xf16>)
    -> (tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>) {
  %a = attn.attention %x, %y, %y
      : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
      -> tensor<1x2x64x64xf16>
  %b = attn.attention %y, %x, %x {mask = #attn.mask<causal = true>}
      : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
      -> tensor<1x2x64x64xf16>
  return %a, %b : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
}

// -----

// f32 attention: the kernels take f16/bf16 (the error says what to do).
func.func @f32(%q: tensor<1x2x64x64xf32>) -> tensor<1x2x64x64xf32> {
  // expected-error @+1 {{element type 'f32' is not supported on the GPU: convert the operands to bf16 or f16 before the kernel, or compile for the CPU (attn-to-cpu)}}
  %o = attn.attention %q, %q, %q
      : tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>
      -> tensor<1x2x64x64xf32>
  return %o : tensor<1x2x64x64xf32>
}

// -----

// Run-time batch and lengths compile (test/passes/gpu-flash-dynamic.mlir);
// head counts and head dims shape the kernel.
func.func @dynamic_heads(%q: tensor<1x?x64x64xbf16>) -> tensor<1x?x64x64xbf16> {
  // expected-error @+1 {{attn-gpu-flash needs static head counts and head dims (batch, Sq and Skv may be `?`)}}
  %o = attn.attention %q, %q, %q
      : tensor<1x?x64x64xbf16>, tensor<1x?x64x64xbf16>, tensor<1x?x64x64xbf16>
      -> tensor<1x?x64x64xbf16>
  return %o : tensor<1x?x64x64xbf16>
}

// -----

// Sinks: the kernel ABI passes them as an [Hq] f32 buffer.
// CHECK-LABEL: func.func @sinks(
// CHECK: gpu.launch_func @attn_gpu::@sinks_flash {{.*}} : memref<2xf32>
func.func @sinks(%q: tensor<1x2x64x64xbf16>, %s: tensor<2xf32>) -> tensor<1x2x64x64xbf16> {
  %o = attn.attention %q, %q, %q sinks(%s : tensor<2xf32>)
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  return %o : tensor<1x2x64x64xbf16>
}

// -----

// The backward's results are attn results: attn-kernel-abi converts the
// function (K and V read the query's buffer) and attn-gpu-backward lowers
// it to its three kernels.
// CHECK-LABEL: func.func @backward(
// CHECK: gpu.launch_func @attn_gpu::@backward_bwd_pre
// CHECK: gpu.launch_func @attn_gpu::@backward_bwd blocks
// CHECK: gpu.launch_func @attn_gpu::@backward_bwd_dq
func.func @backward(%q: tensor<1x2x64x64xbf16>, %o: tensor<1x2x64x64xbf16>,
                    %do: tensor<1x2x64x64xbf16>, %lse: tensor<1x2x64xf32>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  %dq, %dk, %dv = attn.attention_grad %q, %q, %q, %o, %do, %lse
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>,
        tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
  return %dq, %dk, %dv : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}
