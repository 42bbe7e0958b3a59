// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops{kv-splits=1})' | FileCheck %s
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops{kv-splits=4})' | FileCheck %s --check-prefix=SPLIT
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops{parallelism=64})' | FileCheck %s --check-prefix=AUTO
// RUN: attn-opt %s -split-input-file --attn-to-cpu="vector-width=16" | FileCheck %s --check-prefix=LLVM

// Decode over a paged cache: the flash form with K/V tiles packed page by
// page through the block table, queries placed at the end of each sequence.
// CHECK-LABEL: func @paged_decode
// CHECK-NOT: attn.cache_attention
// CHECK: scf.forall (%{{.*}}) in (32)
// CHECK: %[[LEN:.*]] = memref.load %{{.*}} : memref<4xi32>
// CHECK: scf.for {{.*}} {
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<4x256xi32>
// CHECK: attn.tile_pack {{.*}} : memref<?x128xbf16, strided<[1024, 1], offset: ?>> into memref<16x128xf32, strided<[128, 1], offset: ?>>
// CHECK: attn.tile_matmul
// CHECK: attn.tile_mask
// CHECK: attn.tile_online_softmax
// CHECK: } {attn.kv_tile_loop = 64 : i64}
// CHECK: attn.tile_finalize
// CHECK-NOT: attn.tile_combine
// With KV splits, partials go to per-call scratch (item-major: a counter
// line, 4 padded rows of lse and of 128 outputs per item = 2176 bytes) and
// the last split to arrive merges them.
// SPLIT-NOT: memref.global
// SPLIT-LABEL: func @paged_decode
// SPLIT: %[[S:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64, attn.split_scratch = 2176 : i64} : memref<?xi8>
// SPLIT: %[[CNT:.*]] = memref.view %[[S]][%{{.*}}][%{{.*}}] : memref<?xi8> to memref<?x16xi32>
// SPLIT: memref.view %[[S]]{{.*}} to memref<?x16xf32>
// SPLIT: memref.view %[[S]]{{.*}} to memref<?x4x128xf32>
// SPLIT: linalg.fill {attn.split_scratch_use} ins(%{{.*}} : i32) outs(%[[CNT]]
// SPLIT: scf.forall (%{{.*}}) in (128)
// SPLIT: arith.ceildivsi
// SPLIT: attn.tile_finalize
// SPLIT: %[[OLD:.*]] = memref.atomic_rmw addi
// SPLIT: %[[LAST:.*]] = arith.cmpi eq, %[[OLD]], %c3
// SPLIT: scf.if %[[LAST]] {
// SPLIT: attn.tile_combine
// SPLIT: memref.dealloc %[[S]] {attn.split_scratch_use}
// The cost model splits when batch × heads leaves cores idle: 64 cores want
// 256 items, and 4096 keys allow 8 splits of 512.
// AUTO: scf.forall (%{{.*}}) in (256)
func.func @paged_decode(%q: memref<4x32x1x128xbf16>, %kc: memref<1024x16x8x128xbf16>,
                        %vc: memref<1024x16x8x128xbf16>, %len: memref<4xi32>,
                        %bt: memref<4x256xi32>, %o: memref<4x32x1x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<4x256xi32>) outs(%o)
      {mask = #attn.mask<causal = true>}
      : memref<4x32x1x128xbf16>, memref<1024x16x8x128xbf16>, memref<1024x16x8x128xbf16>,
        memref<4xi32> -> memref<4x32x1x128xbf16>
  return
}

// -----

// Append: one item per (sequence, K/V head); each new row is converted to
// the cache type and written at its page slot.
// CHECK-LABEL: func @paged_append
// CHECK: scf.forall (%{{.*}}) in (32)
// CHECK: memref.load %{{.*}} : memref<4xi32>
// CHECK: scf.for
// CHECK: %[[PAGE:.*]] = memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<4x64xi32>
// CHECK: vector.transfer_read {{.*}} : memref<4x8x2x128xf32>, vector<16xf32>
// CHECK: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.transfer_write {{.*}} : vector<16xbf16>, memref<256x16x8x128xbf16>
// CHECK: } {attn.work_items}
func.func @paged_append(%k: memref<4x8x2x128xf32>, %v: memref<4x8x2x128xf32>,
                        %kc: memref<256x16x8x128xbf16>, %vc: memref<256x16x8x128xbf16>,
                        %len: memref<4xi32>, %n: memref<4xi32>, %bt: memref<4x64xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<4xi32>)
      block_table(%bt : memref<4x64xi32>)
      : memref<4x8x2x128xf32>, memref<4x8x2x128xf32>
        into memref<256x16x8x128xbf16>, memref<256x16x8x128xbf16>, memref<4xi32>
  return
}

// -----

