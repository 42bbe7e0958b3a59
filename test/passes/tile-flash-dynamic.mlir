// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2})' | FileCheck %s
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2 kv-splits=1})' | FileCheck %s --check-prefix=ONE
// RUN: attn-opt %s -split-input-file --attn-to-cpu="vector-width=16 parallelism=2" | FileCheck %s --check-prefix=LLVM

// Run-time batch, Sq and Skv: the sizes are read from the buffers, the
// query block count and the KV-split count (the cost model of the static
// path: 4 items per core, >= 512 keys per split) are computed in the
// kernel, and the work-item loop runs to the resulting count. The scratch
// is sized 0 when a single split remains, which then writes the output
// directly; several splits merge through the run-time count.
// CHECK-LABEL: func @dynamic
// CHECK-DAG: %[[B:.*]] = memref.dim %[[Q:.*]], %c0
// CHECK-DAG: %[[SQ:.*]] = memref.dim %[[Q]], %c2
// CHECK-DAG: %[[SKV:.*]] = memref.dim %{{.*}}, %c2
// CHECK: %[[QB:.*]] = arith.ceildivsi %[[SQ]], %c16
// CHECK: %[[BASE:.*]] = arith.muli %{{.*}}, %[[QB]]
// CHECK: %[[WANT:.*]] = arith.ceildivsi %c8, %{{.*}}
// CHECK: arith.divui %[[SKV]], %c512
// CHECK: %[[SPLITS:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : index
// CHECK: %[[ITEMS:.*]] = arith.muli %[[BASE]], %[[SPLITS]]
// CHECK: %[[SEVERAL:.*]] = arith.cmpi slt, %{{.*}}, %[[SPLITS]]
// CHECK: %[[BYTES:.*]] = arith.select %[[SEVERAL]], %{{.*}}, %{{.*}} : index
// CHECK: memref.alloc(%[[BYTES]]) {alignment = 64 : i64, attn.split_scratch = 16704 : i64}
// CHECK: scf.forall (%[[I:.*]]) in (%[[ITEMS]])
// CHECK: arith.remui %[[I]], %[[SPLITS]]
// CHECK: scf.if %{{.*}} {
// CHECK: attn.tile_finalize
// CHECK: memref.atomic_rmw addi
// CHECK: %[[LAST:.*]] = arith.index_cast %{{.*}} : index to i32
// CHECK: arith.cmpi eq, %{{.*}}, %[[LAST]]
// CHECK: attn.tile_combine {{.*}} : memref<?x?x64xf32
// CHECK: } else {
// CHECK: attn.tile_finalize
// CHECK: } {attn.work_items}
// A fixed split count needs no scratch and no merge.
// ONE-LABEL: func @dynamic
// ONE-NOT: attn.split_scratch
// ONE: scf.forall (%{{.*}}) in (%{{.*}})
// ONE-NOT: memref.atomic_rmw
// ONE-NOT: attn.tile_combine
// ONE: } {attn.work_items}
// The whole pipeline: the kernel takes the scratch and its range, and the
// module exports both counts as functions of the buffers.
// LLVM: llvm.func @dynamic(
// LLVM: llvm.func @dynamic_scratch_bytes(
// LLVM: llvm.func @dynamic_work_items(
func.func @dynamic(%q: memref<?x8x?x64xf32>, %k: memref<?x2x?x64xf32>,
                   %v: memref<?x2x?x64xf32>, %o: memref<?x8x?x64xf32>) {
  %qt = bufferization.to_tensor %q restrict : memref<?x8x?x64xf32> to tensor<?x8x?x64xf32>
  %kt = bufferization.to_tensor %k restrict : memref<?x2x?x64xf32> to tensor<?x2x?x64xf32>
  %vt = bufferization.to_tensor %v restrict : memref<?x2x?x64xf32> to tensor<?x2x?x64xf32>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>}
      : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32> -> tensor<?x8x?x64xf32>
  bufferization.materialize_in_destination %r in restrict writable %o
      : (tensor<?x8x?x64xf32>, memref<?x8x?x64xf32>) -> ()
  return
}

// -----

// Static heads and head dims, run-time lengths in BSHD: a new output
// allocation takes its batch and length from the query (dims 0 and 1),
// the lse its length from the query's sequence dim.
// CHECK-LABEL: func @bshd_lse
// CHECK-DAG: %[[B:.*]] = memref.dim %[[Q:.*]], %c0
// CHECK-DAG: %[[S:.*]] = memref.dim %[[Q]], %c1
// CHECK: memref.alloc(%[[B]], %[[S]]) : memref<?x?x4x32xf32>
// CHECK: memref.alloc(%{{.*}}, %{{.*}}) : memref<?x4x?xf32>
func.func @bshd_lse(%q: tensor<?x?x4x32xf32>, %k: tensor<?x?x4x32xf32>, %v: tensor<?x?x4x32xf32>)
    -> (tensor<?x?x4x32xf32>, tensor<?x4x?xf32>) {
  %o, %l = attn.attention %q, %k, %v {layout = #attn.layout<bshd>}
      : tensor<?x?x4x32xf32>, tensor<?x?x4x32xf32>, tensor<?x?x4x32xf32>
      -> tensor<?x?x4x32xf32>, tensor<?x4x?xf32>
  return %o, %l : tensor<?x?x4x32xf32>, tensor<?x4x?xf32>
}
