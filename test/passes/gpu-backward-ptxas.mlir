// REQUIRES: ptxas
// The backward through attn-to-nvvm to PTX and ptxas (sm_90): the three
// kernels, tensor cores (mma.sync m16n8k16 on bf16 / f16), the dQ atomics,
// and no spills with the default Q tiles (d = 128: 32 rows, 255
// registers; d = 64: 64 rows).
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: FileCheck %s --input-file=%t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{format=bin toolkit=%cuda_toolkit})' | FileCheck %s --check-prefix=CUBIN
// 128-key blocks (8 warps, 256 threads) with 64-row tiles, the faster
// tiles on the H200: 255 registers, no spills either.
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{bwd-tile-keys=128 bwd-tile-rows=64})' | %python %attn_src/scripts/extract-ptx.py > %t128.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t128.ptx -o %t128.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// CHECK-LABEL: .entry gqa_bwd_pre(
// CHECK-LABEL: .entry gqa_bwd(
// CHECK: cp.async.cg.shared.global
// CHECK: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// CHECK: atom.global.add.f32
// CHECK-LABEL: .entry gqa_bwd_dq(
// CHECK-LABEL: .entry mha_bwd(
// CHECK: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK: atom.global.add.f32

// ptxas lists the kernels last defined first.
// PTXAS-LABEL: Function properties for mha_bwd
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for gqa_bwd
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CUBIN: gpu.binary @attn_gpu  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, properties = {{.*}}, bin = "\7FELF

func.func @gqa(%q: tensor<1x8x200x128xbf16>, %k: tensor<1x2x200x128xbf16>, %v: tensor<1x2x200x128xbf16>, %o: tensor<1x8x200x128xbf16>, %do: tensor<1x8x200x128xbf16>, %lse: tensor<1x8x200xf32>)
    -> (tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse {mask = #attn.mask<causal = true>}
      : tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x8x200x128xbf16>, tensor<1x8x200x128xbf16>, tensor<1x8x200xf32>
      -> tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>
  return %dq, %dk, %dv : tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>
}

func.func @mha(%q: tensor<2x4x77x64xf16>, %k: tensor<2x4x77x64xf16>, %v: tensor<2x4x77x64xf16>, %o: tensor<2x4x77x64xf16>, %do: tensor<2x4x77x64xf16>, %lse: tensor<2x4x77xf32>)
    -> (tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>, tensor<2x4x77xf32>
      -> tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>
  return %dq, %dk, %dv : tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>, tensor<2x4x77x64xf16>
}