// Head-major pages ([P, Hkv, page_size, D]): a full 64-key tile is read in
// place, one [16, 128] view per page of the K/V head (rows contiguous, no
// f32 pack), bf16 converted inside the matmuls; the partial last tile is
// packed page by page and padded with zeros. Decode rows (a GQA group of 4)
// fill a [64, 4] score tile exactly.
// CHECK-LABEL: func @hnd_decode
// CHECK: scf.forall (%{{.*}}) in (32)
// CHECK: %[[S:.*]] = memref.alloca() : memref<64x4xf32>
// CHECK: scf.for
// CHECK: %[[FULL:.*]] = arith.cmpi eq, %{{.*}}, %c64
// CHECK: scf.if %[[FULL]] {
// CHECK: scf.for
// CHECK: memref.load %{{.*}} : memref<4x256xi32>
// CHECK: %[[K:.*]] = memref.subview %arg1[%{{.*}}, %{{.*}}, 0, 0] [1, 1, 16, 128] [1, 1, 1, 1] : memref<1024x8x16x128xbf16> to memref<16x128xbf16, strided<[128, 1], offset: ?>>
// CHECK: attn.tile_matmul %[[K]], %{{.*}} into %{{.*}} {transpose_rhs} : memref<16x128xbf16, strided<[128, 1], offset: ?>>, memref<4x128xf32, strided<[128, 1]>> into memref<16x4xf32, strided<[4, 1], offset: ?>>
// CHECK: } else {
// CHECK: memref.subview %arg1[%{{.*}}, %{{.*}}, 0, 0] [1, 1, %{{.*}}, 128] [1, 1, 1, 1] : memref<1024x8x16x128xbf16> to memref<?x128xbf16, strided<[128, 1], offset: ?>>
// CHECK: attn.tile_pack
// CHECK: attn.tile_matmul
// CHECK: attn.tile_mask %[[S]]
// CHECK: attn.tile_online_softmax %[[S]]
// CHECK: scf.if %{{.*}} {
// CHECK: %[[V:.*]] = memref.subview %arg2[%{{.*}}, %{{.*}}, 0, 0] [1, 1, 16, 128]
// CHECK: attn.tile_matmul %{{.*}}, %[[V]] into %{{.*}} {accumulate, transpose_lhs} : memref<16x4xf32, strided<[4, 1], offset: ?>>, memref<16x128xbf16, strided<[128, 1], offset: ?>> into memref<4x128xf32>
// CHECK: } else {
// CHECK: attn.tile_pack
// CHECK: } {attn.kv_tile_loop = 64 : i64}
func.func @hnd_decode(%q: memref<4x32x1x128xbf16>, %kc: memref<1024x8x16x128xbf16>,
                      %vc: memref<1024x8x16x128xbf16>, %len: memref<4xi32>,
                      %bt: memref<4x256xi32>, %o: memref<4x32x1x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<4x256xi32>) outs(%o)
      {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>}
      : memref<4x32x1x128xbf16>, memref<1024x8x16x128xbf16>, memref<1024x8x16x128xbf16>,
        memref<4xi32> -> memref<4x32x1x128xbf16>
  return
}

// -----

// Pages larger than the KV tile: a full tile is one view inside its page.
// CHECK-LABEL: func @hnd_big_pages
// CHECK: scf.if
// CHECK: memref.subview %arg1[%{{.*}}, %{{.*}}, %{{.*}}, 0] [1, 1, 64, 128] [1, 1, 1, 1] : memref<64x2x256x128xf32> to memref<64x128xf32, strided<[128, 1], offset: ?>>
// CHECK: attn.tile_matmul {{.*}} : memref<64x128xf32, strided<[128, 1], offset: ?>>, memref<4x128xf32, strided<[128, 1]>> into memref<64x4xf32, strided<[4, 1], offset: ?>>
func.func @hnd_big_pages(%q: memref<2x8x1x128xf32>, %kc: memref<64x2x256x128xf32>,
                         %vc: memref<64x2x256x128xf32>, %len: memref<2xi32>,
                         %bt: memref<2x8xi32>, %o: memref<2x8x1x128xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<2x8xi32>) outs(%o)
      {page_layout = #attn.page_layout<hnd>}
      : memref<2x8x1x128xf32>, memref<64x2x256x128xf32>, memref<64x2x256x128xf32>,
        memref<2xi32> -> memref<2x8x1x128xf32>
  return
}

// -----

