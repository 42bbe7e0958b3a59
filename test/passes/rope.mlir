// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops{kv-splits=1})' | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-to-cpu="vector-width=16" | FileCheck %s --check-prefix=LLVM

// Rotary embedding in attn-lower-cache-ops (common/Rope.h's arithmetic):
// appended keys are rotated by position lengths[b] + r before they are
// written, values are copied as they are.

// NeoX, full rotary, f32 tables of run-time length: pairs (x[i], x[i + 32])
// as two contiguous 16-lane vectors per block of 16 pairs; rows past the
// table are dropped (count clamped by max_pos - length).
// CHECK-LABEL: func @append_neox
// CHECK: scf.forall
// CHECK: %[[LEN:.*]] = arith.index_cast %{{.*}} : i32 to index
// CHECK: %[[MAXPOS:.*]] = memref.dim %arg6, %{{.*}} : memref<?x32xf32>
// CHECK: %[[ROOM:.*]] = arith.subi %[[MAXPOS]], %[[LEN]] : index
// CHECK: arith.minsi %{{.*}}, %[[ROOM]] : index
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[POS:.*]] = arith.addi %[[LEN]], %[[R]] : index
// CHECK: %[[C:.*]] = vector.transfer_read %arg6[%[[POS]], %c0{{.*}}]{{.*}} : memref<?x32xf32>, vector<16xf32>
// CHECK: %[[S:.*]] = vector.transfer_read %arg7[%[[POS]], %c0{{.*}}]{{.*}} : memref<?x32xf32>, vector<16xf32>
// CHECK: %[[A:.*]] = vector.transfer_read %arg0[{{.*}}, %c0{{.*}}]{{.*}} vector<16xbf16>
// CHECK: %[[A32:.*]] = arith.extf %[[A]]
// CHECK: %[[B:.*]] = vector.transfer_read %arg0[{{.*}}, %c32{{.*}}]{{.*}} vector<16xbf16>
// CHECK: %[[B32:.*]] = arith.extf %[[B]]
// CHECK: %[[AC:.*]] = arith.mulf %[[A32]], %[[C]] : vector<16xf32>
// CHECK: %[[BS:.*]] = arith.mulf %[[B32]], %[[S]] : vector<16xf32>
// CHECK: %[[Y0:.*]] = arith.subf %[[AC]], %[[BS]] : vector<16xf32>
// CHECK: %[[BC:.*]] = arith.mulf %[[B32]], %[[C]] : vector<16xf32>
// CHECK: %[[AS:.*]] = arith.mulf %[[A32]], %[[S]] : vector<16xf32>
// CHECK: %[[Y1:.*]] = arith.addf %[[BC]], %[[AS]] : vector<16xf32>
// CHECK: %[[W0:.*]] = arith.truncf %[[Y0]] : vector<16xf32> to vector<16xbf16>
// CHECK: vector.transfer_write %[[W0]], %arg2[{{.*}}, %c0{{.*}}] {in_bounds = [true]}
// CHECK: %[[W1:.*]] = arith.truncf %[[Y1]] : vector<16xf32> to vector<16xbf16>
// CHECK: vector.transfer_write %[[W1]], %arg2[{{.*}}, %c32{{.*}}] {in_bounds = [true]}
// The second block of 16 pairs: dims 16 and 48.
// CHECK: vector.transfer_read %arg6[%[[POS]], %c16{{.*}}]
// CHECK: vector.transfer_write {{.*}}, %arg2[{{.*}}, %c48{{.*}}]
// Values: a plain copy, no rotation.
// CHECK: vector.transfer_read %arg1
// CHECK-NOT: arith.mulf
// CHECK: } {attn.work_items}
// LLVM-LABEL: llvm.func @append_neox
// LLVM-NOT: attn.
// LLVM: llvm.fmul
// LLVM: llvm.fsub
func.func @append_neox(%k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x64xbf16>,
                       %kc: memref<32x16x2x64xbf16>, %vc: memref<32x16x2x64xbf16>,
                       %len: memref<?xi32>, %bt: memref<?x8xi32>,
                       %cos: memref<?x32xf32>, %sin: memref<?x32xf32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len)
      block_table(%bt : memref<?x8xi32>) rotary(%cos, %sin : memref<?x32xf32>, memref<?x32xf32>)
      {rope = #attn.rope<style = neox, rotary_dim = 64>}
      : memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>
        into memref<32x16x2x64xbf16>, memref<32x16x2x64xbf16>, memref<?xi32>
  return
}

// -----

