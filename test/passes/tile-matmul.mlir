// RUN: attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 row-block=32 col-block=32 depth-block=16 sliver=16 item-rows=32" | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 row-block=32 col-block=32 depth-block=16 sliver=16 item-rows=32 work-items=1" | FileCheck %s --check-prefix=ITEMS
// RUN: attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 row-block=32 col-block=32 depth-block=16 sliver=16 item-rows=32" --attn-vectorize-tiles="vector-width=16 micro-rows=8" | FileCheck %s --check-prefix=VEC
// RUN: attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 row-block=32 col-block=32 depth-block=16 sliver=16 item-rows=32" --attn-vectorize-tiles="vector-width=16 micro-rows=8 micro-cols=1 k-unroll=3" --canonicalize | FileCheck %s --check-prefix=UNROLL
// RUN: not attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 col-block=24" 2>&1 | FileCheck %s --check-prefix=OPTION
// RUN: not attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 depth-block=2048" 2>&1 | FileCheck %s --check-prefix=OPTION2
// RUN: not attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 sliver=24" 2>&1 | FileCheck %s --check-prefix=OPTION3

// 70 x 48 · 48 x 72 into C = ½: items of 32 rows × 32 columns (3 row
// groups, the last of 6 rows, × 2 column panels: an scf.for of 6, an
// attn.work_items scf.forall with work-items), row group by row group.
// Each item initialises its block of C (the fill moves into the items),
// packs its panel 16 K rows at a time (a loop of 3) into two 16-column
// slivers, each [16, 16] contiguous, one after another in the scratch at
// the function's entry, and feeds each sliver to its row blocks: whole
// ones of 32 (a loop to the group's last whole block) and, in the last
// group only, the 6-row tail. The last 8 columns stay a linalg.matmul on
// that strip, with its own fill.
// CHECK-LABEL: func.func @projection
// CHECK:      %[[PANEL:.*]] = memref.alloca() : memref<32x16xf32>
// CHECK:      scf.for %[[ITEM:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:        %[[G:.*]] = arith.divui %[[ITEM]], %{{.*}} : index
// CHECK:        %[[R0:.*]] = arith.muli %[[G]], %{{.*}} : index
// CHECK:        %[[P:.*]] = arith.remui %[[ITEM]], %{{.*}} : index
// CHECK:        %[[N0:.*]] = arith.muli %[[P]], %{{.*}} : index
// CHECK:        %[[REND:.*]] = arith.minsi %{{.*}}, %{{.*}} : index
// CHECK:        %[[BLOCK:.*]] = memref.subview %arg2[%[[R0]], %[[N0]]] [%{{.*}}, 32] [1, 1] : memref<70x72xf32> to memref<?x32xf32, strided<[72, 1], offset: ?>>
// CHECK:        linalg.fill ins(%{{.*}} : f32) outs(%[[BLOCK]]
// CHECK:        scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:          scf.for %[[S:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:            %[[BK:.*]] = memref.subview %arg1[%[[K]], %{{.*}}] [16, 16] [1, 1]
// CHECK:            %[[SLIVER:.*]] = memref.subview %[[PANEL]][%{{.*}}, 0] [16, 16] [1, 1] : memref<32x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
// CHECK:            attn.tile_pack %[[BK]] into %[[SLIVER]] : memref<16x16xf32, strided<[72, 1], offset: ?>> into memref<16x16xf32, strided<[16, 1], offset: ?>>
// CHECK:          }
// CHECK:          scf.for %[[M:.*]] = %[[R0]] to %[[WHOLE:.*]] step %{{.*}} {
// CHECK:            %[[A:.*]] = memref.subview %arg0[%[[M]], %[[K]]] [32, 16] [1, 1]
// CHECK:            scf.for
// CHECK:              attn.tile_matmul %[[A]], %{{.*}} into %{{.*}} {accumulate} : memref<32x16xf32, strided<[48, 1], offset: ?>>, memref<16x16xf32, strided<[16, 1], offset: ?>> into memref<32x16xf32, strided<[72, 1], offset: ?>>
// CHECK:          %[[TAIL:.*]] = arith.cmpi slt, %[[WHOLE]], %[[REND]] : index
// CHECK:          scf.if %[[TAIL]] {
// CHECK:            attn.tile_matmul {{.*}} {accumulate} : memref<6x16xf32, strided<[48, 1], offset: ?>>, memref<16x16xf32, strided<[16, 1], offset: ?>> into memref<6x16xf32, strided<[72, 1], offset: ?>>
// CHECK:      linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : memref<70x8xf32, strided<[72, 1], offset: 64>>)
// CHECK:      linalg.matmul ins(%{{.*}}, %{{.*}} : memref<70x48xf32{{.*}}>, memref<48x8xf32, strided<[72, 1], offset: 64>>) outs(%{{.*}} : memref<70x8xf32, strided<[72, 1], offset: 64>>)
// CHECK-NOT:  linalg.matmul
// CHECK-NOT:  linalg.fill
// CHECK:      return
// ITEMS-LABEL: func.func @projection
// ITEMS:       scf.forall (%{{.*}}) in (6) {
// ITEMS:         attn.tile_pack
// ITEMS:         attn.tile_matmul
// ITEMS:       } {attn.work_items}
// ITEMS:       linalg.matmul
// VEC-LABEL: func.func @projection
// VEC-NOT:   attn.tile_
// VEC:       vector.fma
// VEC:       linalg.matmul
// k-unroll=3 on the 16-deep K chunks: a loop of 3 K steps per iteration
// (8 rows × 1 vector: 24 FMAs), then the one remaining step (its
// single-iteration loop folded by --canonicalize).
// UNROLL-LABEL: func.func @projection
// UNROLL:         %[[R:.*]]:8 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// UNROLL-COUNT-24:  vector.fma
// UNROLL:           scf.yield
// UNROLL-COUNT-8: vector.fma %{{.*}}, %{{.*}}, %[[R]]#
func.func @projection(%a: memref<70x48xf32>, %b: memref<48x72xf32>, %c: memref<70x72xf32>) {
  %half = arith.constant 0.5 : f32
  linalg.fill ins(%half : f32) outs(%c : memref<70x72xf32>)
  linalg.matmul ins(%a, %b : memref<70x48xf32>, memref<48x72xf32>) outs(%c : memref<70x72xf32>)
  return
}

