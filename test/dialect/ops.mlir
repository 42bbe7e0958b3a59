// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: func @mha
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32> -> tensor<2x8x128x64xf32>
func.func @mha(%q: tensor<2x8x128x64xf32>, %k: tensor<2x8x128x64xf32>,
               %v: tensor<2x8x128x64xf32>) -> tensor<2x8x128x64xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>
      -> tensor<2x8x128x64xf32>
  return %o : tensor<2x8x128x64xf32>
}

// CHECK-LABEL: func @mqa_causal_offset
// CHECK: attn.attention {{.*}} {mask = #attn.mask<causal = true, q_offset = 96>, scale = 1.250000e-01 : f32}
func.func @mqa_causal_offset(%q: tensor<1x16x32x64xf16>, %k: tensor<1x1x128x64xf16>,
                             %v: tensor<1x1x128x64xf16>) -> tensor<1x16x32x64xf16> {
  %o = attn.attention %q, %k, %v
      {mask = #attn.mask<causal = true, q_offset = 96>, scale = 0.125 : f32}
      : tensor<1x16x32x64xf16>, tensor<1x1x128x64xf16>, tensor<1x1x128x64xf16>
      -> tensor<1x16x32x64xf16>
  return %o : tensor<1x16x32x64xf16>
}

// CHECK-LABEL: func @gqa_window_dilation_global_lse
// CHECK: attn.attention {{.*}} {layout = #attn.layout<bshd>, mask = #attn.mask<window_left = 127, window_right = 0, dilation = 2, global_tokens = 4>, softcap = 3.000000e+01 : f32} : {{.*}} -> tensor<1x100x32x80xbf16>, tensor<1x32x100xf32>
func.func @gqa_window_dilation_global_lse(
    %q: tensor<1x100x32x80xbf16>, %k: tensor<1x100x8x80xbf16>,
    %v: tensor<1x100x8x80xbf16>) -> (tensor<1x100x32x80xbf16>, tensor<1x32x100xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      {layout = #attn.layout<bshd>, softcap = 30.0 : f32,
       mask = #attn.mask<window_left = 127, window_right = 0, dilation = 2, global_tokens = 4>}
      : tensor<1x100x32x80xbf16>, tensor<1x100x8x80xbf16>, tensor<1x100x8x80xbf16>
      -> tensor<1x100x32x80xbf16>, tensor<1x32x100xf32>
  return %o, %lse : tensor<1x100x32x80xbf16>, tensor<1x32x100xf32>
}

// CHECK-LABEL: func @all_operands
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} bool_mask(%{{.*}} : tensor<1x1x7x9xi1>) bias(%{{.*}} : tensor<2x4x1x9xf32>) kv_lengths(%{{.*}} : tensor<2xi32>) segment_ids(%{{.*}}, %{{.*}} : tensor<2x7xi32>, tensor<2x9xi32>)
func.func @all_operands(%q: tensor<2x4x7x64xf32>, %k: tensor<2x2x9x64xf32>,
                        %v: tensor<2x2x9x32xf32>, %m: tensor<1x1x7x9xi1>,
                        %bias: tensor<2x4x1x9xf32>, %len: tensor<2xi32>,
                        %qs: tensor<2x7xi32>, %ks: tensor<2x9xi32>) -> tensor<2x4x7x32xf32> {
  %o = attn.attention %q, %k, %v bool_mask(%m : tensor<1x1x7x9xi1>)
      bias(%bias : tensor<2x4x1x9xf32>) kv_lengths(%len : tensor<2xi32>)
      segment_ids(%qs, %ks : tensor<2x7xi32>, tensor<2x9xi32>)
      : tensor<2x4x7x64xf32>, tensor<2x2x9x64xf32>, tensor<2x2x9x32xf32>
      -> tensor<2x4x7x32xf32>
  return %o : tensor<2x4x7x32xf32>
}

// CHECK-LABEL: func @alibi_and_custom_mask
// CHECK: attn.attention {{.*}} score_mod {
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: attn.yield %{{.*}} : f32
// CHECK: } mask_mod {
// CHECK: attn.yield %{{.*}} : i1
func.func @alibi_and_custom_mask(%q: tensor<1x8x64x64xf32>, %k: tensor<1x8x64x64xf32>,
                                 %v: tensor<1x8x64x64xf32>, %slope: f32) -> tensor<1x8x64x64xf32> {
  %o = attn.attention %q, %k, %v
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %qi: index, %ki: index):
        %d = arith.subi %ki, %qi : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %bias = arith.mulf %df, %slope : f32
        %r = arith.addf %s, %bias : f32
        attn.yield %r : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %qi: index, %ki: index):
        %c = arith.cmpi ule, %ki, %qi : index
        attn.yield %c : i1
      }
      : tensor<1x8x64x64xf32>, tensor<1x8x64x64xf32>, tensor<1x8x64x64xf32>
      -> tensor<1x8x64x64xf32>
  return %o : tensor<1x8x64x64xf32>
}

// CHECK-LABEL: func @dynamic_lengths
func.func @dynamic_lengths(%q: tensor<1x32x?x128xf32>, %k: tensor<1x8x?x128xf32>,
                           %v: tensor<1x8x?x128xf32>) -> tensor<1x32x?x128xf32> {
  // CHECK: tensor<1x8x?x128xf32> -> tensor<1x32x?x128xf32>
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>
      -> tensor<1x32x?x128xf32>
  return %o : tensor<1x32x?x128xf32>
}

