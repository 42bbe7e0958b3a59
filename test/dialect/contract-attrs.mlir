// The dialect's discardable attributes (AttnBase.td) on the ops they
// belong to: parse, verify and print back unchanged.
// RUN: attn-opt %s | FileCheck %s
// RUN: attn-opt %s | attn-opt | FileCheck %s

// CHECK-LABEL: func @contracts
func.func @contracts(%n: index, %t: index, %buf: memref<?xi32>, %key: memref<1x2x128x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %bytes = arith.constant 256 : index
  // CHECK: memref.alloc(%{{.*}}) {attn.split_scratch = 64 : i64} : memref<?xi8>
  %s = memref.alloc(%bytes) {attn.split_scratch = 64 : i64} : memref<?xi8>
  %z = arith.constant 0 : i32
  // CHECK: linalg.fill {attn.split_scratch_use}
  linalg.fill {attn.split_scratch_use} ins(%z : i32) outs(%buf : memref<?xi32>)
  scf.forall (%i) in (%n) {
    scf.for %j = %c0 to %t step %c1 {
    // CHECK: } {attn.kv_tile_loop = 64 : i64, attn.mask_aware}
    } {attn.kv_tile_loop = 64 : i64, attn.mask_aware}
    scf.for %j = %c0 to %t step %c1 {
    // CHECK: } {attn.q_tile_loop = 32 : i64}
    } {attn.q_tile_loop = 32 : i64}
  // CHECK: } {attn.work_items}
  } {attn.work_items}
  // CHECK: memref.dealloc %{{.*}} {attn.split_scratch_use}
  memref.dealloc %s {attn.split_scratch_use} : memref<?xi8>
  // CHECK: memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 3, {{.*}}>} : memref<16xi64>
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 3, dims = [64, 128, 2, 1], strides = [128, 16384, 32768], box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
  return
}

// CHECK-LABEL: func @raised
func.func @raised(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) -> tensor<1x1x8x16xf32> {
  // CHECK: attn.attention {{.*}} {attn.raised = "stable"}
  %o = attn.attention %q, %k, %v {attn.raised = "stable"} : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}
