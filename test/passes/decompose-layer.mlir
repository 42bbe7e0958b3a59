// RUN: attn-opt %s --split-input-file --attn-decompose-layer | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-decompose-layer --attn-tile-flash --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-tile-matmul | FileCheck %s --check-prefix=BUF
// RUN: attn-opt %s --split-input-file --attn-to-cpu | FileCheck %s --check-prefix=LLVM

// Seed 004's layer, small: one GEMM for Q, K and V against the combined
// weight read transposed (nn.Linear [out, in]), the bias as its starting
// value; [B·S, (Hq + 2·Hkv)·D] is [B, S, Hq + 2·Hkv, D], and Q, K, V are
// slices of it in the bshd layout; the attention output [B, S, Hq, D] is
// the output projection's [B·S, Hq·D] operand as it is.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @self_combined
// CHECK:      %[[X:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<2x16x64xf32> into tensor<32x64xf32>
// CHECK:      %[[B:.*]] = linalg.broadcast ins(%arg2 : tensor<192xf32>) outs(%{{.*}} : tensor<32x192xf32>) dimensions = [0]
// CHECK:      %[[QKV:.*]] = linalg.matmul indexing_maps = [#[[A]], #[[W]], #[[C]]] ins(%[[X]], %arg1 : tensor<32x64xf32>, tensor<192x64xf32>) outs(%[[B]] : tensor<32x192xf32>)
// CHECK:      %[[H:.*]] = tensor.expand_shape %[[QKV]] {{\[}}[0, 1], [2, 3]] output_shape [2, 16, 12, 16]
// CHECK:      %[[Q:.*]] = tensor.extract_slice %[[H]][0, 0, 0, 0] [2, 16, 4, 16] [1, 1, 1, 1]
// CHECK:      %[[K:.*]] = tensor.extract_slice %[[H]][0, 0, 4, 0] [2, 16, 4, 16] [1, 1, 1, 1]
// CHECK:      %[[V:.*]] = tensor.extract_slice %[[H]][0, 0, 8, 0] [2, 16, 4, 16] [1, 1, 1, 1]
// CHECK:      %[[O:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] {layout = #attn.layout<bshd>, mask = #attn.mask<causal = true>, scale = 2.500000e-01 : f32}
// CHECK:      %[[OF:.*]] = tensor.collapse_shape %[[O]] {{\[}}[0, 1], [2, 3]] : tensor<2x16x4x16xf32> into tensor<32x64xf32>
// CHECK:      %[[BO:.*]] = linalg.broadcast ins(%arg4 : tensor<64xf32>)
// CHECK:      %[[Y:.*]] = linalg.matmul indexing_maps = [#[[A]], #[[W]], #[[C]]] ins(%[[OF]], %arg3 : tensor<32x64xf32>, tensor<64x64xf32>) outs(%[[BO]] : tensor<32x64xf32>)
// CHECK:      %[[R:.*]] = tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]] output_shape [2, 16, 64]
// CHECK:      return %[[R]]
// After bufferization Q, K and V are strided views of the one GEMM's
// buffer (row stride (Hq + 2·Hkv)·D = 192), nothing is copied, and both
// GEMMs are attn-tile-matmul blocks packing the weight transposed.
// BUF-LABEL: func.func @self_combined
// BUF-NOT:   memref.copy
// BUF:       attn.tile_pack %{{.*}} into %{{.*}} {transpose} : memref<32x64xf32, strided<[64, 1], offset: ?>> into memref<64x32xf32, strided<[32, 1], offset: ?>>
// BUF:       memref.subview %{{.*}}[0, 0, 0, 0] [2, 16, 4, 16] [1, 1, 1, 1] : memref<2x16x12x16xf32> to memref<2x16x4x16xf32, strided<[3072, 192, 16, 1]>>
// BUF:       memref.subview %{{.*}}[0, 0, 4, 0] [2, 16, 4, 16] [1, 1, 1, 1] : memref<2x16x12x16xf32> to memref<2x16x4x16xf32, strided<[3072, 192, 16, 1], offset: 64>>
// BUF:       memref.subview %{{.*}}[0, 0, 8, 0] [2, 16, 4, 16] [1, 1, 1, 1] : memref<2x16x12x16xf32> to memref<2x16x4x16xf32, strided<[3072, 192, 16, 1], offset: 128>>
// BUF:       attn.tile_pack %{{.*}} into %{{.*}} {transpose} : memref<32x64xf32, strided<[64, 1], offset: ?>> into memref<64x32xf32, strided<[32, 1], offset: ?>>
// BUF-NOT:   memref.copy
// BUF-NOT:   linalg.matmul
// BUF:       return
// LLVM-LABEL: llvm.func @self_combined
// LLVM-NOT:  memrefCopy
func.func @self_combined(%x: tensor<2x16x64xf32>, %w: tensor<192x64xf32>,
                         %b: tensor<192xf32>, %wo: tensor<64x64xf32>,
                         %bo: tensor<64xf32>) -> tensor<2x16x64xf32> {
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<192x64xf32>)
      qkv_bias(%b : tensor<192xf32>) out_weight(%wo : tensor<64x64xf32>)
      out_bias(%bo : tensor<64xf32>)
      {num_heads = 4, mask = #attn.mask<causal = true>}
      : tensor<2x16x64xf32> -> tensor<2x16x64xf32>
  return %o : tensor<2x16x64xf32>
}

