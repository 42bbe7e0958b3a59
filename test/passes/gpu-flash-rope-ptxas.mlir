// REQUIRES: ptxas
// The rotating kernels through ptxas (sm_90, sm_90a): the append kernel
// with RoPE (static and run-time sizes), the query rotation kernel and the
// flash kernels reading the rotated queries (decode: mma.sync; a chunk of
// run-time length: the prefill geometry, wgmma on sm_90a) assemble
// without spills.
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90})' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --implicit-check-not=warning
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --implicit-check-not=warning
// RUN: FileCheck %s --check-prefix=WGMMA < %t90a.ptx

// CHECK-LABEL: Function properties for append_dyn_append
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for append_static_append
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for chunk_dyn_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for chunk_dyn_rope_q
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for decode_static_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for decode_static_rope_q
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

// The chunk's flash kernel runs wgmma on sm_90a, reading the rotated Q.
// WGMMA-LABEL: .entry chunk_dyn_flash(
// WGMMA: wgmma.mma_async
func.func @append_static(%k: memref<2x2x1x64xbf16>, %v: memref<2x2x1x64xbf16>, %kc: memref<8x16x2x64xbf16>, %vc: memref<8x16x2x64xbf16>, %len: memref<2xi32>, %n: memref<2xi32>, %bt: memref<2x4xi32>, %cos: memref<64x32xf32>, %sin: memref<64x32xf32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<2xi32>) block_table(%bt : memref<2x4xi32>) rotary(%cos, %sin : memref<64x32xf32>, memref<64x32xf32>) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<2x2x1x64xbf16>, memref<2x2x1x64xbf16> into memref<8x16x2x64xbf16>, memref<8x16x2x64xbf16>, memref<2xi32>
  return
}
func.func @decode_static(%q: memref<2x8x1x64xbf16>, %kc: memref<8x16x2x64xbf16>, %vc: memref<8x16x2x64xbf16>, %len: memref<2xi32>, %bt: memref<2x4xi32>, %cos: memref<64x32xf32>, %sin: memref<64x32xf32>, %o: memref<2x8x1x64xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<2x4xi32>) rotary(%cos, %sin : memref<64x32xf32>, memref<64x32xf32>) outs(%o) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<2x8x1x64xbf16>, memref<8x16x2x64xbf16>, memref<8x16x2x64xbf16>, memref<2xi32> -> memref<2x8x1x64xbf16>
  return
}
func.func @append_dyn(%k: memref<?x2x?x40xf16>, %v: memref<?x2x?x40xf16>, %kc: memref<?x2x16x40xf16>, %vc: memref<?x2x16x40xf16>, %len: memref<?xi32>, %n: memref<?xi32>, %bt: memref<?x?xi32>, %cos: memref<?x12xf16>, %sin: memref<?x12xf16>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<?xi32>) block_table(%bt : memref<?x?xi32>) rotary(%cos, %sin : memref<?x12xf16>, memref<?x12xf16>) {page_layout = #attn.page_layout<hnd>, rope = #attn.rope<style = interleaved, rotary_dim = 24>} : memref<?x2x?x40xf16>, memref<?x2x?x40xf16> into memref<?x2x16x40xf16>, memref<?x2x16x40xf16>, memref<?xi32>
  return
}
func.func @chunk_dyn(%q: memref<?x8x?x64xbf16>, %kc: memref<?x16x2x64xbf16>, %vc: memref<?x16x2x64xbf16>, %len: memref<?xi32>, %bt: memref<?x?xi32>, %cos: memref<?x32xf32>, %sin: memref<?x32xf32>, %o: memref<?x8x?x64xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x?xi32>) rotary(%cos, %sin : memref<?x32xf32>, memref<?x32xf32>) outs(%o) {mask = #attn.mask<causal = true>, rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<?x8x?x64xbf16>, memref<?x16x2x64xbf16>, memref<?x16x2x64xbf16>, memref<?xi32> -> memref<?x8x?x64xbf16>
  return
}
