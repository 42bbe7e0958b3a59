// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Block-sparse masks (FlexAttention BlockMask): per query block of 64 rows,
// the visible KV blocks of 128 keys.

// CHECK-LABEL: func @gqa_causal_blocks
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} block_mask(%{{.*}}, %{{.*}} : tensor<2x8x4xi32>, tensor<2x8x4x3xi32>) block_size [64, 128] {mask = #attn.mask<causal = true>} : {{.*}} -> tensor<2x8x200x64xf16>, tensor<2x8x200xf32>
func.func @gqa_causal_blocks(%q: tensor<2x8x200x64xf16>, %k: tensor<2x2x300x64xf16>,
                             %v: tensor<2x2x300x64xf16>, %n: tensor<2x8x4xi32>,
                             %i: tensor<2x8x4x3xi32>)
    -> (tensor<2x8x200x64xf16>, tensor<2x8x200xf32>) {
  %o, %l = attn.attention %q, %k, %v block_mask(%n, %i : tensor<2x8x4xi32>, tensor<2x8x4x3xi32>)
      block_size [64, 128] {mask = #attn.mask<causal = true>}
      : tensor<2x8x200x64xf16>, tensor<2x2x300x64xf16>, tensor<2x2x300x64xf16>
      -> tensor<2x8x200x64xf16>, tensor<2x8x200xf32>
  return %o, %l : tensor<2x8x200x64xf16>, tensor<2x8x200xf32>
}

// Broadcast batch and heads, run-time sizes, with kv_lengths and sinks.
// CHECK-LABEL: func @broadcast_dynamic
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} kv_lengths(%{{.*}} : tensor<?xi32>) sinks(%{{.*}} : tensor<4xf32>) block_mask(%{{.*}}, %{{.*}} : tensor<1x1x?xi32>, tensor<1x1x?x?xi32>) block_size [16, 32] : {{.*}} -> tensor<?x4x?x32xbf16>
func.func @broadcast_dynamic(%q: tensor<?x4x?x32xbf16>, %k: tensor<?x4x?x32xbf16>,
                             %v: tensor<?x4x?x32xbf16>, %len: tensor<?xi32>,
                             %s: tensor<4xf32>, %n: tensor<1x1x?xi32>,
                             %i: tensor<1x1x?x?xi32>) -> tensor<?x4x?x32xbf16> {
  %o = attn.attention %q, %k, %v kv_lengths(%len : tensor<?xi32>) sinks(%s : tensor<4xf32>)
      block_mask(%n, %i : tensor<1x1x?xi32>, tensor<1x1x?x?xi32>) block_size [16, 32]
      : tensor<?x4x?x32xbf16>, tensor<?x4x?x32xbf16>, tensor<?x4x?x32xbf16> -> tensor<?x4x?x32xbf16>
  return %o : tensor<?x4x?x32xbf16>
}

// bshd: Sq is dim 1; per-query-head lists.
// CHECK-LABEL: func @bshd
// CHECK: block_mask(%{{.*}}, %{{.*}} : tensor<1x4x3xi32>, tensor<1x4x3x2xi32>) block_size [32, 64] {layout = #attn.layout<bshd>}
func.func @bshd(%q: tensor<1x70x4x16xf32>, %k: tensor<1x100x1x16xf32>,
                %v: tensor<1x100x1x16xf32>, %n: tensor<1x4x3xi32>,
                %i: tensor<1x4x3x2xi32>) -> tensor<1x70x4x16xf32> {
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x4x3xi32>, tensor<1x4x3x2xi32>)
      block_size [32, 64] {layout = #attn.layout<bshd>}
      : tensor<1x70x4x16xf32>, tensor<1x100x1x16xf32>, tensor<1x100x1x16xf32> -> tensor<1x70x4x16xf32>
  return %o : tensor<1x70x4x16xf32>
}
