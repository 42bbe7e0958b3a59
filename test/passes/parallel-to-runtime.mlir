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

// Two work-item loops in one function keep their order as stages over one
// item numbering: [0, 10) and [10, 20). A call runs the items of its range
// in each stage (the runtime's calls stay within a stage, one call over
// [0, 20) runs both in order); @two_stage_end tells the runtime where each
// stage ends (its barriers).
// CHECK-LABEL: func @two
// CHECK-SAME: (%{{.*}}: memref<10xf32>, %[[B:.*]]: index, %[[E:.*]]: index)
// CHECK:      %[[C0:.*]] = arith.constant 0 : index
// CHECK:      %[[C10:.*]] = arith.constant 10 : index
// CHECK:      arith.maxsi %[[B]], %[[C0]]
// CHECK:      arith.minsi %[[E]], %[[C10]]
// CHECK:      scf.for
// CHECK:      %[[S1:.*]] = arith.constant 10 : index
// CHECK:      %[[S2:.*]] = arith.constant 20 : index
// CHECK:      %[[LO:.*]] = arith.maxsi %[[B]], %[[S1]]
// CHECK:      %[[FROM:.*]] = arith.subi %[[LO]], %[[S1]]
// CHECK:      %[[HI:.*]] = arith.minsi %[[E]], %[[S2]]
// CHECK:      %[[TO:.*]] = arith.subi %[[HI]], %[[S1]]
// CHECK:      scf.for %{{.*}} = %[[FROM]] to %[[TO]] step
// CHECK-NOT:  scf.forall
// CHECK:      func.func @two_stage_end(%[[I:.*]]: index) -> index
// CHECK:        arith.cmpi eq, %[[I]], %{{.*}}
// CHECK:      func.func @two_stages() -> index
// CHECK:        arith.constant 2 : index
// CHECK:      func.func @two_work_items() -> index
// CHECK:        arith.constant 20 : index
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

// A layer's shape: items, work around them (one serial item, in an
// scf.if on the range holding it), items reading what the first wrote.
// The buffer living across stages becomes a view of the shared scratch
// argument (its bytes exported, 64-byte aligned offsets), its dealloc
// goes; per-call scratch and views stay outside the stages.
// CHECK-LABEL: func @staged
// CHECK-SAME: (%[[IN:.*]]: memref<10xf32>, %[[OUT:.*]]: memref<10xf32>, %[[SHARED:.*]]: memref<?xi8>, %[[B:.*]]: index, %[[E:.*]]: index)
// CHECK:      %[[VIEW:.*]] = memref.view %[[SHARED]][%{{.*}}][] : memref<?xi8> to memref<10xf32>
// CHECK:      scf.for
// CHECK:        memref.store %{{.*}}, %[[VIEW]]
// CHECK:      %[[C64:.*]] = arith.constant 64 : index
// CHECK:      %[[VIEW2:.*]] = memref.view %[[SHARED]][%[[C64]]][] : memref<?xi8> to memref<3xf32>
// CHECK:      %[[LE:.*]] = arith.cmpi sle, %[[B]], %[[C10:.*]] : index
// CHECK:      %[[GT:.*]] = arith.cmpi slt, %[[C10]], %[[E]] : index
// CHECK:      %[[IN_RANGE:.*]] = arith.andi %[[LE]], %[[GT]]
// CHECK:      scf.if %[[IN_RANGE]] {
// CHECK-NEXT:   linalg.fill ins(%{{.*}}) outs(%[[OUT]] : memref<10xf32>)
// CHECK-NEXT:   linalg.fill ins(%{{.*}}) outs(%[[VIEW2]] : memref<3xf32>)
// CHECK-NEXT: }
// CHECK:      scf.for
// CHECK:        memref.load %[[VIEW]]
// CHECK-NOT:  memref.dealloc
// CHECK:      func.func @staged_shared_bytes() -> index
// CHECK:        arith.constant 128 : index
// CHECK:      func.func @staged_stages() -> index
// CHECK:        arith.constant 3 : index
// CHECK:      func.func @staged_work_items() -> index
// CHECK:        arith.constant 21 : index
func.func @staged(%in: memref<10xf32>, %out: memref<10xf32>) {
  %c = arith.constant 1.0 : f32
  %tmp = memref.alloc() : memref<10xf32>
  scf.forall (%i) in (10) {
    %x = memref.load %in[%i] : memref<10xf32>
    memref.store %x, %tmp[%i] : memref<10xf32>
  } {attn.work_items}
  %small = memref.alloc() : memref<3xf32>
  linalg.fill ins(%c : f32) outs(%out : memref<10xf32>)
  linalg.fill ins(%c : f32) outs(%small : memref<3xf32>)
  scf.forall (%i) in (10) {
    %x = memref.load %tmp[%i] : memref<10xf32>
    memref.store %x, %out[%i] : memref<10xf32>
  } {attn.work_items}
  memref.dealloc %tmp : memref<10xf32>
  memref.dealloc %small : memref<3xf32>
  return
}

// -----

// Not staged: a work-item count known at run time only; the kernel is one
// item running its loops in order.
// CHECK-LABEL: func @unstageable
// CHECK-SAME: (%{{.*}}: memref<?xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK:      scf.for
// CHECK:      linalg.fill
// CHECK:      func.func @unstageable_work_items() -> index
// CHECK:        arith.constant 1 : index
func.func @unstageable(%out: memref<?xf32>) {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %n = memref.dim %out, %c0 : memref<?xf32>
  scf.forall (%i) in (%n) {
    memref.store %c, %out[%i] : memref<?xf32>
  } {attn.work_items}
  linalg.fill ins(%c : f32) outs(%out : memref<?xf32>)
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
