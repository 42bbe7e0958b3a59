// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: func @two_states
// CHECK: attn.merge_states %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}} : memref<64x32x1xf32> : memref<2x64x32x1x128xf32>, memref<2x64x32x1xf32> into memref<64x32x1x128xf32>
func.func @two_states(%s: memref<2x64x32x1x128xf32>, %sl: memref<2x64x32x1xf32>,
                      %o: memref<64x32x1x128xf32>, %l: memref<64x32x1xf32>) {
  attn.merge_states %s, %sl into %o, %l : memref<64x32x1xf32>
      : memref<2x64x32x1x128xf32>, memref<2x64x32x1xf32> into memref<64x32x1x128xf32>
  return
}

// CHECK-LABEL: func @bf16_no_lse
// CHECK: attn.merge_states %{{.*}}, %{{.*}} into %{{.*}} : memref<3x2x4x7x80xbf16, strided<[?, ?, ?, ?, 1], offset: ?>>, memref<3x2x4x7xf32> into memref<2x4x7x80xbf16>
func.func @bf16_no_lse(%s: memref<3x2x4x7x80xbf16, strided<[?, ?, ?, ?, 1], offset: ?>>,
                       %sl: memref<3x2x4x7xf32>, %o: memref<2x4x7x80xbf16>) {
  attn.merge_states %s, %sl into %o
      : memref<3x2x4x7x80xbf16, strided<[?, ?, ?, ?, 1], offset: ?>>, memref<3x2x4x7xf32>
        into memref<2x4x7x80xbf16>
  return
}