// -----

// One item (no item loop), its panel two [8, 16] slivers of B one after
// another in the scratch.
// CHECK-LABEL: func.func @one_block
// CHECK:       memref.alloca() : memref<16x16xf32>
// CHECK-NOT:   scf.forall
// CHECK:       attn.tile_pack {{.*}} : memref<8x16xf32, strided<[32, 1], offset: ?>> into memref<8x16xf32, strided<[16, 1], offset: ?>>
// CHECK:       attn.tile_matmul {{.*}} {accumulate} : memref<32x8xf32, strided<[8, 1], offset: ?>>, memref<8x16xf32, strided<[16, 1], offset: ?>> into memref<32x16xf32, strided<[32, 1], offset: ?>>
// CHECK-NOT:   linalg.matmul
func.func @one_block(%a: memref<32x8xf32>, %b: memref<8x32xf32>, %c: memref<32x32xf32>) {
  linalg.matmul ins(%a, %b : memref<32x8xf32>, memref<8x32xf32>) outs(%c : memref<32x32xf32>)
  return
}

// -----

// Left alone: tensors (before bufferization), f16, dynamic sizes, a
// transposed operand (user-defined maps), fewer columns than a vector.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT:   attn.tile_matmul
// CHECK-COUNT-5: linalg.matmul
func.func @untouched(%t: tensor<32x32xf32>, %h: memref<32x32xf16>, %hc: memref<32x32xf16>,
                     %d: memref<?x32xf32>, %dc: memref<?x32xf32>, %m: memref<32x32xf32>,
                     %mc: memref<32x32xf32>, %n: memref<32x8xf32>, %nb: memref<8x8xf32>,
                     %nc: memref<32x8xf32>) -> tensor<32x32xf32> {
  %r = linalg.matmul ins(%t, %t : tensor<32x32xf32>, tensor<32x32xf32>) outs(%t : tensor<32x32xf32>) -> tensor<32x32xf32>
  linalg.matmul ins(%h, %h : memref<32x32xf16>, memref<32x32xf16>) outs(%hc : memref<32x32xf16>)
  linalg.matmul ins(%d, %m : memref<?x32xf32>, memref<32x32xf32>) outs(%dc : memref<?x32xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%m, %m : memref<32x32xf32>, memref<32x32xf32>) outs(%mc : memref<32x32xf32>)
  linalg.matmul ins(%n, %nb : memref<32x8xf32>, memref<8x8xf32>) outs(%nc : memref<32x8xf32>)
  return %r : tensor<32x32xf32>
}

// -----

// An nn.Linear weight read in place (B stored [N, K]: maps (m, k), (n, k)):
// each sliver is packed transposed from the [cols, depth] block of B; the
// column strip past the last vector keeps the transposed maps. f16
// operands into an f32 C are widened by the pack and the micro-kernel.
// CHECK-LABEL: func.func @linear_weight
// CHECK:       memref.alloca() : memref<32x16xf32>
// CHECK:       scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:         scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:           scf.for
// CHECK:             %[[BT:.*]] = memref.subview %arg1[%{{.*}}, %[[K]]] [16, 16] [1, 1]
// CHECK:             attn.tile_pack %[[BT]] into %{{.*}} {transpose} : memref<16x16xf16, strided<[48, 1], offset: ?>> into memref<16x16xf32, strided<[16, 1], offset: ?>>
// CHECK:           attn.tile_matmul {{.*}} {accumulate} : memref<32x16xf16, strided<[48, 1], offset: ?>>, memref<16x16xf32, strided<[16, 1], offset: ?>> into memref<32x16xf32, strided<[72, 1], offset: ?>>
// CHECK:       linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%{{.*}}, %{{.*}} : memref<70x48xf16, strided<[48, 1]>>, memref<8x48xf16, strided<[48, 1], offset: 3072>>) outs(%{{.*}} : memref<70x8xf32, strided<[72, 1], offset: 64>>)
// VEC-LABEL: func.func @linear_weight
// VEC-NOT:   attn.tile_
// VEC:       vector.fma
func.func @linear_weight(%a: memref<70x48xf16>, %w: memref<72x48xf16>, %c: memref<70x72xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %w : memref<70x48xf16>, memref<72x48xf16>) outs(%c : memref<70x72xf32>)
  return
}

// OPTION: row-block and depth-block must be in [1, 1024] and col-block a multiple of the vector width 16 in that range (got 112, 1024, 24)
// OPTION2: (got 112, 2048, 128)
// OPTION3: sliver must be a multiple of the vector width 16 and at most col-block, item-rows positive (got sliver 24, item-rows 1024)
