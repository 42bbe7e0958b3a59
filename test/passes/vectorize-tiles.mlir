// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(attn-vectorize-tiles{vector-width=8 micro-rows=4},canonicalize))' | FileCheck %s
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(attn-vectorize-tiles{vector-width=16 micro-rows=8},canonicalize))' | FileCheck %s --check-prefix=W16

// The matmul is a register-blocked outer product: a reduction loop carrying
// micro-rows × 2 vector accumulators, one broadcast per row, two loads of
// the right-hand tile per step.
// CHECK-LABEL: func @matmul
// CHECK-NOT: attn.tile_matmul
// CHECK: scf.for %{{.*}} = %c0 to %c12 step %c4
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c16
// CHECK: scf.for %[[K:.*]] = %c0 to %c64 step %c1 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-2: vector.load %{{.*}}[%[[K]], %{{.*}}] : memref<64x32xf32>, vector<8xf32>
// CHECK: memref.load
// CHECK-NEXT: vector.broadcast
// CHECK-NEXT: vector.fma
// CHECK-NEXT: vector.fma
// CHECK: scf.yield
// CHECK-COUNT-8: vector.store
// W16-LABEL: func @matmul
// W16: iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// W16: vector.fma
func.func @matmul(%a: memref<12x64xf32>, %b: memref<64x32xf32>, %c: memref<12x32xf32>) {
  attn.tile_matmul %a, %b into %c {accumulate} : memref<12x64xf32>, memref<64x32xf32> into memref<12x32xf32>
  return
}

// -----

// The online softmax runs on key-major scores, one query row per lane: the
// running max and the sum of exp are vector ops down the tile (no horizontal
// reduction); alpha = exp(old - new) rescales the sum and, lane by lane, the
// accumulator rows. Rows that saw nothing shift by 0 so exp(-inf) gives 0.
// The max loop runs at least 4 independent chains (here: 4 keys a step for
// the one column vector), so it is not bound by the latency of one max.
// Each step is select(s > max, s, max): maxnumf's NaN-skipping in one
// x86 vmaxps (maxnumf itself lowers to three instructions).
// CHECK-LABEL: func @online_softmax
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c4 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-4: arith.cmpf ogt, %{{.*}} : vector<8xf32>
// CHECK-NOT: arith.maxnumf
// CHECK: scf.yield
// CHECK: %[[NONE:.*]] = arith.cmpf oeq, %{{.*}} : vector<8xf32>
// CHECK: %[[SHIFT:.*]] = arith.select %[[NONE]]
// CHECK: scf.for {{.*}} -> (vector<8xf32>)
// CHECK: arith.subf %{{.*}}, %[[SHIFT]] : vector<8xf32>
// CHECK: math.exp %{{.*}} : vector<8xf32>
// CHECK: arith.addf
// CHECK: %[[ALPHA:.*]] = math.exp %{{.*}} : vector<8xf32>
// CHECK: vector.extract %[[ALPHA]][0]
// CHECK-NOT: vector.reduction
func.func @online_softmax(%s: memref<16x8xf32>, %acc: memref<8x32xf32>, %m: memref<8xf32>, %l: memref<8xf32>) {
  attn.tile_online_softmax %s, %acc, %m, %l : memref<16x8xf32>, memref<8x32xf32>, memref<8xf32>, memref<8xf32>
  return
}

// -----

