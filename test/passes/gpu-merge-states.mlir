// attn.merge_states on the GPU: one `_merge` kernel of 128 threads per row
// (grid (S, H, B)); each thread merges a column of the N states by their
// lse (scaled to base 2 as read), writes the output in the states' type
// and thread 0 the merged natural-log lse.
// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @merge3
// CHECK: gpu.launch_func @attn_gpu::@merge3_merge blocks in (%c2, %c4, %c3) threads in (%c128, %c1, %c1) args(%{{.*}} : memref<3x3x4x2x200xbf16>, %{{.*}} : memref<3x3x4x2xf32>, %{{.*}} : memref<3x4x2x200xbf16>, %{{.*}} : memref<3x4x2xf32>)
// CHECK-NOT: attn.merge_states
// CHECK: gpu.func @merge3_merge(%[[S:.*]]: memref<3x3x4x2x200xbf16>, %[[L:.*]]: memref<3x3x4x2xf32>, %[[O:.*]]: memref<3x4x2x200xbf16>, %[[LO:.*]]: memref<3x4x2xf32>)
// CHECK-COUNT-3: memref.load %[[L]]
// CHECK: llvm.intr.maxnum
// CHECK: memref.load %[[S]]
// CHECK: arith.extf
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[O]]
// CHECK: memref.store %{{.*}}, %[[LO]]
// The second column chunk (columns 128..199).
// CHECK: arith.cmpi slt, %{{.*}}, %c200
// CHECK: memref.store %{{.*}}, %[[O]]
// CHECK-NOT: memref.store %{{.*}}, %[[LO]]
// CHECK: gpu.return
func.func @merge3(%s: memref<3x3x4x2x200xbf16, strided<[?, ?, ?, ?, 1], offset: ?>>, %l: memref<3x3x4x2xf32, strided<[?, ?, ?, ?], offset: ?>>, %o: memref<3x4x2x200xbf16, strided<[?, ?, ?, 1], offset: ?>>, %ol: memref<3x4x2xf32, strided<[?, ?, ?], offset: ?>>) {
  attn.merge_states %s, %l into %o, %ol : memref<3x4x2xf32, strided<[?, ?, ?], offset: ?>> : memref<3x3x4x2x200xbf16, strided<[?, ?, ?, ?, 1], offset: ?>>, memref<3x3x4x2xf32, strided<[?, ?, ?, ?], offset: ?>> into memref<3x4x2x200xbf16, strided<[?, ?, ?, 1], offset: ?>>
  return
}

// -----

// f32 states, no lse: no conversions, no lse store.
// CHECK-LABEL: func.func @merge2_f32
// CHECK: gpu.launch_func @attn_gpu::@merge2_f32_merge blocks in (%c1, %c8, %c64)
// CHECK: gpu.func @merge2_f32_merge(%{{.*}}: memref<2x64x8x1x128xf32>, %{{.*}}: memref<2x64x8x1xf32>, %{{.*}}: memref<64x8x1x128xf32>)
// CHECK-NOT: arith.extf
// CHECK-NOT: arith.truncf
// CHECK: gpu.return
func.func @merge2_f32(%s: memref<2x64x8x1x128xf32>, %l: memref<2x64x8x1xf32>, %o: memref<64x8x1x128xf32>) {
  attn.merge_states %s, %l into %o : memref<2x64x8x1x128xf32>, memref<2x64x8x1xf32> into memref<64x8x1x128xf32>
  return
}
