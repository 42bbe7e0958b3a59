// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash='mma=wgmma' --canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash='mma=wgmma tma=false' --canonicalize | FileCheck %s --check-prefix=CPASYNC
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='mma=auto' --canonicalize | FileCheck %s --check-prefix=AUTO
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='mma=auto warp-row-tiles=1' --canonicalize | FileCheck %s --check-prefix=TWOWG
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash='mma=tensor' 2>&1 | FileCheck %s --check-prefix=BADOPT

// Hopper prefill (GQA 4:1, causal, bf16, d = 128): the block is one
// warpgroup, its 128 rows two M tiles of 64. K and V tiles (64 keys) sit in
// 128-byte-swizzled 64-column blocks behind a 1024-byte alignment of the
// dynamic shared memory: 2 stages x (K + V) x 16 KiB + Q 32 KiB + 2
// mbarriers + 1 KiB slack.
// By default the tiles come from the bulk tensor copy engine: the host
// function allocates one tensor map per K and V (4-d: D, S, Hkv, B; box 64
// columns x 64 keys; 128-byte swizzle) for the runtime to encode, thread 0
// arms a stage's mbarrier with the tile's 32 KiB and issues 2 x 2 copies,
// and every thread waits on the mbarrier's phase.
// CHECK-LABEL: func.func @gqa_causal
// CHECK: %[[TMK:.*]] = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 1, dims = [128, 100, 2, 1], strides = [256, 25600, 51200], box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
// CHECK: %[[TMV:.*]] = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 2, {{.*}}>} : memref<16xi64>
// CHECK: gpu.launch_func @attn_gpu::@gqa_causal_flash blocks in (%c4, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c99344_i32 args({{.*}}, %[[TMK]] : memref<16xi64>, %[[TMV]] : memref<16xi64>)
// CHECK: gpu.func @gqa_causal_flash({{.*}}, %{{.*}}: memref<16xi64>, %{{.*}}: memref<16xi64>)
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: nvvm.mbarrier.init %{{.*}}, %c1_i32 : !llvm.ptr<3>, i32
// CHECK: nvvm.fence.mbarrier.init
// CHECK: gpu.barrier
// Q still arrives by cp.async (once per block), into the swizzled layout.
// CHECK: arith.xori
// CHECK: nvgpu.device_async_copy {{.*}} to memref<2x128x64xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_wait
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32 : !llvm.ptr<3>, i32
// CHECK: attn_ptx.tma_load_4d %{{.*}}, %{{.*}}, [%c0_i32, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}}
// CHECK: scf.for
// CHECK: attn_ptx.tma_load_4d
// CHECK: scf.while
// CHECK: nvvm.mbarrier.try_wait %{{.*}}, %{{.*}} : !llvm.ptr<3>, i32 -> i1
// Q·Kᵀ: A (Q) and B (K) from shared-memory descriptors, K-major (no
// transpose), the first k step overwrites the accumulators (p = 0); one
// commit group per M tile.
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 64, k = 16>, D[<f32>, <zero>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !llvm.struct<(f32, {{.*}})> -> !llvm.struct
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// The first M tile's scores are waited for while the second's still run.
// CHECK: attn_ptx.wgmma_wait_group 1, %{{.*}} : !llvm.struct<(f32,
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// P·V: P from registers (4 per thread and k step), V N-major (transposed B).
// CHECK: attn_ptx.wgmma_fence %{{.*}} : !llvm.struct<(f32,
// CHECK: attn_ptx.pin
// CHECK: attn_ptx.wgmma_reg_a %{{.*}}, [%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}} {accumulate, elem = "bf16", n = 128 : i64, transpose_b}
// CHECK: attn_ptx.wgmma_wait_group 1
// CHECK: attn_ptx.wgmma_reg_a
// CHECK: attn_ptx.wgmma_wait_group 0
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.return
// tma=false: K and V by per-thread cp.async into the same swizzled layout
// (16-byte chunk index XOR row % 8), made visible to the tensor cores by a
// proxy fence before the barrier.
// CPASYNC-LABEL: func.func @gqa_causal
// CPASYNC-NOT: attn.tensor_map
// CPASYNC: dynamic_shared_memory_size %c99328_i32
// CPASYNC: memref.view {{.*}} to memref<2x2x64x64xbf16, #gpu.address_space<workgroup>>
// CPASYNC: arith.xori
// CPASYNC: nvgpu.device_async_copy {{.*}} to memref<2x2x64x64xbf16, #gpu.address_space<workgroup>>
// CPASYNC: scf.for
// CPASYNC: nvgpu.device_async_wait
// CPASYNC-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CPASYNC-NEXT: gpu.barrier
// CPASYNC-NOT: attn_ptx.tma_load_4d
// CPASYNC: nvvm.wgmma.mma_async {{.*}}<m = 64, n = 64, k = 16>
// AUTO-LABEL: func.func @gqa_causal
// AUTO: nvvm.wgmma.mma_async {{.*}}<m = 64, n = 64, k = 16>
// warp-row-tiles=1: two warpgroups (256 threads) of one 64-row M tile each,
// 128-key tiles: Q·Kᵀ is m64n128k16, the TMA box 128 keys, 160 KiB of
// shared memory (2 stages x (K + V) x 32 KiB + Q 32 KiB + barriers + slack).
// TWOWG-LABEL: func.func @gqa_causal
// TWOWG: attn.tensor_map = #attn.tensor_map<source = 1, {{.*}}, box = [64, 128, 1, 1]
// TWOWG: gpu.launch_func @attn_gpu::@gqa_causal_flash blocks in (%c4, %c2, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c164880_i32
// TWOWG: nvvm.wgmma.mma_async {{.*}}<m = 64, n = 128, k = 16>, D[<f32>, <zero>]
// TWOWG: attn_ptx.wgmma_wait_group 0
// TWOWG: attn_ptx.wgmma_reg_a {{.*}} {accumulate, elem = "bf16", n = 128 : i64, transpose_b}

func.func @gqa_causal(%q: memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x8x100x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x8x100x128xbf16>, tensor<1x2x100x128xbf16>, tensor<1x2x100x128xbf16> -> tensor<1x8x100x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x100x128xbf16>, memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// f16 and d = 64 (one 64-column block, m64n64 for both matmuls).
// CHECK-LABEL: func.func @mha_f16_d64
// CHECK: attn.tensor_map = #attn.tensor_map<source = 1, dims = [64, 200, 2, 1], strides = [128, 25600, 51200], box = [64, 64, 1, 1]
// CHECK: nvvm.wgmma.mma_async {{.*}}<m = 64, n = 64, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>]
// CHECK: attn_ptx.wgmma_reg_a {{.*}} {accumulate, elem = "f16", n = 64 : i64, transpose_b}

func.func @mha_f16_d64(%q: memref<1x2x200x64xf16>, %k: memref<1x2x200x64xf16>, %v: memref<1x2x200x64xf16>, %o: memref<1x2x200x64xf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x200x64xf16> to tensor<1x2x200x64xf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x200x64xf16> to tensor<1x2x200x64xf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x200x64xf16> to tensor<1x2x200x64xf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x2x200x64xf16>, tensor<1x2x200x64xf16>, tensor<1x2x200x64xf16> -> tensor<1x2x200x64xf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x200x64xf16>, memref<1x2x200x64xf16>) -> ()
  return
}

// -----

// A head dim that is not a multiple of 64: mma=auto keeps mma.sync, an
// explicit mma=wgmma is an error that says why.
// AUTO-LABEL: func.func @d80
// AUTO-NOT: wgmma
// AUTO: nvvm.mma.sync

func.func @d80(%q: memref<1x2x200x80xbf16>, %k: memref<1x2x200x80xbf16>, %v: memref<1x2x200x80xbf16>, %o: memref<1x2x200x80xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x200x80xbf16> to tensor<1x2x200x80xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x200x80xbf16> to tensor<1x2x200x80xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x200x80xbf16> to tensor<1x2x200x80xbf16>
  // expected-error @+1 {{mma=wgmma needs a head dim that is a multiple of 64}}
  %r = attn.attention %qt, %kt, %vt : tensor<1x2x200x80xbf16>, tensor<1x2x200x80xbf16>, tensor<1x2x200x80xbf16> -> tensor<1x2x200x80xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x200x80xbf16>, memref<1x2x200x80xbf16>) -> ()
  return
}

// -----

// Decode-sized groups (4 rows per KV head) split keys across warps: no
// warpgroup-wide M tile; auto keeps mma.sync.
// AUTO-LABEL: func.func @decode
// AUTO-NOT: wgmma
// AUTO: nvvm.mma.sync
// BADOPT: for the --mma option: Cannot find option named 'tensor'!

func.func @decode(%q: memref<2x8x1x128xbf16>, %k: memref<2x2x512x128xbf16>, %v: memref<2x2x512x128xbf16>, %o: memref<2x8x1x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x8x1x128xbf16> to tensor<2x8x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x2x512x128xbf16> to tensor<2x2x512x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x2x512x128xbf16> to tensor<2x2x512x128xbf16>
  // expected-error @+1 {{mma=wgmma needs a block of 128 rows (prefill-sized groups)}}
  %r = attn.attention %qt, %kt, %vt : tensor<2x8x1x128xbf16>, tensor<2x2x512x128xbf16>, tensor<2x2x512x128xbf16> -> tensor<2x8x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x8x1x128xbf16>, memref<2x8x1x128xbf16>) -> ()
  return
}
