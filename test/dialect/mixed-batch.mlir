// RUN: attn-opt %s | attn-opt | FileCheck %s

// Mixed prefill + decode batches: packed queries [T, Hq, D] with
// cumulative query_offsets [B + 1] (FlashAttention cu_seqlens_q).

// CHECK-LABEL: func @paged_packed
// CHECK: attn.cache_attention %{{.*}}, %{{.*}}, %{{.*}} lengths(%{{.*}}) query_offsets(%{{.*}} : memref<?xi32>) block_table(%{{.*}} : memref<?x?xi32>) outs(%{{.*}}, %{{.*}} : memref<?x32xf32>) {mask = #attn.mask<causal = true>} : memref<?x32x128xbf16>, memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>, memref<?xi32> -> memref<?x32x128xbf16>
func.func @paged_packed(%q: memref<?x32x128xbf16>, %kc: memref<?x16x8x128xbf16>,
                        %vc: memref<?x16x8x128xbf16>, %len: memref<?xi32>,
                        %qo: memref<?xi32>, %bt: memref<?x?xi32>,
                        %o: memref<?x32x128xbf16>, %lse: memref<?x32xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) outs(%o, %lse : memref<?x32xf32>)
      {mask = #attn.mask<causal = true>}
      : memref<?x32x128xbf16>, memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>,
        memref<?xi32> -> memref<?x32x128xbf16>
  return
}

// Static sizes, a contiguous cache, sinks and an hnd-free form.
// CHECK-LABEL: func @contiguous_static
// CHECK: attn.cache_attention {{.*}} lengths(%{{.*}}) query_offsets(%{{.*}} : memref<4xi32>) sinks(%{{.*}} : memref<8xf32>) outs(%{{.*}}) : memref<9x8x40xf32>, memref<3x2x64x40xf32>, memref<3x2x64x40xf32>, memref<3xi32> -> memref<9x8x40xf32>
func.func @contiguous_static(%q: memref<9x8x40xf32>, %kc: memref<3x2x64x40xf32>,
                             %vc: memref<3x2x64x40xf32>, %len: memref<3xi32>,
                             %qo: memref<4xi32>, %s: memref<8xf32>,
                             %o: memref<9x8x40xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<4xi32>)
      sinks(%s : memref<8xf32>) outs(%o)
      : memref<9x8x40xf32>, memref<3x2x64x40xf32>, memref<3x2x64x40xf32>,
        memref<3xi32> -> memref<9x8x40xf32>
  return
}
