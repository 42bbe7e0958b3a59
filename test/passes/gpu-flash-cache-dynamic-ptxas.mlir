// REQUIRES: ptxas
// The KV-cache kernels of run-time sizes through ptxas (sm_90, sm_90a):
// they assemble and the decode kernels keep every value in registers, as
// their static counterparts do (ptxas lists the kernels last defined
// first).
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx

// PTXAS-LABEL: Function properties for append_paged_append
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for prefill_contiguous_flash
// PTXAS-LABEL: Function properties for decode_hnd_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_paged_combine
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-LABEL: Function properties for decode_paged_flash
// PTXAS-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

// The paged decode kernel (a run-time capacity: it may split) takes the
// buffers as pointers (q, caches, lengths, table, out, the two partials),
// then batch, Sq, capacity, page count, block-table width and the split
// count as 64-bit parameters.
// PTX-LABEL: .entry decode_paged_flash(
// PTX: .param .u64 .ptr .align 1 decode_paged_flash_param_0,
// PTX: .param .u64 .ptr .align 1 decode_paged_flash_param_7,
// PTX: .param .u64 decode_paged_flash_param_13
// PTX-NEXT: )
// PTX-NOT: .entry
// PTX-DAG: ld.param.b64 {{.*}}[decode_paged_flash_param_11]
// PTX-DAG: ld.param.b64 {{.*}}[decode_paged_flash_param_13]
// Its combine kernel: the partials and out as pointers, then batch, Sq and
// the split count it loops over.
// PTX-LABEL: .entry decode_paged_combine(
// PTX: .param .u64 .ptr .align 1 decode_paged_combine_param_2,
// PTX-NEXT: .param .u64 decode_paged_combine_param_3,
// PTX-NEXT: .param .u64 decode_paged_combine_param_4,
// PTX-NEXT: .param .u64 decode_paged_combine_param_5
// PTX-NEXT: )
// PTX-NOT: .entry
// PTX: ld.param.b64 {{.*}}[decode_paged_combine_param_5]

func.func @decode_paged(%q: memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %kc: memref<?x16x8x128xbf16>, %vc: memref<?x16x8x128xbf16>, %len: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x?xi32>) outs(%o) {mask = #attn.mask<causal = true>} : memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>, memref<?xi32> -> memref<?x32x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>
  return
}

func.func @decode_hnd(%q: memref<?x8x1x64xf16>, %kc: memref<64x2x16x64xf16>, %vc: memref<64x2x16x64xf16>, %len: memref<?xi32>, %bt: memref<?x16xi32>, %o: memref<?x8x1x64xf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x16xi32>) outs(%o) {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>} : memref<?x8x1x64xf16>, memref<64x2x16x64xf16>, memref<64x2x16x64xf16>, memref<?xi32> -> memref<?x8x1x64xf16>
  return
}

func.func @prefill_contiguous(%q: memref<?x28x?x128xbf16>, %kc: memref<?x4x?x128xbf16>, %vc: memref<?x4x?x128xbf16>, %len: memref<?xi32>, %o: memref<?x28x?x128xbf16>, %lse: memref<?x28x?xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o, %lse : memref<?x28x?xf32>) {mask = #attn.mask<causal = true>} : memref<?x28x?x128xbf16>, memref<?x4x?x128xbf16>, memref<?x4x?x128xbf16>, memref<?xi32> -> memref<?x28x?x128xbf16>
  return
}

func.func @append_paged(%k: memref<?x8x?x128xbf16>, %v: memref<?x8x?x128xbf16>, %kc: memref<?x16x8x128xbf16>, %vc: memref<?x16x8x128xbf16>, %len: memref<?xi32>, %nl: memref<?xi32>, %bt: memref<?x?xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%nl : memref<?xi32>) block_table(%bt : memref<?x?xi32>) : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16> into memref<?x16x8x128xbf16>, memref<?x16x8x128xbf16>, memref<?xi32>
  return
}
