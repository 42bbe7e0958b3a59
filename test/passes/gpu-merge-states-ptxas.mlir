// REQUIRES: ptxas
// The merge_states kernel through ptxas (sm_90): it assembles and keeps
// every value in registers (3 states, two column chunks; 2 states of f16).
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm)' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --implicit-check-not=warning

// CHECK-LABEL: Function properties for merge2_merge
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for merge3_merge
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @merge3(%s: memref<3x3x4x2x200xbf16>, %l: memref<3x3x4x2xf32>, %o: memref<3x4x2x200xbf16>, %ol: memref<3x4x2xf32>) {
  attn.merge_states %s, %l into %o, %ol : memref<3x4x2xf32> : memref<3x3x4x2x200xbf16>, memref<3x3x4x2xf32> into memref<3x4x2x200xbf16>
  return
}

func.func @merge2(%s: memref<2x64x32x1x128xf16>, %l: memref<2x64x32x1xf32>, %o: memref<64x32x1x128xf16>) {
  attn.merge_states %s, %l into %o : memref<2x64x32x1x128xf16>, memref<2x64x32x1xf32> into memref<64x32x1x128xf16>
  return
}
