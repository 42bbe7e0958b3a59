// RUN: attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 row-block=32 col-block=32" | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 row-block=32 col-block=32" --attn-vectorize-tiles="vector-width=16 micro-rows=8" | FileCheck %s --check-prefix=VEC
// RUN: not attn-opt %s --split-input-file --attn-tile-matmul="vector-width=16 col-block=24" 2>&1 | FileCheck %s --check-prefix=OPTION

// 70 x 48 · 48 x 72: rows in 2 whole blocks of 32 (a loop) and a tail of
// 6; the 64 vector columns in 2 blocks of 32 (a loop); the last 8 columns
// stay a linalg.matmul on that strip. Every block accumulates into C.
// CHECK-LABEL: func.func @projection
// CHECK:      scf.for %[[M:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:        scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:          %[[A:.*]] = memref.subview %arg0[%[[M]], 0] [32, 48] [1, 1]
// CHECK:          %[[B:.*]] = memref.subview %arg1[0, %[[N]]] [48, 32] [1, 1]
// CHECK:          %[[C:.*]] = memref.subview %arg2[%[[M]], %[[N]]] [32, 32] [1, 1]
// CHECK:          attn.tile_matmul %[[A]], %[[B]] into %[[C]] {accumulate} : memref<32x48xf32, strided<[48, 1], offset: ?>>, memref<48x32xf32, strided<[72, 1], offset: ?>> into memref<32x32xf32, strided<[72, 1], offset: ?>>
// CHECK:      scf.for
// CHECK:        attn.tile_matmul {{.*}} {accumulate} : memref<6x48xf32, strided<[48, 1], offset: 3072>>, memref<48x32xf32, strided<[72, 1], offset: ?>> into memref<6x32xf32, strided<[72, 1], offset: ?>>
// CHECK:      linalg.matmul ins(%{{.*}}, %{{.*}} : memref<70x48xf32, strided<[48, 1]>>, memref<48x8xf32, strided<[72, 1], offset: 64>>) outs(%{{.*}} : memref<70x8xf32, strided<[72, 1], offset: 64>>)
// CHECK-NOT:  linalg.matmul
// CHECK:      return
// VEC-LABEL: func.func @projection
// VEC-NOT:   attn.tile_matmul
// VEC:       vector.fma
// VEC:       linalg.matmul
func.func @projection(%a: memref<70x48xf32>, %b: memref<48x72xf32>, %c: memref<70x72xf32>) {
  linalg.matmul ins(%a, %b : memref<70x48xf32>, memref<48x72xf32>) outs(%c : memref<70x72xf32>)
  return
}

// -----

// One whole block each way: no loops.
// CHECK-LABEL: func.func @one_block
// CHECK-NOT:   scf.for
// CHECK:       attn.tile_matmul {{.*}} {accumulate} : memref<32x8xf32, strided<[8, 1]>>, memref<8x32xf32, strided<[32, 1]>> into memref<32x32xf32, strided<[32, 1]>>
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

// OPTION: row-block must be positive and col-block a positive multiple of the vector width 16 (got 128, 24)
