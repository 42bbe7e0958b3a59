// The KV-cache ops with run-time sizes on the GPU: batch, query / chunk
// length, the cache capacity (contiguous Smax or the block-table width) and
// the page count as `?`. The host code computes the grid and the kernels'
// size parameters from memref.dim of the buffers and checks what the
// verifier checks for static shapes as cf.assert (the runtime evaluates
// both per call); the kernels view their buffers with those sizes.
// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s

// Paged decode, run-time batch only: the decode geometry of the static
// group, grid z = batch, the static capacity and page count as constants;
// the checks that hold by the types fold away.
// CHECK-LABEL: func.func @paged_decode
// CHECK: %[[B:.*]] = memref.dim %arg0, %c0
// CHECK: %[[OB:.*]] = memref.dim %arg5, %c0
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[OB]], %[[B]] : index
// CHECK: cf.assert %[[OK]], "the output's batch is the query's"
// CHECK: cf.assert %{{.*}}, "one cache length per sequence of the batch"
// CHECK: cf.assert %{{.*}}, "one block-table row per sequence of the batch"
// CHECK-NOT: cf.assert
// CHECK: gpu.launch_func  @attn_gpu::@paged_decode_flash blocks in (%c1, %c2, %[[B]]) threads in (%c128, %c1, %c1)  dynamic_shared_memory_size %{{.*}} args(%{{.*}} : memref<bf16>, %arg1 : memref<32x16x2x64xbf16>, %arg2 : memref<32x16x2x64xbf16>, %{{.*}} : memref<i32>, %{{.*}} : memref<i32>, %{{.*}} : memref<bf16>, %[[B]] : index, %c1 : index, %c128 : index, %c32 : index, %c8 : index)
// CHECK: gpu.func @paged_decode_flash(%{{.*}}: memref<bf16>, %{{.*}}: memref<32x16x2x64xbf16>, %{{.*}}: memref<32x16x2x64xbf16>, %{{.*}}: memref<i32>, %[[BT:.*]]: memref<i32>, %{{.*}}: memref<bf16>, %[[KB:.*]]: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// CHECK: memref.reinterpret_cast %[[BT]] to offset: [0], sizes: [%[[KB]], 8], strides: [8, 1] : memref<i32> to memref<?x8xi32, strided<[8, 1]>>
// CHECK: memref.load %{{.*}}[%block_id_z, %{{.*}}] : memref<?x8xi32, strided<[8, 1]>>
// CHECK: arith.minsi %{{.*}}, %c31
// CHECK: nvgpu.device_async_copy {{.*}} : memref<32x16x2x64xbf16> to
func.func @paged_decode(%q: memref<?x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %kc: memref<32x16x2x64xbf16>, %vc: memref<32x16x2x64xbf16>, %len: memref<?xi32>, %bt: memref<?x8xi32>, %o: memref<?x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x8xi32>) outs(%o) {mask = #attn.mask<causal = true>} : memref<?x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<32x16x2x64xbf16>, memref<32x16x2x64xbf16>, memref<?xi32> -> memref<?x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
  return
}

// -----

// HND pages with a run-time page count and block-table width, a chunk of
// run-time length: the capacity is width * page_size, the pools' views
// and the clamp of table entries into the pool take the page count.
// CHECK-LABEL: func.func @paged_hnd_pages
// CHECK-DAG: %[[B:.*]] = memref.dim %arg0, %c0
// CHECK-DAG: %[[SQ:.*]] = memref.dim %arg0, %c2
// CHECK: cf.assert %{{.*}}, "the output's Sq is the query's"
// CHECK: %[[VP:.*]] = memref.dim %arg2, %c0
// CHECK: %[[KP:.*]] = memref.dim %arg1, %c0
// CHECK: %[[SAME:.*]] = arith.cmpi eq, %[[VP]], %[[KP]] : index
// CHECK: cf.assert %[[SAME]], "the key and value pools have the same page count"
// CHECK: %[[W:.*]] = memref.dim %arg4, %c1
// CHECK: %[[CAP:.*]] = arith.muli %[[W]], %c16 : index
// CHECK: %[[FITS:.*]] = arith.cmpi sle, %[[SQ]], %[[CAP]] : index
// CHECK: cf.assert %[[FITS]], "the queries fit the cache (Sq <= its capacity)"
// CHECK: %[[ROWS:.*]] = arith.muli %[[SQ]], %c4
// CHECK: %[[GX:.*]] = arith.ceildivsi %[[ROWS]], %c128
// CHECK: gpu.launch_func  @attn_gpu::@paged_hnd_pages_flash blocks in (%[[GX]], %c2, %[[B]]) {{.*}} %[[B]] : index, %[[SQ]] : index, %[[CAP]] : index, %{{.*}} : index, %{{.*}} : index)
// CHECK: gpu.func @paged_hnd_pages_flash({{.*}}, %[[KSQ:.*]]: index, %[[KCAP:.*]]: index, %[[KP2:.*]]: index, %[[KW:.*]]: index) kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%{{.*}}, %[[KW]]], strides: [%[[KW]], 1] : memref<i32> to memref<?x?xi32, strided<[?, 1]>>
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KP2]], 2, 16, 64], strides: [2048, 1024, 64, 1] : memref<f16> to memref<?x2x16x64xf16, strided<[2048, 1024, 64, 1]>>
// CHECK: arith.minsi %{{.*}}, %[[KCAP]] : index
// CHECK: %[[LAST:.*]] = arith.subi %[[KP2]], %c1 : index
// CHECK: arith.minsi %{{.*}}, %[[LAST]] : index
// CHECK: nvgpu.device_async_copy {{.*}} : memref<?x2x16x64xf16, strided<[2048, 1024, 64, 1]>> to
func.func @paged_hnd_pages(%q: memref<?x8x?x64xf16>, %kc: memref<?x2x16x64xf16>, %vc: memref<?x2x16x64xf16>, %len: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x8x?x64xf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x?xi32>) outs(%o) {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>} : memref<?x8x?x64xf16>, memref<?x2x16x64xf16>, memref<?x2x16x64xf16>, memref<?xi32> -> memref<?x8x?x64xf16>
  return
}