// Several column vectors share one loop down the keys: two keys a step ×
// two columns of max chains, then one exp per column per key (a sum each).
// CHECK-LABEL: func @online_softmax_columns
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c2 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c1 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-2: math.exp
// CHECK: scf.yield
// At width 16 (AVX-512) the exp is the short form of SoftmaxExp.h: one
// compare (0 below -87.3, NaN kept), the 1.5·2^23 rounding, Cody-Waite,
// a degree-6 polynomial (6 FMAs), llvm.ldexp (vscalefps) under the select.
// W16-LABEL: func @online_softmax_columns
// W16-NOT: math.exp
// W16: scf.for %{{.*}} = %c0 to %c16 step %c1 iter_args
// W16: %[[KEEP:.*]] = arith.cmpf uge, %[[X:.*]], %{{.*}} : vector<16xf32>
// W16: %[[TM:.*]] = vector.fma %[[X]]
// W16-COUNT-8: vector.fma
// W16: %[[BITS:.*]] = arith.bitcast %[[TM]] : vector<16xf32> to vector<16xi32>
// W16: %[[K:.*]] = arith.subi %[[BITS]]
// W16: %[[Y:.*]] = llvm.call_intrinsic "llvm.ldexp"(%{{.*}}, %[[K]]) : (vector<16xf32>, vector<16xi32>) -> vector<16xf32>
// W16: arith.select %[[KEEP]], %[[Y]]
// W16: scf.yield
// W16: llvm.call_intrinsic "llvm.ldexp"
func.func @online_softmax_columns(%s: memref<16x16xf32>, %acc: memref<16x32xf32>, %m: memref<16xf32>, %l: memref<16xf32>) {
  attn.tile_online_softmax %s, %acc, %m, %l : memref<16x16xf32>, memref<16x32xf32>, memref<16xf32>, memref<16xf32>
  return
}

// -----

// An empty tile (no query rows; legal IR) lowers to nothing. Found by the
// mutant campaign: the flat-vector check divided by the row count (SIGFPE).
// CHECK-LABEL: func @online_softmax_empty
// CHECK-NEXT: return
// W16-LABEL: func @online_softmax_empty
// W16-NEXT: return
func.func @online_softmax_empty(%s: memref<16x0xf32>, %acc: memref<0x32xf32>, %m: memref<0xf32>, %l: memref<0xf32>) {
  attn.tile_online_softmax %s, %acc, %m, %l : memref<16x0xf32>, memref<0x32xf32>, memref<0xf32>, memref<0xf32>
  return
}

// -----

// Masks are evaluated on i32 position vectors (one query per lane, one key
// per tile row); -inf replaces masked scores.
// CHECK-LABEL: func @mask
// CHECK: arith.constant dense<[0, 1, 2, 3, 0, 1, 2, 3]> : vector<8xi32>
// CHECK: scf.for
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi sle
// CHECK: arith.remsi
// CHECK: arith.select %{{.*}}, %{{.*}}, %{{.*}} : vector<8xi1>, vector<8xf32>
func.func @mask(%s: memref<16x8xf32>, %q: index, %kv: index, %lim: index) {
  attn.tile_mask %s q(%q) kv(%kv) limit(%lim) {mask = #attn.mask<causal = true, dilation = 2>, rows_per_head = 4 : i64} : memref<16x8xf32>
  return
}

// -----

// Packing converts bf16 to f32 and scales; the transposed pack scatters a
// source row into a destination column; rows past the source are zeroed.
// CHECK-LABEL: func @pack
// CHECK: vector.transfer_read {{.*}} : memref<?x64xbf16{{.*}}>, vector<8xbf16>
// CHECK: arith.extf %{{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: arith.mulf
// CHECK: vector.extract
// CHECK: memref.store
func.func @pack(%src: memref<?x64xbf16, strided<[?, 1], offset: ?>>, %q: memref<32x64xf32>, %kt: memref<64x32xf32>) {
  attn.tile_pack %src into %q {scale = 0.125 : f32} : memref<?x64xbf16, strided<[?, 1], offset: ?>> into memref<32x64xf32>
  attn.tile_pack %src into %kt {transpose} : memref<?x64xbf16, strided<[?, 1], offset: ?>> into memref<64x32xf32>
  return
}

// -----

// CHECK-LABEL: func @finalize
// CHECK: arith.divf
// CHECK: arith.truncf %{{.*}} : vector<8xf32> to vector<8xf16>
// CHECK: vector.transfer_write
// CHECK: math.log
func.func @finalize(%acc: memref<4x16xf32>, %m: memref<4xf32>, %l: memref<4xf32>, %o: memref<?x16xf16>, %lse: memref<4xf32>) {
  attn.tile_finalize %acc, %m, %l into %o lse(%lse : memref<4xf32>) : memref<4x16xf32>, memref<4xf32>, memref<4xf32> into memref<?x16xf16>
  return
}
