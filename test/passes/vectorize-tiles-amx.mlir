// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(attn-vectorize-tiles{vector-width=16 micro-rows=8 amx=true},canonicalize))' | FileCheck %s
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(attn-vectorize-tiles{vector-width=16 micro-rows=8},canonicalize))' | FileCheck %s --check-prefix=FMA

// A prefill work item on bf16 inputs (D 40, Dv 40 padded to 48): with
// amx=true the packs write bf16 copies in AMX's layouts (K as is, Qᵀ and V
// as pairs) and both matmuls become AMX tile products; the scale moves from
// the Q pack to Sᵀ in f32; P is rounded to bf16 and transposed before P·V.
// CHECK-LABEL: func @forward
// CHECK-NOT: attn.tile_pack
// CHECK-NOT: attn.tile_matmul
// CHECK-DAG: memref.alloca() : memref<32x128xbf16>
// CHECK-DAG: memref.alloca() : memref<64x64xbf16>
// CHECK-DAG: memref.alloca() : memref<32x96xbf16>
// CHECK-DAG: memref.alloca() : memref<64x64xbf16>
// Sᵀ = K·Qᵀ: 2 × 2 blocks of C tiles; D 40 padded with zeros to two
// 32-wide steps (every tile 16 rows × 64 bytes: one shape per register).
// CHECK: amx.tile_zero : !amx.tile<16x16xf32>
// CHECK: amx.tile_load %{{.*}} : memref<64x64xbf16> into !amx.tile<16x32xbf16>
// CHECK: amx.tile_load %{{.*}} : memref<32x128xbf16> into !amx.tile<16x32xbf16>
// CHECK-COUNT-8: amx.tile_mulf {{.*}} : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
// CHECK-COUNT-4: amx.tile_store %{{.*}} : memref<64x64xf32>, !amx.tile<16x16xf32>
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : vector<16xf32>
// P·V: P to bf16 pairs, transposed by shuffles, then the products into acc.
// CHECK: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.shuffle
// CHECK: amx.tile_load %{{.*}} : memref<64x48xf32> into !amx.tile<16x16xf32>
// CHECK: amx.tile_mulf
// CHECK: amx.tile_store %{{.*}} : memref<64x48xf32>, !amx.tile<16x16xf32>
// The FMA kernel (amx off) has no AMX op.
// FMA-LABEL: func @forward
// FMA-NOT: amx.
// FMA: vector.fma
// FMA-NOT: amx.
// FMA: return
func.func @forward(%q: memref<?x40xbf16, strided<[?, 1], offset: ?>>,
                   %k: memref<?x40xbf16, strided<[?, 1], offset: ?>>,
                   %v: memref<?x40xbf16, strided<[?, 1], offset: ?>>,
                   %acc: memref<64x48xf32>) {
  %c16 = arith.constant 16 : index
  %qt = memref.alloca() : memref<40x64xf32>
  %kt = memref.alloca() : memref<64x40xf32>
  %vt = memref.alloca() : memref<64x48xf32>
  %s = memref.alloca() : memref<64x64xf32>
  %sub = memref.subview %qt[0, %c16] [40, 16] [1, 1] : memref<40x64xf32> to memref<40x16xf32, strided<[64, 1], offset: ?>>
  attn.tile_pack %q into %sub {scale = 0.158113882 : f32, transpose} : memref<?x40xbf16, strided<[?, 1], offset: ?>> into memref<40x16xf32, strided<[64, 1], offset: ?>>
  attn.tile_pack %k into %kt : memref<?x40xbf16, strided<[?, 1], offset: ?>> into memref<64x40xf32>
  attn.tile_pack %v into %vt : memref<?x40xbf16, strided<[?, 1], offset: ?>> into memref<64x48xf32>
  attn.tile_matmul %kt, %qt into %s : memref<64x40xf32>, memref<40x64xf32> into memref<64x64xf32>
  attn.tile_matmul %s, %vt into %acc {accumulate, transpose_lhs} : memref<64x64xf32>, memref<64x48xf32> into memref<64x48xf32>
  return
}

// -----

// f32 and f16 inputs keep the FMA kernel with amx=true: only bf16 packs
// are exact in bf16.
// CHECK-LABEL: func @not_bf16
// CHECK-NOT: amx.
// CHECK: vector.fma
// CHECK-NOT: amx.
// CHECK: return
// FMA-LABEL: func @not_bf16
func.func @not_bf16(%q: memref<?x64xf16, strided<[?, 1], offset: ?>>,
                    %k: memref<?x64xf32, strided<[?, 1], offset: ?>>,
                    %v: memref<?x64xf16, strided<[?, 1], offset: ?>>,
                    %acc: memref<64x64xf32>) {
  %qt = memref.alloca() : memref<64x64xf32>
  %kt = memref.alloca() : memref<64x64xf32>
  %vt = memref.alloca() : memref<64x64xf32>
  %s = memref.alloca() : memref<64x64xf32>
  attn.tile_pack %q into %qt {scale = 0.125 : f32, transpose} : memref<?x64xf16, strided<[?, 1], offset: ?>> into memref<64x64xf32>
  attn.tile_pack %k into %kt : memref<?x64xf32, strided<[?, 1], offset: ?>> into memref<64x64xf32>
  attn.tile_pack %v into %vt : memref<?x64xf16, strided<[?, 1], offset: ?>> into memref<64x64xf32>
  attn.tile_matmul %kt, %qt into %s : memref<64x64xf32>, memref<64x64xf32> into memref<64x64xf32>
  attn.tile_matmul %s, %vt into %acc {accumulate, transpose_lhs} : memref<64x64xf32>, memref<64x64xf32> into memref<64x64xf32>
  return
}

