// RUN: attn-opt %s --attn-decompose-layer --canonicalize --attn-tile-flash --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-tile-matmul="vector-width=16 row-block=16 col-block=48 sliver=48 work-items=1" --attn-parallel-to-runtime --canonicalize | FileCheck %s

// A layer kernel as the runtime builds it (destination-passing, output
// argument %out) in three stages over one item numbering: the QKV GEMM's
// items [0, 4) (192 columns in panels of 48; each item initialises its
// row blocks with the bias, a row-stride-0 view copied by attn.tile_pack,
// right before their micro-kernels), the attention's items [4, 12), the
// output GEMM's items [12, 14). The QKV buffer and the attention output
// live across stages: views of the shared scratch argument (24 KiB +
// 8 KiB). Q, K and
// V are strided views of the QKV buffer (row stride 192: no transpose
// pass), the output projection reads the attention output in place
// ([B·S, Hq·D] collapse of the same bytes) and writes straight into %out
// (no temporary, no copy).
// CHECK-LABEL: func.func @k
// CHECK-SAME:  %[[X:[a-z0-9]*]]: memref<2x16x64xf32>, %{{.*}}: memref<192x64xf32>, %[[BIAS:[a-z0-9]*]]: memref<192xf32>, %{{.*}}: memref<64x64xf32>, %{{.*}}: memref<64xf32>, %[[OUT:[a-z0-9]*]]: memref<2x16x64xf32>, %[[SHARED:[a-z0-9]*]]: memref<?xi8>, %[[B:[a-z0-9]*]]: index, %[[E:[a-z0-9]*]]: index)
// CHECK:       %[[XR:.*]] = memref.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : memref<2x16x64xf32> into memref<32x64xf32>
// CHECK:       %[[QKV:.*]] = memref.view %[[SHARED]][%{{.*}}][] : memref<?xi8> to memref<32x192xf32>
// CHECK:       arith.minsi %[[E]], %[[C4:.*]] : index
// CHECK:       scf.for
// CHECK:         attn.tile_pack %{{.*}} into %{{.*}} {transpose}
// CHECK:         %[[BB:.*]] = memref.reinterpret_cast %[[BIAS]] to offset: [%{{.*}}], sizes: [16, 48], strides: [0, 1]
// CHECK:         attn.tile_pack %[[BB]] into %{{.*}} : memref<16x48xf32, strided<[0, 1], offset: ?>> into memref<16x48xf32, strided<[192, 1], offset: ?>>
// CHECK:         attn.tile_matmul
// CHECK:       %[[H:.*]] = memref.expand_shape %[[QKV]] {{\[}}[0, 1], [2, 3]] output_shape [2, 16, 12, 16]
// CHECK:       memref.subview %[[H]][0, 0, 0, 0] [2, 16, 4, 16] [1, 1, 1, 1] : memref<2x16x12x16xf32> to memref<2x16x4x16xf32, strided<[3072, 192, 16, 1]>>
// CHECK:       memref.subview %[[H]][0, 0, 4, 0] [2, 16, 4, 16]
// CHECK:       memref.subview %[[H]][0, 0, 8, 0] [2, 16, 4, 16]
// CHECK:       %[[ATT:.*]] = memref.view %[[SHARED]][%{{.*}}][] : memref<?xi8> to memref<2x16x4x16xf32>
// CHECK:       arith.minsi %[[E]], %[[C12:.*]] : index
// CHECK:       scf.for
// CHECK:         attn.tile_online_softmax
// CHECK:       %[[A:.*]] = memref.collapse_shape %[[ATT]] {{\[}}[0, 1], [2, 3]] : memref<2x16x4x16xf32> into memref<32x64xf32>
// CHECK:       %[[Y:.*]] = memref.collapse_shape %[[OUT]] {{\[}}[0, 1], [2]] : memref<2x16x64xf32> into memref<32x64xf32>
// CHECK:       arith.minsi %[[E]], %[[C14:.*]] : index
// CHECK:       scf.for
// CHECK:         memref.subview %[[Y]]
// CHECK:         attn.tile_pack
// CHECK:         memref.subview %[[A]]
// CHECK:         attn.tile_matmul
// CHECK-NOT:   memref.copy
// CHECK:       return
// CHECK:       func.func @k_stage_end(
// CHECK:       func.func @k_shared_bytes() -> index
// CHECK:         arith.constant 32768 : index
// CHECK:       func.func @k_stages() -> index
// CHECK:         arith.constant 3 : index
// CHECK:       func.func @k_work_items() -> index
// CHECK:         arith.constant 14 : index
func.func @k(%xm: memref<2x16x64xf32>, %wm: memref<192x64xf32>, %bm: memref<192xf32>, %wom: memref<64x64xf32>, %bom: memref<64xf32>, %out: memref<2x16x64xf32>) {
  %x = bufferization.to_tensor %xm restrict : memref<2x16x64xf32> to tensor<2x16x64xf32>
  %w = bufferization.to_tensor %wm restrict : memref<192x64xf32> to tensor<192x64xf32>
  %b = bufferization.to_tensor %bm restrict : memref<192xf32> to tensor<192xf32>
  %wo = bufferization.to_tensor %wom restrict : memref<64x64xf32> to tensor<64x64xf32>
  %bo = bufferization.to_tensor %bom restrict : memref<64xf32> to tensor<64xf32>
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<192x64xf32>)
      qkv_bias(%b : tensor<192xf32>) out_weight(%wo : tensor<64x64xf32>)
      out_bias(%bo : tensor<64xf32>)
      {num_heads = 4, mask = #attn.mask<causal = true>}
      : tensor<2x16x64xf32> -> tensor<2x16x64xf32>
  bufferization.materialize_in_destination %o in restrict writable %out : (tensor<2x16x64xf32>, memref<2x16x64xf32>) -> ()
  return
}
