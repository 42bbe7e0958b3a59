// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2})' | FileCheck %s --check-prefix=FLASH
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2},func.func(attn-mask-aware-iteration))' | FileCheck %s --check-prefix=MASK
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2 kv-splits=3})' | FileCheck %s --check-prefix=SPLITS
// RUN: attn-opt %s -split-input-file --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=CPU

// Block-sparse, one list per query block (H = 1) under GQA 4:1: the item
// (16 rows per head: tq divides the 64-query block) loads its count,
// clamps it to the list capacity and loops over the listed blocks; each
// 128-key block is two 64-key tiles, one attn.kv_tile_loop per block.
// FLASH-LABEL: func @gqa_causal
// FLASH: %[[NUM:.*]] = bufferization.to_buffer %arg3 read_only : tensor<1x1x4xi32> to memref<1x1x4xi32, strided<[?, ?, ?], offset: ?>>
// FLASH: %[[IDX:.*]] = bufferization.to_buffer %arg4 read_only : tensor<1x1x4x3xi32> to memref<1x1x4x3xi32, strided<[?, ?, ?, ?], offset: ?>>
// FLASH: scf.forall (%{{.*}}) in (13)
// FLASH: %[[TILES:.*]] = arith.ceildivsi %{{.*}}, %c64 : index
// FLASH: %[[QB:.*]] = arith.divui %{{.*}}, %c64{{.*}} : index
// FLASH: %[[CAP:.*]] = memref.dim %[[IDX]], %c3
// FLASH: %[[N:.*]] = memref.load %[[NUM]][%{{.*}}, %{{.*}}, %[[QB]]]
// FLASH: %[[NI:.*]] = arith.index_cast %[[N]] : i32 to index
// FLASH: arith.minsi %[[NI]], %[[CAP]] : index
// FLASH: scf.for %[[E:.*]] = %{{.*}} to %{{.*}} step
// FLASH: %[[BLK:.*]] = memref.load %[[IDX]][%{{.*}}, %{{.*}}, %[[QB]], %[[E]]]
// FLASH: %[[B:.*]] = arith.index_cast %[[BLK]] : i32 to index
// FLASH: %[[BP:.*]] = arith.maxsi %{{.*}}, %[[B]] : index
// FLASH: %[[T0:.*]] = arith.muli %[[BP]], %c2 : index
// FLASH: %[[FIRST:.*]] = arith.minsi %[[T0]], %[[TILES]] : index
// FLASH: %[[END:.*]] = arith.addi %[[FIRST]], %c2{{.*}} : index
// FLASH: %[[LAST:.*]] = arith.minsi %[[END]], %[[TILES]] : index
// FLASH: scf.for %{{.*}} = %[[FIRST]] to %[[LAST]] step
// FLASH: attn.tile_mask %{{.*}} {mask = #attn.mask<causal = true>, rows_per_head = 16 : i64}
// FLASH: attn.tile_online_softmax
// FLASH: } {attn.kv_tile_loop = 64 : i64}
// FLASH: attn.tile_finalize
// Mask-aware iteration narrows each block's tile loop by the causal bound
// and guards tile_mask, as for the dense loop.
// MASK-LABEL: func @gqa_causal
// MASK: memref.load %{{.*}} : memref<1x1x4x3xi32
// MASK: %[[FIRST:.*]] = arith.minsi
// MASK: %[[LAST:.*]] = arith.minsi
// MASK: %[[HI:.*]] = arith.minsi %[[LAST]], %{{.*}} : index
// MASK: %[[UB:.*]] = arith.maxsi %[[FIRST]], %[[HI]] : index
// MASK: scf.for %{{.*}} = %[[FIRST]] to %[[UB]] step
// (the scf.if around Q·Kᵀ picks in-place K on full tiles)
// MASK: attn.tile_matmul
// MASK: scf.if
// MASK-NEXT: attn.tile_mask
// MASK: } {attn.kv_tile_loop = 64 : i64, attn.mask_aware}
// KV splits share the list: split s takes entries [s*per, (s+1)*per).
// SPLITS-LABEL: func @gqa_causal
// SPLITS: %[[N:.*]] = arith.maxsi %{{.*}}, %{{.*}} : index
// SPLITS: %[[PER:.*]] = arith.ceildivsi %[[N]], %c3{{.*}} : index
// SPLITS: %[[LO:.*]] = arith.muli %{{.*}}, %[[PER]] : index
// SPLITS: %[[B0:.*]] = arith.minsi %[[LO]], %[[N]] : index
// SPLITS: scf.for %{{.*}} = %[[B0]] to
// SPLITS: attn.tile_combine
// CPU-LABEL: llvm.func @gqa_causal
// CPU-NOT: attn.
// CPU: llvm.return
func.func @gqa_causal(%q: tensor<1x4x200x32xf32>, %k: tensor<1x1x300x32xf32>,
                      %v: tensor<1x1x300x32xf32>, %n: tensor<1x1x4xi32>,
                      %i: tensor<1x1x4x3xi32>) -> tensor<1x4x200x32xf32> {
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x1x4xi32>, tensor<1x1x4x3xi32>)
      block_size [64, 128] {mask = #attn.mask<causal = true>}
      : tensor<1x4x200x32xf32>, tensor<1x1x300x32xf32>, tensor<1x1x300x32xf32> -> tensor<1x4x200x32xf32>
  return %o : tensor<1x4x200x32xf32>
}

