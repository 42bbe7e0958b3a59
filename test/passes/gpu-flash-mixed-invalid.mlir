// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash="kv-splits=2" 2>&1 | FileCheck %s --check-prefix=SPLITS

// Mixed batches (packed queries) run on the GPU (gpu-flash-mixed.mlir);
// what the GPU kernels lack for them stays a located error.

func.func @packed_sinks(%q: memref<?x4x64xbf16>, %kc: memref<?x16x2x64xbf16>, %vc: memref<?x16x2x64xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %bt: memref<?x?xi32>, %s: memref<4xf32>, %o: memref<?x4x64xbf16>) {
  // expected-error @+1 {{attn-gpu-flash does not support attention sinks in mixed batches (packed queries) yet (the CPU pipeline attn-to-cpu does)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) block_table(%bt : memref<?x?xi32>) sinks(%s : memref<4xf32>) outs(%o) {mask = #attn.mask<causal = true>} : memref<?x4x64xbf16>, memref<?x16x2x64xbf16>, memref<?x16x2x64xbf16>, memref<?xi32> -> memref<?x4x64xbf16>
  return
}

// -----

func.func @packed_f32(%q: memref<?x4x64xf32>, %kc: memref<?x2x?x64xf32>, %vc: memref<?x2x?x64xf32>, %len: memref<?xi32>, %qo: memref<?xi32>, %o: memref<?x4x64xf32>) {
  // expected-error @+1 {{attn-gpu-flash runs f16 and bf16 on tensor cores, with the cache in the query's type; got 'f32' queries and a 'f32' cache}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) outs(%o) : memref<?x4x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>, memref<?xi32> -> memref<?x4x64xf32>
  return
}

// -----

func.func @packed_d264(%q: memref<?x4x264xbf16>, %kc: memref<?x2x?x264xbf16>, %vc: memref<?x2x?x264xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %o: memref<?x4x264xbf16>) {
  // expected-error @+1 {{attn-gpu-flash (mixed batch): head dim 264 is not supported on the GPU (1 to 256}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) outs(%o) : memref<?x4x264xbf16>, memref<?x2x?x264xbf16>, memref<?x2x?x264xbf16>, memref<?xi32> -> memref<?x4x264xbf16>
  return
}

// -----

func.func @packed_heads(%q: memref<?x?x64xbf16>, %kc: memref<?x2x?x64xbf16>, %vc: memref<?x2x?x64xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %o: memref<?x?x64xbf16>) {
  // expected-error @+1 {{attn-gpu-flash needs static heads, head dims and page size}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) outs(%o) : memref<?x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?xi32> -> memref<?x?x64xbf16>
  return
}

// -----

// Lowers without options; a static split count is refused (the decode
// blocks share the grid with the prefill blocks).
// SPLITS: error: 'attn.cache_attention' op attn-gpu-flash: mixed batches run unsplit (the prefill blocks fill the SMs); got kv-splits 2
func.func @packed_splits(%q: memref<?x4x64xbf16>, %kc: memref<?x2x?x64xbf16>, %vc: memref<?x2x?x64xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %o: memref<?x4x64xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) outs(%o) : memref<?x4x64xbf16>, memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?xi32> -> memref<?x4x64xbf16>
  return
}