// Interleaved, partial (24 of 40 dims), f16 tables: 12 pairs in blocks of 4
// (the largest power of two dividing 12), each one 8-lane read split into
// even and odd lanes and merged back; dims 24..39 pass through.
// CHECK-LABEL: func @append_interleaved_partial
// CHECK: %[[C:.*]] = vector.transfer_read %arg5[%[[POS:.*]], %c0{{.*}}]{{.*}} : memref<100x12xf16>, vector<4xf16>
// CHECK: %[[X:.*]] = vector.transfer_read %arg0[{{.*}}, %c0{{.*}}]{{.*}} : memref<2x2x3x40xf16>, vector<8xf16>
// CHECK: %[[X32:.*]] = arith.extf %[[X]] : vector<8xf16> to vector<8xf32>
// CHECK: vector.shuffle %[[X32]], %[[X32]] [0, 2, 4, 6] : vector<8xf32>, vector<8xf32>
// CHECK: vector.shuffle %[[X32]], %[[X32]] [1, 3, 5, 7] : vector<8xf32>, vector<8xf32>
// CHECK: %[[Y:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 4, 1, 5, 2, 6, 3, 7] : vector<4xf32>, vector<4xf32>
// CHECK: %[[Y16:.*]] = arith.truncf %[[Y]] : vector<8xf32> to vector<8xf16>
// CHECK: vector.transfer_write %[[Y16]], %arg2[{{.*}}, %c0{{.*}}] {in_bounds = [true]}
// CHECK: vector.transfer_read %arg5[%[[POS]], %c4{{.*}}]
// CHECK: vector.transfer_read %arg5[%[[POS]], %c8{{.*}}]
// CHECK: vector.transfer_write {{.*}}, %arg2[{{.*}}, %c16{{.*}}] {in_bounds = [true]}
// CHECK: %[[P:.*]] = vector.transfer_read %arg0[{{.*}}, %c24{{.*}}]{{.*}} : memref<2x2x3x40xf16>, vector<16xf16>
// CHECK: vector.transfer_write %[[P]], %arg2[{{.*}}, %c24{{.*}}] {in_bounds = [true]}
func.func @append_interleaved_partial(%k: memref<2x2x3x40xf16>, %v: memref<2x2x3x40xf16>,
                                      %kc: memref<2x2x100x40xf16>, %vc: memref<2x2x100x40xf16>,
                                      %len: memref<2xi32>, %cos: memref<100x12xf16>, %sin: memref<100x12xf16>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len)
      rotary(%cos, %sin : memref<100x12xf16>, memref<100x12xf16>)
      {rope = #attn.rope<style = interleaved, rotary_dim = 24>}
      : memref<2x2x3x40xf16>, memref<2x2x3x40xf16>
        into memref<2x2x100x40xf16>, memref<2x2x100x40xf16>, memref<2xi32>
  return
}

// -----

// Queries: each item rotates its rows by position length - Sq + q (clamped
// into the table) into an f32 row block, which the pack then scales into
// the Q tile.
// CHECK-LABEL: func @decode_rope
// CHECK: scf.forall
// CHECK: %[[LEN:.*]] = memref.load %arg3
// CHECK: %[[ROT:.*]] = memref.alloca() : memref<1x64xf32>
// CHECK: %[[LAST:.*]] = arith.subi %{{.*}}, %c1
// CHECK: scf.for
// CHECK: %[[Q:.*]] = memref.subview %arg0
// CHECK: scf.for %[[QI:.*]] = %{{.*}} to
// CHECK: %[[P:.*]] = arith.addi %{{.*}}, %[[QI]] : index
// CHECK: %[[PC:.*]] = arith.minsi %[[P]], %[[LAST]] : index
// CHECK: %[[PM:.*]] = arith.maxsi %{{.*}}, %[[PC]] : index
// CHECK: vector.transfer_read %arg5[%[[PM]], %c0{{.*}}]{{.*}} : memref<?x16xf32>, vector<16xf32>
// CHECK: vector.transfer_read %[[Q]][%[[QI]], %c0{{.*}}]
// CHECK: arith.subf
// CHECK: vector.transfer_write %{{.*}}, %[[ROT]][%[[QI]], %c0{{.*}}]
// CHECK: vector.transfer_write %{{.*}}, %[[ROT]][%[[QI]], %c16{{.*}}]
// Dims 32..63 are copied unrotated.
// CHECK: vector.transfer_write %{{.*}}, %[[ROT]][%[[QI]], %c32{{.*}}]
// CHECK: %[[RV:.*]] = memref.subview %[[ROT]][0, 0]
// CHECK: attn.tile_pack %[[RV]] into {{.*}} {scale = 1.250000e-01 : f32} : memref<?x64xf32
// LLVM-LABEL: llvm.func @decode_rope
// LLVM-NOT: attn.
func.func @decode_rope(%q: memref<4x8x1x64xbf16>, %kc: memref<32x16x2x64xbf16>,
                       %vc: memref<32x16x2x64xbf16>, %len: memref<4xi32>,
                       %bt: memref<4x8xi32>, %cos: memref<?x16xf32>, %sin: memref<?x16xf32>,
                       %o: memref<4x8x1x64xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<4x8xi32>)
      rotary(%cos, %sin : memref<?x16xf32>, memref<?x16xf32>) outs(%o)
      {rope = #attn.rope<style = neox, rotary_dim = 32>}
      : memref<4x8x1x64xbf16>, memref<32x16x2x64xbf16>, memref<32x16x2x64xbf16>,
        memref<4xi32> -> memref<4x8x1x64xbf16>
  return
}