// -----

// Shapes AMX does not take keep the FMA kernel: an odd head dim (39: no
// pairs) for Q·Kᵀ and 16 keys (under one 32-key step) for P·V.
// CHECK-LABEL: func @odd_sizes
// CHECK-NOT: amx.
// CHECK: vector.fma
// CHECK-NOT: amx.
// CHECK: return
// FMA-LABEL: func @odd_sizes
func.func @odd_sizes(%q: memref<?x39xbf16, strided<[?, 1], offset: ?>>,
                     %k: memref<?x39xbf16, strided<[?, 1], offset: ?>>,
                     %v: memref<?x64xbf16, strided<[?, 1], offset: ?>>,
                     %acc: memref<64x64xf32>) {
  %qt = memref.alloca() : memref<39x64xf32>
  %kt = memref.alloca() : memref<16x39xf32>
  %vt = memref.alloca() : memref<16x64xf32>
  %s = memref.alloca() : memref<16x64xf32>
  attn.tile_pack %q into %qt {scale = 0.125 : f32, transpose} : memref<?x39xbf16, strided<[?, 1], offset: ?>> into memref<39x64xf32>
  attn.tile_pack %k into %kt : memref<?x39xbf16, strided<[?, 1], offset: ?>> into memref<16x39xf32>
  attn.tile_pack %v into %vt : memref<?x64xbf16, strided<[?, 1], offset: ?>> into memref<16x64xf32>
  attn.tile_matmul %kt, %qt into %s : memref<16x39xf32>, memref<39x64xf32> into memref<16x64xf32>
  attn.tile_matmul %s, %vt into %acc {accumulate, transpose_lhs} : memref<16x64xf32>, memref<16x64xf32> into memref<64x64xf32>
  return
}

// -----

// A GQA 7:1 group: 7 × 9 query rows padded to 64, so Qᵀ is zero-filled
// (its copy too) and P·V reads 63-row views; the products run on the whole
// 64-row buffers (the extra acc row is padding nobody reads).
// CHECK-LABEL: func @padded_group
// CHECK: %[[QV:.*]] = memref.alloca() : memref<32x128xbf16>
// CHECK: linalg.fill ins(%{{.*}} : bf16) outs(%[[QV]] : memref<32x128xbf16>)
// CHECK-NOT: attn.tile_matmul
// CHECK-COUNT-8: amx.tile_mulf
// CHECK: amx.tile_load %{{.*}} : memref<64x64xf32> into !amx.tile<16x16xf32>
// CHECK-COUNT-8: amx.tile_mulf
// CHECK: return
// FMA-LABEL: func @padded_group
func.func @padded_group(%q: memref<?x64xbf16, strided<[?, 1], offset: ?>>,
                        %k: memref<?x64xbf16, strided<[?, 1], offset: ?>>,
                        %v: memref<?x64xbf16, strided<[?, 1], offset: ?>>,
                        %off: index) {
  %zero = arith.constant 0.0 : f32
  %qt = memref.alloca() : memref<64x64xf32>
  %kt = memref.alloca() : memref<64x64xf32>
  %vt = memref.alloca() : memref<64x64xf32>
  %s = memref.alloca() : memref<64x64xf32>
  %acc = memref.alloca() : memref<64x64xf32>
  linalg.fill ins(%zero : f32) outs(%qt : memref<64x64xf32>)
  %sub = memref.subview %qt[0, %off] [64, 9] [1, 1] : memref<64x64xf32> to memref<64x9xf32, strided<[64, 1], offset: ?>>
  attn.tile_pack %q into %sub {scale = 0.125 : f32, transpose} : memref<?x64xbf16, strided<[?, 1], offset: ?>> into memref<64x9xf32, strided<[64, 1], offset: ?>>
  attn.tile_pack %k into %kt : memref<?x64xbf16, strided<[?, 1], offset: ?>> into memref<64x64xf32>
  attn.tile_pack %v into %vt : memref<?x64xbf16, strided<[?, 1], offset: ?>> into memref<64x64xf32>
  attn.tile_matmul %kt, %qt into %s : memref<64x64xf32>, memref<64x64xf32> into memref<64x64xf32>
  %accv = memref.subview %acc[0, 0] [63, 64] [1, 1] : memref<64x64xf32> to memref<63x64xf32, strided<[64, 1]>>
  %sv = memref.subview %s[0, 0] [64, 63] [1, 1] : memref<64x64xf32> to memref<64x63xf32, strided<[64, 1]>>
  attn.tile_matmul %sv, %vt into %accv {accumulate, transpose_lhs} : memref<64x63xf32, strided<[64, 1]>>, memref<64x64xf32> into memref<63x64xf32, strided<[64, 1]>>
  return
}
