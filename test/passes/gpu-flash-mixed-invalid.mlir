// RUN: attn-opt %s -verify-diagnostics --attn-gpu-flash

// Mixed batches (packed queries) are CPU-only for now: a located error,
// not a silent pass.
func.func @cache_packed(%q: memref<?x4x64xbf16>, %kc: memref<?x16x2x64xbf16>, %vc: memref<?x16x2x64xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x4x64xbf16>) {
  // expected-error @+1 {{attn-gpu-flash does not support mixed batches (packed queries with query_offsets) yet (the CPU pipeline attn-to-cpu does)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) block_table(%bt : memref<?x?xi32>) outs(%o) {mask = #attn.mask<causal = true>} : memref<?x4x64xbf16>, memref<?x16x2x64xbf16>, memref<?x16x2x64xbf16>, memref<?xi32> -> memref<?x4x64xbf16>
  return
}
