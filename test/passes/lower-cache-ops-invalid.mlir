// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-lower-cache-ops)'

// The page size decides how KV tiles cover pages: it is compiled in.
func.func @dynamic_page_size(%q: memref<2x8x1x64xf32>, %kc: memref<64x?x2x64xf32>,
                             %vc: memref<64x?x2x64xf32>, %len: memref<2xi32>,
                             %bt: memref<2x8xi32>, %o: memref<2x8x1x64xf32>) {
  // expected-error @+1 {{attn-lower-cache-ops: the key cache page size must be static (only batch, lengths, pages and the block-table width may be run-time sizes)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<2x8xi32>) outs(%o)
      : memref<2x8x1x64xf32>, memref<64x?x2x64xf32>, memref<64x?x2x64xf32>,
        memref<2xi32> -> memref<2x8x1x64xf32>
  return
}

// -----

func.func @dynamic_query_heads(%q: memref<2x?x1x64xf32>, %kc: memref<2x2x128x64xf32>,
                               %vc: memref<2x2x128x64xf32>, %len: memref<2xi32>,
                               %o: memref<2x?x1x64xf32>) {
  // expected-error @+1 {{attn-lower-cache-ops: the query heads must be static}}
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o)
      : memref<2x?x1x64xf32>, memref<2x2x128x64xf32>, memref<2x2x128x64xf32>,
        memref<2xi32> -> memref<2x?x1x64xf32>
  return
}

// -----

func.func @append_dynamic_head_dim(%k: memref<2x2x?x?xf32>, %v: memref<2x2x?x64xf32>,
                                   %kc: memref<2x2x128x?xf32>, %vc: memref<2x2x128x64xf32>,
                                   %len: memref<2xi32>) {
  // expected-error @+1 {{attn-lower-cache-ops: the key cache head dim must be static}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len)
      : memref<2x2x?x?xf32>, memref<2x2x?x64xf32>
        into memref<2x2x128x?xf32>, memref<2x2x128x64xf32>, memref<2xi32>
  return
}
