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
  } {attn.work_items = 10 : i64}
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
  } {attn.work_items = 10 : i64}
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
  } {attn.work_items = 10 : i64}
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
  } {attn.work_items = 10 : i64}
  scf.forall (%i) in (10) {
    memref.store %c, %out[%i] : memref<10xf32>
  } {attn.work_items = 10 : i64}
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
  } {attn.work_items = 10 : i64}
  return
}