// -----

// Cross-attention, separate weights, GQA 4:1, Dv != D, f16: one GEMM per
// projection accumulating in f32 from zero, narrowed to f16 once; the
// padding mask and lengths go to the attention as they are.
// CHECK-LABEL: func.func @cross_separate
// CHECK:      linalg.fill {{.*}} -> tensor<10x320xf32>
// CHECK:      linalg.matmul {{.*}} ins(%{{.*}}, %arg3 : tensor<10x96xf16>, tensor<320x96xf16>) outs(%{{.*}} : tensor<10x320xf32>)
// CHECK:      arith.truncf {{.*}} : f32 to f16
// CHECK:      %[[Q:.*]] = tensor.expand_shape %{{.*}} output_shape [2, 5, 8, 40] : tensor<10x320xf16> into tensor<2x5x8x40xf16>
// CHECK:      linalg.matmul {{.*}} ins(%{{.*}}, %arg4 : tensor<74x24xf16>, tensor<80x24xf16>)
// CHECK:      %[[K:.*]] = tensor.expand_shape %{{.*}} output_shape [2, 37, 2, 40]
// CHECK:      linalg.matmul {{.*}} ins(%{{.*}}, %arg5 : tensor<74x20xf16>, tensor<48x20xf16>)
// CHECK:      %[[V:.*]] = tensor.expand_shape %{{.*}} output_shape [2, 37, 2, 24]
// CHECK:      %[[O:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] bool_mask(%arg7 : tensor<2x1x1x37xi1>) kv_lengths(%arg8 : tensor<2xi32>) {layout = #attn.layout<bshd>, scale = 0.158113882 : f32} : tensor<2x5x8x40xf16>, tensor<2x37x2x40xf16>, tensor<2x37x2x24xf16> -> tensor<2x5x8x24xf16>
// CHECK:      tensor.collapse_shape %[[O]] {{\[}}[0, 1], [2, 3]] : tensor<2x5x8x24xf16> into tensor<10x192xf16>
// CHECK:      linalg.matmul {{.*}} ins(%{{.*}}, %arg6 : tensor<10x192xf16>, tensor<50x192xf16>) outs(%{{.*}} : tensor<10x50xf32>)
// CHECK:      tensor.expand_shape %{{.*}} output_shape [2, 5, 50] : tensor<10x50xf16> into tensor<2x5x50xf16>
func.func @cross_separate(%q: tensor<2x5x96xf16>, %k: tensor<2x37x24xf16>,
                          %v: tensor<2x37x20xf16>, %wq: tensor<320x96xf16>,
                          %wk: tensor<80x24xf16>, %wv: tensor<48x20xf16>,
                          %wo: tensor<50x192xf16>, %m: tensor<2x1x1x37xi1>,
                          %len: tensor<2xi32>) -> tensor<2x5x50xf16> {
  %o = attn.multi_head_attention %q
      kv(%k, %v : tensor<2x37x24xf16>, tensor<2x37x20xf16>)
      qkv_weights(%wq, %wk, %wv : tensor<320x96xf16>, tensor<80x24xf16>,
                  tensor<48x20xf16>)
      out_weight(%wo : tensor<50x192xf16>)
      bool_mask(%m : tensor<2x1x1x37xi1>) kv_lengths(%len : tensor<2xi32>)
      {num_heads = 8, num_kv_heads = 2}
      : tensor<2x5x96xf16> -> tensor<2x5x50xf16>
  return %o : tensor<2x5x50xf16>
}

// -----

// The weights result: a second attention with the identity as values
// (softmax(s) · I = P, the same masks and dropout draws), transposed to
// [B, Hq, Sq, Skv].
// CHECK-LABEL: func.func @weights
// CHECK:      %[[O:.*]] = attn.attention %[[Q:.*]], %[[K:.*]], %[[V:.*]] dropout(%arg3 : tensor<2xi64>) {dropout_p = 1.000000e-01 : f64, layout = #attn.layout<bshd>
// CHECK:      %[[I:.*]] = linalg.generic
// CHECK:        arith.cmpi eq
// CHECK:      } -> tensor<2x7x2x7xf32>
// CHECK:      %[[P:.*]] = attn.attention %[[Q]], %[[K]], %[[I]] dropout(%arg3 : tensor<2xi64>) {{.*}} -> tensor<2x7x2x7xf32>
// CHECK:      %[[T:.*]] = linalg.transpose ins(%[[P]] : tensor<2x7x2x7xf32>) outs(%{{.*}} : tensor<2x2x7x7xf32>) permutation = [0, 2, 1, 3]
// CHECK:      return %{{.*}}, %[[T]]
func.func @weights(%x: tensor<2x7x16xf32>, %w: tensor<48x16xf32>,
                   %wo: tensor<16x16xf32>, %st: tensor<2xi64>)
    -> (tensor<2x7x16xf32>, tensor<2x2x7x7xf32>) {
  %o, %p = attn.multi_head_attention %x qkv_weight(%w : tensor<48x16xf32>)
      out_weight(%wo : tensor<16x16xf32>) dropout(%st : tensor<2xi64>)
      {num_heads = 2, dropout_p = 0.1}
      : tensor<2x7x16xf32> -> tensor<2x7x16xf32>, tensor<2x2x7x7xf32>
  return %o, %p : tensor<2x7x16xf32>, tensor<2x2x7x7xf32>
}
