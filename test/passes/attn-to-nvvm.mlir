// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-to-nvvm)' | FileCheck %s
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-to-nvvm)' -o %t.mlir
// RUN: %python %attn_src/scripts/extract-ptx.py < %t.mlir | FileCheck %s --check-prefix=PTX
// The same kernels target sm_80 (Ampere: mma.sync, ldmatrix and cp.async all
// exist there) and sm_90a.
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_80 features=+ptx70})' | FileCheck %s --check-prefix=SM80
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | FileCheck %s --check-prefix=SM90A
// SM80: #nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">
// SM80-SAME: .target sm_80
// SM80-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a mma=sync})' | FileCheck %s --check-prefix=SM90S --implicit-check-not=wgmma
// The pipeline's enum options reject unknown values when the pipeline is
// parsed, before any IR is touched; opt-level is an option too.
// RUN: not attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{format=elf})' 2>&1 | FileCheck %s --check-prefix=BADFMT
// RUN: not attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{mma=tensor})' 2>&1 | FileCheck %s --check-prefix=BADMMA
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-to-nvvm{opt-level=1})' | FileCheck %s --check-prefix=OPT1
// BADFMT: for the --format option: Cannot find option named 'elf'!
// BADMMA: for the --mma option: Cannot find option named 'tensor'!
// OPT1: #nvvm.target<O = 1,
// On sm_90a the prefill kernels are warpgroup MMA (wgmma) over swizzled
// shared-memory tiles that the bulk tensor copy engine fills (mbarrier per
// stage): Q·Kᵀ from two descriptors, P·V with P in registers; mma=sync
// keeps mma.sync there.
// SM90A: .target sm_90a
// SM90A-SAME: mbarrier.init.shared.b64
// SM90A-SAME: fence.proxy.async.shared::cta
// SM90A-SAME: cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// SM90A-SAME: mbarrier.try_wait.parity.shared.b64
// SM90A-SAME: wgmma.fence.sync.aligned
// SM90A-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// SM90A-SAME: wgmma.commit_group.sync.aligned
// SM90A-SAME: wgmma.wait_group.sync.aligned 1
// SM90A-SAME: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// SM90S: .target sm_90a
// SM90S-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32

// The whole attn-to-nvvm pipeline without a GPU: the kernels become PTX for
// sm_90 inside gpu.binary (the default format "isa" needs no toolkit), the
// host function keeps its launches. The PTX has tensor-core mma.sync, ldmatrix
// (plain for Q/K, transposed for V) from shared memory, cp.async staging and
// the approximate exp2, and calls no libdevice function.
// CHECK-LABEL: func.func @prefill
// CHECK: gpu.launch_func @attn_gpu::@prefill_flash
// CHECK: gpu.binary @attn_gpu [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, properties = {{.*}}, assembly = "
// CHECK-NOT: __nv_
// PTX: .target sm_90
// PTX: .entry prefill_flash(
// PTX-DAG: cp.async.cg.shared.global
// PTX-DAG: cp.async.wait_group 1
// PTX-DAG: bar.sync
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-DAG: ex2.approx.ftz.f32
// PTX-DAG: shfl.sync.bfly.b32
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16

func.func @prefill(%q: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x32x512x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x512x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<2x32x512x128xbf16>, tensor<2x8x512x128xbf16>, tensor<2x8x512x128xbf16> -> tensor<2x32x512x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x512x128xbf16>, memref<2x32x512x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// CHECK-LABEL: func.func @decode
// 512 blocks (almost 4 per SM) need no KV split.
// CHECK: gpu.launch_func @attn_gpu::@decode_flash blocks in (%c1, %c8, %c64) threads in (%c128, %c1, %c1)
// CHECK-NOT: decode_combine
// CHECK: gpu.binary @attn_gpu
// CHECK-NOT: __nv_

func.func @decode(%q: memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<64x32x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<64x8x4096x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<64x8x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<64x8x4096x128xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<64x32x1x128xbf16>, tensor<64x8x4096x128xbf16>, tensor<64x8x4096x128xbf16> -> tensor<64x32x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<64x32x1x128xbf16>, memref<64x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}
