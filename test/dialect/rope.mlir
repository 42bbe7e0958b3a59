// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Rotary embedding on the cache ops: cache_append rotates the keys it
// writes, cache_attention the queries, with [max_pos, rotary_dim / 2] tables.

// CHECK-LABEL: func @append_neox
// CHECK: attn.cache_append %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}} lengths(%{{.*}}) new_lengths(%{{.*}} : memref<4xi32>) block_table(%{{.*}} : memref<4x8xi32>) rotary(%{{.*}}, %{{.*}} : memref<128x32xf32>, memref<128x32xf32>) {rope = #attn.rope<style = neox, rotary_dim = 64>}
func.func @append_neox(%k: memref<4x2x1x64xbf16>, %v: memref<4x2x1x64xbf16>,
                       %kc: memref<32x16x2x64xbf16>, %vc: memref<32x16x2x64xbf16>,
                       %len: memref<4xi32>, %n: memref<4xi32>, %bt: memref<4x8xi32>,
                       %cos: memref<128x32xf32>, %sin: memref<128x32xf32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<4xi32>)
      block_table(%bt : memref<4x8xi32>) rotary(%cos, %sin : memref<128x32xf32>, memref<128x32xf32>)
      {rope = #attn.rope<style = neox, rotary_dim = 64>}
      : memref<4x2x1x64xbf16>, memref<4x2x1x64xbf16>
        into memref<32x16x2x64xbf16>, memref<32x16x2x64xbf16>, memref<4xi32>
  return
}

// Partial interleaved rotary, tables in the rows' type and of run-time length.
// CHECK-LABEL: func @append_interleaved_partial
// CHECK: rotary(%{{.*}}, %{{.*}} : memref<?x12xf16>, memref<?x12xf16>) {rope = #attn.rope<style = interleaved, rotary_dim = 24>}
func.func @append_interleaved_partial(%k: memref<?x2x?x40xf16>, %v: memref<?x2x?x40xf16>,
                                      %kc: memref<?x2x100x40xf16>, %vc: memref<?x2x100x40xf16>,
                                      %len: memref<?xi32>, %cos: memref<?x12xf16>, %sin: memref<?x12xf16>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len)
      rotary(%cos, %sin : memref<?x12xf16>, memref<?x12xf16>)
      {rope = #attn.rope<style = interleaved, rotary_dim = 24>}
      : memref<?x2x?x40xf16>, memref<?x2x?x40xf16>
        into memref<?x2x100x40xf16>, memref<?x2x100x40xf16>, memref<?xi32>
  return
}

// CHECK-LABEL: func @attention_rotated_queries
// CHECK: attn.cache_attention %{{.*}}, %{{.*}}, %{{.*}} lengths(%{{.*}}) block_table(%{{.*}} : memref<4x8xi32>) sinks(%{{.*}} : memref<8xf32>) rotary(%{{.*}}, %{{.*}} : memref<128x48xbf16>, memref<128x48xbf16>) outs(%{{.*}}) {page_layout = #attn.page_layout<hnd>, rope = #attn.rope<style = neox, rotary_dim = 96>}
func.func @attention_rotated_queries(%q: memref<4x8x1x96xbf16>, %kc: memref<32x2x16x96xbf16>,
                                     %vc: memref<32x2x16x96xbf16>, %len: memref<4xi32>,
                                     %bt: memref<4x8xi32>, %s: memref<8xf32>,
                                     %cos: memref<128x48xbf16>, %sin: memref<128x48xbf16>,
                                     %o: memref<4x8x1x96xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<4x8xi32>)
      sinks(%s : memref<8xf32>) rotary(%cos, %sin : memref<128x48xbf16>, memref<128x48xbf16>) outs(%o)
      {page_layout = #attn.page_layout<hnd>, rope = #attn.rope<style = neox, rotary_dim = 96>}
      : memref<4x8x1x96xbf16>, memref<32x2x16x96xbf16>, memref<32x2x16x96xbf16>,
        memref<4xi32> -> memref<4x8x1x96xbf16>
  return
}