// CHECK-LABEL: func @contiguous_cache
// CHECK: attn.cache_append %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}} lengths(%{{.*}}) new_lengths(%{{.*}} : memref<4xi32>) : memref<4x8x3x128xf32>, memref<4x8x3x128xf32> into memref<4x8x4096x128xbf16>, memref<4x8x4096x128xbf16>, memref<4xi32>
// CHECK: attn.cache_attention %{{.*}}, %{{.*}}, %{{.*}} lengths(%{{.*}}) outs(%{{.*}}, %{{.*}} : memref<4x32x3xf32>) {mask = #attn.mask<causal = true>} : memref<4x32x3x128xf32>, memref<4x8x4096x128xbf16>, memref<4x8x4096x128xbf16>, memref<4xi32> -> memref<4x32x3x128xf32>
func.func @contiguous_cache(%k: memref<4x8x3x128xf32>, %v: memref<4x8x3x128xf32>,
                            %kc: memref<4x8x4096x128xbf16>, %vc: memref<4x8x4096x128xbf16>,
                            %len: memref<4xi32>, %newlen: memref<4xi32>,
                            %q: memref<4x32x3x128xf32>, %o: memref<4x32x3x128xf32>,
                            %lse: memref<4x32x3xf32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%newlen : memref<4xi32>)
      : memref<4x8x3x128xf32>, memref<4x8x3x128xf32>
        into memref<4x8x4096x128xbf16>, memref<4x8x4096x128xbf16>, memref<4xi32>
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o, %lse : memref<4x32x3xf32>)
      {mask = #attn.mask<causal = true>}
      : memref<4x32x3x128xf32>, memref<4x8x4096x128xbf16>, memref<4x8x4096x128xbf16>,
        memref<4xi32> -> memref<4x32x3x128xf32>
  return
}

// CHECK-LABEL: func @paged_cache
// CHECK: attn.cache_append {{.*}} block_table(%{{.*}} : memref<16x64xi32>)
// CHECK: attn.cache_attention {{.*}} block_table(%{{.*}} : memref<16x64xi32>) outs(%{{.*}})
func.func @paged_cache(%k: memref<16x8x1x128xbf16>, %v: memref<16x8x1x128xbf16>,
                       %kc: memref<1024x16x8x128xbf16>, %vc: memref<1024x16x8x128xbf16>,
                       %len: memref<16xi32>, %bt: memref<16x64xi32>,
                       %q: memref<16x32x1x128xbf16>, %o: memref<16x32x1x128xbf16>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) block_table(%bt : memref<16x64xi32>)
      : memref<16x8x1x128xbf16>, memref<16x8x1x128xbf16>
        into memref<1024x16x8x128xbf16>, memref<1024x16x8x128xbf16>, memref<16xi32>
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<16x64xi32>) outs(%o)
      : memref<16x32x1x128xbf16>, memref<1024x16x8x128xbf16>, memref<1024x16x8x128xbf16>,
        memref<16xi32> -> memref<16x32x1x128xbf16>
  return
}

// Head-major pages: [P, Hkv, page_size, D]; nhd is the default and prints
// like any other attribute value.
// CHECK-LABEL: func @hnd_paged_cache
// CHECK: attn.cache_append {{.*}} block_table(%{{.*}} : memref<16x64xi32>) {page_layout = #attn.page_layout<hnd>}
// CHECK-SAME: into memref<1024x8x16x128xbf16>
// CHECK: attn.cache_attention {{.*}} block_table(%{{.*}} : memref<16x64xi32>) outs(%{{.*}}) {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>}
// CHECK: attn.cache_attention {{.*}} {page_layout = #attn.page_layout<nhd>}
func.func @hnd_paged_cache(%k: memref<16x8x1x128xbf16>, %v: memref<16x8x1x128xbf16>,
                           %kc: memref<1024x8x16x128xbf16>, %vc: memref<1024x8x16x128xbf16>,
                           %len: memref<16xi32>, %bt: memref<16x64xi32>,
                           %q: memref<16x32x1x128xbf16>, %o: memref<16x32x1x128xbf16>,
                           %nkc: memref<1024x16x8x128xbf16>, %nvc: memref<1024x16x8x128xbf16>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) block_table(%bt : memref<16x64xi32>)
      {page_layout = #attn.page_layout<hnd>}
      : memref<16x8x1x128xbf16>, memref<16x8x1x128xbf16>
        into memref<1024x8x16x128xbf16>, memref<1024x8x16x128xbf16>, memref<16xi32>
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<16x64xi32>) outs(%o)
      {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>}
      : memref<16x32x1x128xbf16>, memref<1024x8x16x128xbf16>, memref<1024x8x16x128xbf16>,
        memref<16xi32> -> memref<16x32x1x128xbf16>
  attn.cache_attention %q, %nkc, %nvc lengths(%len) block_table(%bt : memref<16x64xi32>) outs(%o)
      {page_layout = #attn.page_layout<nhd>}
      : memref<16x32x1x128xbf16>, memref<1024x16x8x128xbf16>, memref<1024x16x8x128xbf16>,
        memref<16xi32> -> memref<16x32x1x128xbf16>
  return
}