// Append into head-major pages: row (page, h, pos % page_size).
// CHECK-LABEL: func @hnd_append
// CHECK: %[[PAGE:.*]] = memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<4x64xi32>
// CHECK: %[[P:.*]] = arith.index_cast %[[PAGE]]
// CHECK: %[[ROW:.*]] = arith.remui
// CHECK: vector.transfer_write %{{.*}}, %arg2[%[[P]], %[[H:.*]], %[[ROW]], %{{.*}}] {{.*}} : vector<16xbf16>, memref<256x8x16x128xbf16>
func.func @hnd_append(%k: memref<4x8x2x128xf32>, %v: memref<4x8x2x128xf32>,
                      %kc: memref<256x8x16x128xbf16>, %vc: memref<256x8x16x128xbf16>,
                      %len: memref<4xi32>, %n: memref<4xi32>, %bt: memref<4x64xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<4xi32>)
      block_table(%bt : memref<4x64xi32>) {page_layout = #attn.page_layout<hnd>}
      : memref<4x8x2x128xf32>, memref<4x8x2x128xf32>
        into memref<256x8x16x128xbf16>, memref<256x8x16x128xbf16>, memref<4xi32>
  return
}

// -----

// Software prefetch of the next KV tile (token-major pages, f32): while a
// full tile is read in place page by page, each page piece first looks up
// the page one tile (64 keys) later in the block table (slot clamped to the
// table, page 0 past the sequence's keys) and prefetches that page's 16 rows
// of this K/V head into L2, one prefetch per 64-byte line (8 per 128-f32 row);
// K pieces prefetch K, V pieces prefetch V.
// CHECK-LABEL: func @nhd_decode_prefetch
// CHECK: %[[LIMIT:.*]] = arith.maxsi %c0{{.*}}, %{{.*}} : index
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: %[[J0:.*]] = arith.muli %[[T]], %c64{{.*}} : index
// CHECK: scf.if %{{.*}} {
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %c4{{.*}} step %{{.*}} {
// CHECK: %[[KSUB:.*]] = memref.subview %arg1[%{{.*}}, 0, %[[H:.*]], 0] [1, 16, 1, 128]
// CHECK: %[[FIRST:.*]] = arith.muli %[[I]], %c16{{.*}} : index
// CHECK: %[[J:.*]] = arith.addi %[[J0]], %[[FIRST]] : index
// CHECK: %[[JN:.*]] = arith.addi %[[J]], %c64{{.*}} : index
// CHECK: %[[SLOT:.*]] = arith.divui %[[JN]], %c16{{.*}} : index
// CHECK: %[[SLOTC:.*]] = arith.minsi %[[SLOT]], %c255 : index
// CHECK: %[[NEXT:.*]] = memref.load %arg4[%{{.*}}, %[[SLOTC]]] : memref<2x256xi32>
// CHECK: %[[NEXTI:.*]] = arith.index_cast %[[NEXT]] : i32 to index
// CHECK: %[[VALID:.*]] = arith.cmpi slt, %[[JN]], %[[LIMIT]] : index
// CHECK: %[[PAGE:.*]] = arith.select %[[VALID]], %[[NEXTI]], %c0{{.*}} : index
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %c16{{.*}} step %{{.*}} {
// CHECK: %[[ROW:.*]] = arith.addi %{{.*}}, %[[R]] : index
// CHECK: memref.prefetch %arg1[%[[PAGE]], %[[ROW]], %[[H]], %c0{{.*}}], read, locality<2>, data : memref<512x16x8x128xf32>
// CHECK-COUNT-7: memref.prefetch %arg1[%[[PAGE]], %[[ROW]], %[[H]], %c{{[0-9]+}}{{.*}}], read, locality<2>, data
// CHECK-NOT: memref.prefetch
// CHECK: }
// CHECK: attn.tile_matmul %[[KSUB]]
// CHECK: attn.tile_online_softmax
// CHECK: scf.if %{{.*}} {
// CHECK: memref.load %arg4[%{{.*}}, %{{.*}}] : memref<2x256xi32>
// CHECK-COUNT-8: memref.prefetch %arg2[
// CHECK: attn.tile_matmul
// CHECK: } else {
// CHECK-NOT: memref.prefetch
// CHECK: } {attn.kv_tile_loop = 64 : i64}
// Through the whole CPU pipeline they stay x86 prefetcht1 (hint 2).
// LLVM-LABEL: llvm.func @nhd_decode_prefetch
// LLVM: "llvm.intr.prefetch"(%{{.*}}) <{cache = 1 : i32, hint = 2 : i32, rw = 0 : i32}> : (!llvm.ptr) -> ()
func.func @nhd_decode_prefetch(%q: memref<2x32x1x128xf32>, %kc: memref<512x16x8x128xf32>,
                               %vc: memref<512x16x8x128xf32>, %len: memref<2xi32>,
                               %bt: memref<2x256xi32>, %o: memref<2x32x1x128xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<2x256xi32>) outs(%o)
      {mask = #attn.mask<causal = true>}
      : memref<2x32x1x128xf32>, memref<512x16x8x128xf32>, memref<512x16x8x128xf32>,
        memref<2xi32> -> memref<2x32x1x128xf32>
  return
}