// -----

// A contiguous cache of run-time slots and capacity (chunked prefill).
// CHECK-LABEL: func.func @contiguous_chunk
// CHECK: cf.assert %{{.*}}, "the key cache holds the batch's slots"
// CHECK: cf.assert %{{.*}}, "the value cache holds the batch's slots"
// CHECK: cf.assert %{{.*}}, "the key and value caches have the same capacity"
// CHECK: cf.assert %{{.*}}, "the queries fit the cache (Sq <= its capacity)"
// CHECK: gpu.launch_func  @attn_gpu::@contiguous_chunk_flash
// CHECK: gpu.func @contiguous_chunk_flash(%{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<i32>, %{{.*}}: memref<bf16>, %[[KB:.*]]: index, %{{.*}}: index, %[[KS:.*]]: index) kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KB]], 2, %[[KS]], 128]
// CHECK: nvgpu.device_async_copy %{{.*}}[%block_id_z, %block_id_y, %{{.*}}, %{{.*}}], {{.*}} : memref<?x2x?x128xbf16, strided<[?, ?, 128, 1]>> to
func.func @contiguous_chunk(%q: memref<?x8x?x128xbf16>, %kc: memref<?x2x?x128xbf16>, %vc: memref<?x2x?x128xbf16>, %len: memref<?xi32>, %o: memref<?x8x?x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o) {mask = #attn.mask<causal = true>} : memref<?x8x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?xi32> -> memref<?x8x?x128xbf16>
  return
}

// -----

// Append to a contiguous cache: grid (Snew, Hkv, B) from the keys' dims,
// batch, Snew and Smax as parameters.
// CHECK-LABEL: func.func @append_contiguous
// CHECK-DAG: %[[B:.*]] = memref.dim %arg0, %c0
// CHECK-DAG: %[[SNEW:.*]] = memref.dim %arg0, %c2
// CHECK: cf.assert %{{.*}}, "the values' batch is the keys'"
// CHECK: cf.assert %{{.*}}, "one new length per sequence of the batch"
// CHECK: %[[FITS:.*]] = arith.cmpi sle, %[[SNEW]], %c128 : index
// CHECK: cf.assert %[[FITS]], "the appended rows fit the cache (Snew <= its capacity)"
// CHECK: gpu.launch_func  @attn_gpu::@append_contiguous_append blocks in (%[[SNEW]], %c2, %[[B]]) threads in (%c32, %c1, %c1)  args({{.*}}, %[[B]] : index, %[[SNEW]] : index, %c128 : index)
// CHECK: gpu.func @append_contiguous_append(%{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<i32>, %{{.*}}: memref<i32>, %[[KB:.*]]: index, %[[KS:.*]]: index, %[[KM:.*]]: index) kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KB]], 2, %[[KS]], 64]
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KB]], 2, 128, 64], strides: [16384, 8192, 64, 1]
// CHECK: vector.store {{.*}} : memref<?x2x128x64xbf16, strided<[16384, 8192, 64, 1]>>, vector<8xbf16>
func.func @append_contiguous(%k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x64xbf16>, %kc: memref<?x2x128x64xbf16>, %vc: memref<?x2x128x64xbf16>, %len: memref<?xi32>, %nl: memref<?xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%nl : memref<?xi32>) : memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16> into memref<?x2x128x64xbf16>, memref<?x2x128x64xbf16>, memref<?xi32>
  return
}

// -----

// Append f32 rows to a paged cache of run-time pages and table width.
// CHECK-LABEL: func.func @append_paged
// CHECK: cf.assert %{{.*}}, "the key and value pools have the same page count"
// CHECK: arith.muli %{{.*}}, %c16 : index
// CHECK: cf.assert %{{.*}}, "the appended rows fit the cache (Snew <= its capacity)"
// CHECK: gpu.func @append_paged_append({{.*}}, %[[KB:.*]]: index, %{{.*}}: index, %[[KP:.*]]: index, %[[KW:.*]]: index) kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KB]], %[[KW]]], strides: [%[[KW]], 1]
// CHECK: %[[LAST:.*]] = arith.subi %[[KP]], %c1 : index
// CHECK: memref.load %{{.*}}[%block_id_z, %{{.*}}] : memref<?x?xi32, strided<[?, 1]>>
// CHECK: arith.minsi %{{.*}}, %[[LAST]] : index
// CHECK: arith.truncf {{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK: vector.store {{.*}} : memref<?x16x2x64xbf16, strided<[2048, 128, 64, 1]>>, vector<8xbf16>
func.func @append_paged(%k: memref<?x2x?x64xf32>, %v: memref<?x2x?x64xf32>, %kc: memref<?x16x2x64xbf16>, %vc: memref<?x16x2x64xbf16>, %len: memref<?xi32>, %nl: memref<?xi32>, %bt: memref<?x?xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%nl : memref<?xi32>) block_table(%bt : memref<?x?xi32>) : memref<?x2x?x64xf32>, memref<?x2x?x64xf32> into memref<?x16x2x64xbf16>, memref<?x16x2x64xbf16>, memref<?xi32>
  return
}
