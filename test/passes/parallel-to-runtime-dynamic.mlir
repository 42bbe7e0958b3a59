// RUN: attn-opt %s -split-input-file -verify-diagnostics -attn-parallel-to-runtime | FileCheck %s

// A run-time item count: the kernel exports @<k>_work_items taking the
// kernel's buffers, which recomputes the loop's bound from them (a clone
// of its computation), and @<k>_scratch_bytes, the split scratch's size;
// the allocation becomes the scratch argument.
// CHECK-LABEL: func @kernel
// CHECK-SAME: (%[[OUT:.*]]: memref<?xf32>, %[[S:.*]]: memref<?xi8>, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-NOT: memref.alloc
// CHECK: scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]]
// CHECK: %[[J:.*]] = arith.divui %[[I]]
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[J]]]
// CHECK-NOT: memref.dealloc
// CHECK: func.func @kernel_scratch_bytes(%[[A:.*]]: memref<?xf32>) -> index attributes {llvm.emit_c_interface}
// CHECK: %[[D:.*]] = memref.dim %[[A]], %{{.*}}
// CHECK: %[[N:.*]] = arith.muli %[[D]], %{{.*}}
// CHECK: %[[B:.*]] = arith.muli %[[N]], %{{.*}}
// CHECK: return %[[B]]
// CHECK: func.func @kernel_work_items(%[[A2:.*]]: memref<?xf32>) -> index attributes {llvm.emit_c_interface}
// CHECK: %[[D2:.*]] = memref.dim %[[A2]], %{{.*}}
// CHECK: %[[N2:.*]] = arith.muli %[[D2]], %{{.*}}
// CHECK: return %[[N2]]
// CHECK-NOT: kernel_scratch_bytes_per_item
func.func @kernel(%out: memref<?xf32>) {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %out, %c0 : memref<?xf32>
  %items = arith.muli %n, %c2 : index
  %bytes = arith.muli %items, %c64 : index
  %s = memref.alloc(%bytes) {attn.split_scratch = 64 : i64} : memref<?xi8>
  scf.forall (%i) in (%items) {
    %j = arith.divui %i, %c2 : index
    memref.store %c, %out[%j] : memref<?xf32>
  } {attn.work_items}
  memref.dealloc %s {attn.split_scratch_use} : memref<?xi8>
  return
}

// -----

// A bound that reads memory cannot be recomputed outside the kernel.
func.func @impure(%out: memref<?xf32>, %n: memref<1xindex>) {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.load' op computes a run-time work-item or scratch size but has memory effects or regions}}
  %items = memref.load %n[%c0] : memref<1xindex>
  scf.forall (%i) in (%items) {
    memref.store %c, %out[%i] : memref<?xf32>
  } {attn.work_items}
  return
}

// -----

// A kernel that returns its result runs a run-time count of items in
// order, in one call.
// CHECK-LABEL: func @returns
// CHECK: %[[N:.*]] = memref.dim
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %[[N]] step
// CHECK-NOT: func.func @returns_work_items
func.func @returns(%in: memref<?xf32>) -> memref<?xf32> {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %n = memref.dim %in, %c0 : memref<?xf32>
  %out = memref.alloc(%n) : memref<?xf32>
  scf.forall (%i) in (%n) {
    memref.store %c, %out[%i] : memref<?xf32>
  } {attn.work_items}
  return %out : memref<?xf32>
}
