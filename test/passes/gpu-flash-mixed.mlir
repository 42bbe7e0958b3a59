// Mixed prefill + decode batches on the GPU: attn.cache_attention with
// packed queries (query_offsets) is one launch of one kernel over
// (ceil(G * T / prefill rows) + B, Hkv, 1) blocks. Each block scans the
// offsets for its work item; prefill blocks and decode blocks run the two
// geometries of the kernel's two branches. Every size is a run-time
// parameter (static ones fold on the host): one kernel for every batch.
// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s

// Paged NHD, GQA 4:1 (hq 32, hkv 8), d = 128: the host checks the dims the
// verifier would (T of the output, B + 1 offsets, the pools and table),
// passes every buffer as a base pointer, then batch, T, capacity, page
// count and table width.
// CHECK-LABEL: func.func @paged_nhd
// CHECK-DAG: %[[T:.*]] = memref.dim %arg0, %c0 : memref<?x32x128xbf16>
// CHECK-DAG: %[[QO:.*]] = memref.dim %arg4, %c0 : memref<?xi32>
// CHECK: %[[B:.*]] = arith.subi %[[QO]], %c1 : index
// CHECK: cf.assert %{{.*}}, "the output has the query's T rows"
// CHECK: cf.assert %{{.*}}, "query_offsets holds one offset more than there are cache lengths"
// CHECK: cf.assert %{{.*}}, "one block-table row per sequence of the batch"
// CHECK: cf.assert %{{.*}}, "the key and value pools have the same page count"
// CHECK: cf.assert %{{.*}}, "the cache holds a row per sequence"
// CHECK: %[[ROWS:.*]] = arith.muli %[[T]], %c4 : index
// CHECK: %[[PB:.*]] = arith.ceildivsi %[[ROWS]], %c128 : index
// CHECK: %[[SLOTS:.*]] = arith.addi %[[PB]], %[[B]] : index
// CHECK: gpu.launch_func  @attn_gpu::@paged_nhd_mixed blocks in (%[[SLOTS]], %c8, %c1) threads in (%c128, %c1, %c1)  dynamic_shared_memory_size %c69632_i32 args({{.*}}, %[[B]] : index, %[[T]] : index, %{{.*}} : index, %{{.*}} : index, %{{.*}} : index)
// The kernel: one scan of the offsets (B iterations, one load each), then
// the prefill body (128-row blocks: 2 m tiles per warp, 32-key tiles) or
// the decode body (16 rows, 4 key warps merged through shared memory).
// CHECK: gpu.func @paged_nhd_mixed(%{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: memref<i32>, %[[KQO:.*]]: memref<i32>, %{{.*}}: memref<i32>, %{{.*}}: memref<bf16>, %[[KB:.*]]: index, %[[KT:.*]]: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index) kernel
// CHECK: memref.reinterpret_cast %[[KQO]] to offset: [0], sizes: [%{{.*}}], strides: [1] : memref<i32> to memref<?xi32, strided<[1]>>
// CHECK: gpu.grid_dim  x
// CHECK: %[[ITEM:.*]]:8 = scf.for %{{.*}} = %c0 to %[[KB]] step %c1 iter_args
// CHECK: scf.if
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KT]], 32, 128], strides: [4096, 128, 1] : memref<bf16> to memref<?x32x128xbf16, strided<[4096, 128, 1]>>
// CHECK: memref.view %{{.*}} to memref<2x32x136xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %{{.*}} to memref<128x136xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.load %{{.*}}[%[[ITEM]]#4] : memref<?xi32, strided<[1]>>
// CHECK: } else {
// CHECK: scf.if
// CHECK: memref.view %{{.*}} to memref<2x64x136xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %{{.*}} to memref<4x16x128xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.return
func.func @paged_nhd(%q: memref<?x32x128xbf16>, %kc: memref<?x16x8x128xbf16>, %vc: memref<?x16x8x128xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x32x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) block_table(%bt : memref<?x?xi32>) outs(%o) {mask = #attn.mask<causal = true>} : memref<?x32x128xbf16>, memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>, memref<?xi32> -> memref<?x32x128xbf16>
  return
}

// -----

// Static shapes: the same kernel ABI, the sizes and the grid fold to
// constants (ceil(40 * 4 / 128) + 8 = 10 slots); the lse is packed [T, Hq].
// CHECK-LABEL: func.func @static_contiguous
// CHECK-NOT: cf.assert
// CHECK: gpu.launch_func  @attn_gpu::@static_contiguous_mixed blocks in (%c10, %c2, %c1) threads in (%c128, %c1, %c1) {{.*}} %{{.*}} : memref<f32>, %c8 : index, %c40 : index, %c256 : index)
// CHECK: gpu.func @static_contiguous_mixed(
// CHECK: memref.reinterpret_cast %arg6 to offset: [0], sizes: [%arg8, 8], strides: [8, 1] : memref<f32> to memref<?x8xf32, strided<[8, 1]>>
func.func @static_contiguous(%q: memref<40x8x64xf16>, %kc: memref<8x2x256x64xf16>, %vc: memref<8x2x256x64xf16>, %len: memref<8xi32>, %qo: memref<9xi32>, %o: memref<40x8x64xf16>, %lse: memref<40x8xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<9xi32>) outs(%o, %lse : memref<40x8xf32>) {mask = #attn.mask<causal = true, window_left = 16>} : memref<40x8x64xf16>, memref<8x2x256x64xf16>, memref<8x2x256x64xf16>, memref<8xi32> -> memref<40x8x64xf16>
  return
}
