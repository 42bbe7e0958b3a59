// RUN: attn-opt %s --attn-lower-cache-ops | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=CPU

// One work item per (batch, head): a strided [N, S, Dv] view of its states
// and an [N, S] view of their lse, merged by attn.tile_combine (the split
// merge of flash-decoding); then vector code: five 16-lane vectors per row
// (Dv = 80), bf16 states loaded as bf16 and widened to f32, f32 FMAs, the
// merged row rounded back to bf16.
// TILE-LABEL: func @merge
// TILE: scf.forall (%[[I:.*]]) in (8)
// TILE: %[[H:.*]] = arith.remui %[[I]], %c4
// TILE: %[[B:.*]] = arith.divui %[[I]], %c4
// TILE: %[[P:.*]] = memref.subview %arg0[0, %[[B]], %[[H]], 0, 0] [3, 1, 1, 7, 80] [1, 1, 1, 1, 1] : memref<3x2x4x7x80xbf16> to memref<3x7x80xbf16, strided<[4480, 80, 1], offset: ?>>
// TILE: %[[L:.*]] = memref.subview %arg1[0, %[[B]], %[[H]], 0] [3, 1, 1, 7] [1, 1, 1, 1] : memref<3x2x4x7xf32> to memref<3x7xf32, strided<[56, 1], offset: ?>>
// TILE: %[[O:.*]] = memref.subview %arg2[%[[B]], %[[H]], 0, 0]
// TILE: %[[OL:.*]] = memref.subview %arg3[%[[B]], %[[H]], 0]
// TILE: attn.tile_combine %[[P]], %[[L]] into %[[O]] lse(%[[OL]] : {{.*}})
// TILE: } {attn.work_items}
// CPU-LABEL: llvm.func @merge
// CPU-NOT: attn.
// CPU: llvm.load {{.*}} -> vector<16xbf16>
// CPU: llvm.fpext {{.*}} : vector<16xbf16> to vector<16xf32>
// CPU: llvm.intr.fmuladd({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CPU: llvm.fptrunc {{.*}} : vector<16xf32> to vector<16xbf16>
func.func @merge(%s: memref<3x2x4x7x80xbf16>, %sl: memref<3x2x4x7xf32>,
                 %o: memref<2x4x7x80xbf16>, %l: memref<2x4x7xf32>) {
  attn.merge_states %s, %sl into %o, %l : memref<2x4x7xf32>
      : memref<3x2x4x7x80xbf16>, memref<3x2x4x7xf32> into memref<2x4x7x80xbf16>
  return
}
