// REQUIRES: ptxas
// The mixed prefill + decode kernels (packed queries, query_offsets) through
// ptxas for sm_90 (mma.sync) and sm_90a (wgmma where the prefill geometry
// takes it): both kinds' bodies assemble in one kernel and keep every
// value in registers (ptxas lists the kernels last defined first).
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx

// PTXAS-LABEL: Function properties for contiguous_d72_mixed
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for hnd_lse_mixed
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for paged_nhd_mixed
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

// The paged kernel: 7 buffers as pointers, then batch, T, capacity, page
// count and block-table width as 64-bit parameters.
// PTX-LABEL: .entry paged_nhd_mixed(
// PTX: .param .u64 .ptr .align 1 paged_nhd_mixed_param_6,
// PTX: .param .u64 paged_nhd_mixed_param_11
// PTX-NEXT: )
// PTX: mov.u32 %{{.*}}, %nctaid.x;
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
func.func @paged_nhd(%q: memref<?x32x128xbf16>, %kc: memref<?x16x8x128xbf16>, %vc: memref<?x16x8x128xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x32x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) block_table(%bt : memref<?x?xi32>) outs(%o) {mask = #attn.mask<causal = true>} : memref<?x32x128xbf16>, memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>, memref<?xi32> -> memref<?x32x128xbf16>
  return
}
func.func @hnd_lse(%q: memref<?x28x64xf16>, %kc: memref<?x4x16x64xf16>, %vc: memref<?x4x16x64xf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x28x64xf16>, %lse: memref<?x28xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) block_table(%bt : memref<?x?xi32>) outs(%o, %lse : memref<?x28xf32>) {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>} : memref<?x28x64xf16>, memref<?x4x16x64xf16>, memref<?x4x16x64xf16>, memref<?xi32> -> memref<?x28x64xf16>
  return
}
func.func @contiguous_d72(%q: memref<?x8x72xbf16>, %kc: memref<?x2x?x72xbf16>, %vc: memref<?x2x?x72xbf16>, %len: memref<?xi32>, %qo: memref<?xi32>, %o: memref<?x8x72xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<?xi32>) outs(%o) {mask = #attn.mask<causal = true, window_left = 32>} : memref<?x8x72xbf16>, memref<?x2x?x72xbf16>, memref<?x2x?x72xbf16>, memref<?xi32> -> memref<?x8x72xbf16>
  return
}