// -----

// Per-query-head lists under GQA: the item's two heads may list different
// blocks. A [group, kvBlocks] bitmap of their lists; the loop visits every
// block some head lists and sets the scores of the other heads' rows (the
// head's columns of the key-major tile) to -inf.
// FLASH-LABEL: func @head_lists
// FLASH: %[[BITS:.*]] = memref.alloca(%[[KVB:.*]]) : memref<2x?xi8>
// FLASH: linalg.fill ins(%{{.*}} : i8) outs(%[[BITS]] : memref<2x?xi8>)
// FLASH: scf.for %[[G:.*]] = %{{.*}} to %{{.*}} step
// FLASH: scf.for
// FLASH: memref.store %{{.*}}, %[[BITS]][%[[G]], %{{.*}}] : memref<2x?xi8>
// FLASH: scf.for %[[BLK:.*]] = %{{.*}} to %[[KVB]] step
// FLASH: %[[ANY:.*]] = scf.for {{.*}} iter_args({{.*}}) -> (i8)
// FLASH: arith.ori
// FLASH: %[[LISTED:.*]] = arith.cmpi ne, %[[ANY]]
// FLASH: scf.if %[[LISTED]]
// FLASH: attn.tile_mask
// FLASH: scf.for %[[H:.*]] = %{{.*}} to %{{.*}} step
// FLASH: memref.load %[[BITS]][%[[H]], %[[BLK]]]
// FLASH: scf.if
// FLASH: %[[COLS:.*]] = memref.subview %{{.*}}[0, %{{.*}}] [64, 32] [1, 1] : memref<64x64xf32> to memref<64x32xf32, strided<[64, 1], offset: ?>>
// FLASH: linalg.fill ins(%{{.*}} : f32) outs(%[[COLS]]
// FLASH: attn.tile_online_softmax
// FLASH: {attn.kv_tile_loop = 64 : i64}
// CPU-LABEL: llvm.func @head_lists
// CPU-NOT: attn.
// CPU: llvm.return
func.func @head_lists(%q: tensor<1x4x64x32xbf16>, %k: tensor<1x2x256x32xbf16>,
                      %v: tensor<1x2x256x32xbf16>, %n: tensor<1x4x1xi32>,
                      %i: tensor<1x4x1x4xi32>) -> tensor<1x4x64x32xbf16> {
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x4x1xi32>, tensor<1x4x1x4xi32>)
      block_size [64, 64]
      : tensor<1x4x64x32xbf16>, tensor<1x2x256x32xbf16>, tensor<1x2x256x32xbf16> -> tensor<1x4x64x32xbf16>
  return %o : tensor<1x4x64x32xbf16>
}

// -----

// Tiles follow the blocks: 16-query / 48-key blocks give tq = 16 and
// tk = 48 (one tile per block) even with tile-kv 64.
// FLASH-LABEL: func @small_blocks
// FLASH: memref.alloca() : memref<48x16xf32>
// FLASH: attn.tile_mask {{.*}} {rows_per_head = 16 : i64} : memref<48x16xf32>
// FLASH: {attn.kv_tile_loop = 48 : i64}
// CPU-LABEL: llvm.func @small_blocks
// CPU: llvm.return
func.func @small_blocks(%q: tensor<2x2x40x16xf32>, %k: tensor<2x2x100x16xf32>,
                        %v: tensor<2x2x100x16xf32>, %n: tensor<2x2x3xi32>,
                        %i: tensor<2x2x3x3xi32>) -> tensor<2x2x40x16xf32> {
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<2x2x3xi32>, tensor<2x2x3x3xi32>)
      block_size [16, 48]
      : tensor<2x2x40x16xf32>, tensor<2x2x100x16xf32>, tensor<2x2x100x16xf32> -> tensor<2x2x40x16xf32>
  return %o : tensor<2x2x40x16xf32>
}
