// RUN: attn-opt %s -split-input-file -verify-diagnostics -attn-parallel-to-runtime | FileCheck %s

// A destination-passing kernel takes its work-item range as two trailing
// index arguments; a companion function reports the item count.
// CHECK-LABEL: func @kernel
// CHECK-SAME: (%{{.*}}: memref<10xf32>, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-NOT: scf.forall
// CHECK: scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]] step %{{.*}} {
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[I]]]
// CHECK: func.func @kernel_work_items() -> index attributes {llvm.emit_c_interface}
// CHECK: %[[N:.*]] = arith.constant 10 : index
// CHECK: return %[[N]]
func.func @kernel(%out: memref<10xf32>) {
  %c = arith.constant 1.0 : f32
  scf.forall (%i) in (10) {
    memref.store %c, %out[%i] : memref<10xf32>
  } {attn.work_items}
  return
}

// -----

// Items of one call run one after another: per-item scratch moves to the
// function entry (one allocation per call and thread) and the emptied
// alloca scope disappears, so the stack does not grow item by item.
// CHECK-LABEL: func @scratch
// CHECK-NEXT: memref.alloca() : memref<64xf32>
// CHECK-NOT: memref.alloca_scope
// CHECK: scf.for
// CHECK-NOT: memref.alloca
// CHECK: memref.store
func.func @scratch(%out: memref<10xf32>) {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  scf.forall (%i) in (10) {
    memref.alloca_scope {
      %t = memref.alloca() : memref<64xf32>
      memref.store %c, %t[%c0] : memref<64xf32>
      %x = memref.load %t[%c0] : memref<64xf32>
      memref.store %x, %out[%i] : memref<10xf32>
    }
  } {attn.work_items}
  return
}

// -----

// A kernel returning its result runs its items in order in one call.
// CHECK-LABEL: func @returns() -> memref<10xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c10 step %c1
// CHECK-NOT: work_items
func.func @returns() -> memref<10xf32> {
  %c = arith.constant 1.0 : f32
  %out = memref.alloc() : memref<10xf32>
  scf.forall (%i) in (10) {
    memref.store %c, %out[%i] : memref<10xf32>
  } {attn.work_items}
  return %out : memref<10xf32>
}

// -----

// Two work-item loops in one function keep their order: both run in
// sequence, in one call.
// CHECK-LABEL: func @two
// CHECK-SAME: (%{{.*}}: memref<10xf32>)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c10
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c10
// CHECK-NOT: two_work_items
func.func @two(%out: memref<10xf32>) {
  %c = arith.constant 1.0 : f32
  scf.forall (%i) in (10) {
    memref.store %c, %out[%i] : memref<10xf32>
  } {attn.work_items}
  scf.forall (%i) in (10) {
    memref.store %c, %out[%i] : memref<10xf32>
  } {attn.work_items}
  return
}

// -----

func.func @caller(%out: memref<10xf32>) {
  call @callee(%out) : (memref<10xf32>) -> ()
  return
}
// expected-error @+1 {{a kernel with a work-item loop cannot have callers}}
func.func @callee(%out: memref<10xf32>) {
  %c = arith.constant 1.0 : f32
  scf.forall (%i) in (10) {
    memref.store %c, %out[%i] : memref<10xf32>
  } {attn.work_items}
  return
}

// -----

// Split-KV scratch becomes a trailing argument that the runtime allocates,
// zeroed, per run (items × the exported bytes per item): its allocation,
// counter fill and dealloc go, so concurrent runs share no memory.
// CHECK-LABEL: func @split_scratch
// CHECK-SAME: (%{{.*}}: memref<4xi32>, %[[S:.*]]: memref<?xi8>, %{{.*}}: index, %{{.*}}: index)
// CHECK-NOT: memref.alloc(
// CHECK-NOT: linalg.fill
// CHECK: memref.view %[[S]]
// CHECK-NOT: memref.dealloc
// CHECK: func.func @split_scratch_scratch_bytes_per_item() -> index attributes {llvm.emit_c_interface}
// CHECK: %[[B:.*]] = arith.constant 64 : index
// CHECK: return %[[B]]
// CHECK: func.func @split_scratch_work_items() -> index
func.func @split_scratch(%out: memref<4xi32>) {
  %c0 = arith.constant 0 : index
  %z = arith.constant 0 : i32
  %items = arith.constant 4 : index
  %bytes = arith.constant 256 : index
  %s = memref.alloc(%bytes) {alignment = 64 : i64, attn.split_scratch = 64 : i64} : memref<?xi8>
  %cnt = memref.view %s[%c0][%items] : memref<?xi8> to memref<?x16xi32>
  linalg.fill {attn.split_scratch_use} ins(%z : i32) outs(%cnt : memref<?x16xi32>)
  scf.forall (%i) in (4) {
    %x = memref.load %cnt[%i, %c0] : memref<?x16xi32>
    memref.store %x, %out[%i] : memref<4xi32>
  } {attn.work_items}
  memref.dealloc %s {attn.split_scratch_use} : memref<?xi8>
  return
}
