// Run-time sizes on the GPU: batch, Sq and Skv as `?`. One kernel serves
// every size: the host function computes the grid from the buffers'
// dims (memref.dim, then index arithmetic the runtime evaluates per call),
// passes buffers of run-time shape as base pointers (rank-0 memrefs, the
// bare-pointer convention takes only static ones) and the sizes as three
// index parameters; the kernel views its buffers with those sizes and
// bounds its rows and keys by them. Kernels of a static Sq (decode) take
// the split count last, chosen per call (a host call the runtime
// evaluates); those of a run-time Sq and kv-splits=1 stay unsplit.
// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='mma=auto' --canonicalize | FileCheck %s --check-prefix=TMA
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='kv-splits=1' --canonicalize | FileCheck %s --check-prefix=UNSPLIT

// CHECK-LABEL: func.func @gqa_causal
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK: %[[B:.*]] = memref.dim %arg0, %[[C0]]
// CHECK: %[[SQ:.*]] = memref.dim %arg0, %[[C2]]
// CHECK: %[[SKV:.*]] = memref.dim %arg1, %[[C2]]
// CHECK: %[[ROWS:.*]] = arith.muli %[[SQ]], %c4
// CHECK: %[[GX:.*]] = arith.ceildivsi %[[ROWS]], %c128
// CHECK: %[[QP:.*]] = memref.reinterpret_cast %arg0 to offset: [0], sizes: [], strides: [] : memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to memref<bf16>
// CHECK: gpu.launch_func  @attn_gpu::@gqa_causal_flash blocks in (%[[GX]], %c2, %[[B]]) threads in (%c128, %c1, %c1)  dynamic_shared_memory_size %c104448_i32 args(%[[QP]] : memref<bf16>, {{.*}}, %[[B]] : index, %[[SQ]] : index, %[[SKV]] : index)
// CHECK: gpu.func @gqa_causal_flash(%{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %[[KB:.*]]: index, %[[KSQ:.*]]: index, %[[KSKV:.*]]: index) kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KB]], 8, %[[KSQ]], 128], strides: [%{{.*}}, %{{.*}}, 128, 1] : memref<bf16> to memref<?x8x?x128xbf16, strided<[?, ?, 128, 1]>>
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KB]], 2, %[[KSKV]], 128]
// The reversed row-block order and the last row come from Sq, the last
// key to clamp loads to from Skv.
// CHECK: arith.muli %[[KSQ]], %c4
// CHECK: arith.minsi %[[KSKV]],
// CHECK: nvgpu.device_async_copy {{.*}} : memref<?x8x?x128xbf16, strided<[?, ?, 128, 1]>> to memref<128x136xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// Keys past Skv are masked by the run-time length.
// CHECK: arith.cmpi slt, %{{.*}}, %[[KSKV]]
func.func @gqa_causal(%q: memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<?x2x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<?x2x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x8x?x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x2x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x2x?x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x2x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<?x2x?x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<?x8x?x128xbf16>, tensor<?x2x?x128xbf16>, tensor<?x2x?x128xbf16> -> tensor<?x8x?x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x8x?x128xbf16>, memref<?x8x?x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// Decode (Sq = 1 static) with run-time batch and KV length, kv_lengths:
// the decode geometry (key warps, 128-key tiles) of the static group. One
// row block per KV head: grid.x is the split count, gpuKvSplits of the
// unsplit grid's blocks (8 per sequence) and the cap
// max(1, min(ceildiv(Skv, 128) / 4, Skv / (64 * 4 rows))), which the
// runtime evaluates per call (the device's SM count; the pipeline's, 132,
// without one).
// CHECK-LABEL: func.func @decode
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C132:.*]] = arith.constant 132 : index
// CHECK: %[[B:.*]] = memref.dim %arg0, %c0
// CHECK: %[[SKV:.*]] = memref.dim %arg1, %c2
// CHECK: %[[BLOCKS:.*]] = arith.muli %[[B]], %c8
// CHECK: %[[TILES:.*]] = arith.ceildivsi %[[SKV]], %c128
// CHECK: %[[T4:.*]] = arith.divui %[[TILES]], %c4
// CHECK: %[[TRAFFIC:.*]] = arith.divui %[[SKV]], %c256
// CHECK: %[[MIN:.*]] = arith.minsi %[[T4]], %[[TRAFFIC]]
// CHECK: %[[CAP:.*]] = arith.maxsi %[[MIN]], %[[C1]]
// CHECK: %[[S:.*]] = call @attn_gpu_kv_splits(%[[BLOCKS]], %[[CAP]], %[[C132]]) : (index, index, index) -> index
// CHECK: %[[SEVERAL:.*]] = arith.cmpi sgt, %[[S]], %[[C1]]
// Partials of run-time size: B * Hkv * rows * splits rows, none unsplit.
// CHECK: %[[R:.*]] = arith.muli %[[B]], %c32
// CHECK: %[[RS:.*]] = arith.muli %[[R]], %[[S]]
// CHECK: %[[SM1:.*]] = arith.subi %[[S]], %[[C1]]
// CHECK: %[[USED:.*]] = arith.minsi %[[SM1]], %[[C1]]
// CHECK: %[[N:.*]] = arith.muli %[[RS]], %[[USED]]
// CHECK: memref.alloc(%[[N]]) : memref<?x128xf32>
// CHECK: memref.alloc(%[[N]]) : memref<?xf32>
// CHECK: gpu.launch_func  @attn_gpu::@decode_flash blocks in (%[[S]], %c8, %[[B]]) threads in (%c128, %c1, %c1)  dynamic_shared_memory_size %{{.*}} args({{.*}} : memref<bf16>, {{.*}} : memref<f32>, {{.*}} : memref<f32>, %[[B]] : index, %[[C1]] : index, %[[SKV]] : index, %[[S]] : index)
// The combine kernel only for split calls: batch, Sq and the count.
// CHECK: scf.if %[[SEVERAL]] {
// CHECK-NEXT: gpu.launch_func  @attn_gpu::@decode_combine blocks in (%c4, %c8, %[[B]]) threads in (%c128, %c1, %c1)  args({{.*}} : memref<f32>, {{.*}} : memref<f32>, {{.*}} : memref<bf16>, %[[B]] : index, %[[C1]] : index, %[[S]] : index)
// CHECK-NEXT: }
// CHECK: gpu.func @decode_flash(%{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<i32>, %{{.*}}: memref<bf16>, %{{.*}}: memref<f32>, %{{.*}}: memref<f32>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %[[KS:.*]]: index)
// CHECK: memref.reinterpret_cast {{.*}} : memref<i32> to memref<?xi32, strided<[1]>>
// The block's row block and split from blockIdx.x and the count.
// CHECK: %[[BX:.*]] = gpu.block_id  x
// CHECK: arith.divui %[[BX]], %[[KS]]
// CHECK: arith.remui %[[BX]], %[[KS]]
// After the key warps' merge: final rows for one split, partials for
// several.
// CHECK: %[[MULTI:.*]] = arith.cmpi sgt, %[[KS]], %c1
// CHECK: scf.if %[[MULTI]] {
// CHECK: memref.store %{{.*}} : memref<?x128xf32, strided<[128, 1]>>
// CHECK: } else {
// CHECK: memref.store %{{.*}} : memref<?x32x1x128xbf16, strided<[4096, 128, 128, 1]>>
// The combine kernel loops over the run-time split count.
// CHECK: gpu.func @decode_combine(%{{.*}}: memref<f32>, %{{.*}}: memref<f32>, %{{.*}}: memref<bf16>, %{{.*}}: index, %{{.*}}: index, %[[CS:.*]]: index) kernel
// CHECK: scf.for %{{.*}} = %[[FIRST:.*]] to %[[LAST:.*]] step %c1 iter_args
// CHECK: scf.for %{{.*}} = %[[FIRST]] to %[[LAST]] step %c1 iter_args
// kv-splits=1: the unsplit kernel alone, one block per KV head and batch.
// UNSPLIT-LABEL: func.func @decode
// UNSPLIT-NOT: attn_gpu_kv_splits
// UNSPLIT: gpu.launch_func  @attn_gpu::@decode_flash blocks in (%c1, %c8, %{{.*}}) threads in (%c128, %c1, %c1)
// UNSPLIT-NOT: _combine
// UNSPLIT: gpu.func @decode_flash(%{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<i32>, %{{.*}}: memref<bf16>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index) kernel
// UNSPLIT-NOT: gpu.func @decode_combine
func.func @decode(%q: memref<?x32x1x128xbf16>, %k: memref<?x8x?x128xbf16>, %v: memref<?x8x?x128xbf16>, %len: memref<?xi32>, %o: memref<?x32x1x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x32x1x128xbf16> to tensor<?x32x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x8x?x128xbf16> to tensor<?x8x?x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x8x?x128xbf16> to tensor<?x8x?x128xbf16>
  %lt = bufferization.to_tensor %len restrict : memref<?xi32> to tensor<?xi32>
  %r = attn.attention %qt, %kt, %vt kv_lengths(%lt : tensor<?xi32>) : tensor<?x32x1x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16> -> tensor<?x32x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x32x1x128xbf16>, memref<?x32x1x128xbf16>) -> ()
  return
}

// -----

// wgmma, K/V by the copy engine (TMA); the tensor maps' run-time dims and strides are 0 (the
// runtime encodes them from the K/V buffers at launch).
// TMA-LABEL: func.func @full
// TMA: memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 1, dims = [128, 0, 4, 0], strides = [256, 0, 0], box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
// TMA: gpu.launch_func @attn_gpu::@full_flash
// TMA: gpu.func @full_flash(%{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<16xi64>, %{{.*}}: memref<16xi64>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// TMA: nvvm.wgmma.mma_async
func.func @full(%q: memref<?x4x?x128xbf16>, %k: memref<?x4x?x128xbf16>, %v: memref<?x4x?x128xbf16>, %o: memref<?x4x?x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x4x?x128xbf16> to tensor<?x4x?x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<?x4x?x128xbf16> to tensor<?x4x?x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<?x4x?x128xbf16> to tensor<?x4x?x128xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<?x4x?x128xbf16>, tensor<?x4x?x128xbf16>, tensor<?x4x?x128xbf16> -> tensor<?x4x?x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<?x4x?x128xbf16>, memref<?x4x?x128xbf16>) -> ()
  return
}

