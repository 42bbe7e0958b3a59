// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Every tile-level op of the flash form round-trips, with and without its
// optional attributes and operands.

// CHECK-LABEL: func @pack
// CHECK: attn.tile_pack %{{.*}} into %{{.*}} : memref<20x64xbf16, strided<[?, 1], offset: ?>> into memref<32x64xf32>
// CHECK: attn.tile_pack %{{.*}} into %{{.*}} {scale = 1.250000e-01 : f32, transpose} : memref<4x64xf16> into memref<64x8xf32>
func.func @pack(%k: memref<20x64xbf16, strided<[?, 1], offset: ?>>, %q: memref<4x64xf16>,
                %kt: memref<32x64xf32>, %qt: memref<64x8xf32>) {
  attn.tile_pack %k into %kt : memref<20x64xbf16, strided<[?, 1], offset: ?>> into memref<32x64xf32>
  attn.tile_pack %q into %qt {scale = 0.125 : f32, transpose} : memref<4x64xf16> into memref<64x8xf32>
  return
}

// CHECK-LABEL: func @matmul
// CHECK: attn.tile_matmul %{{.*}}, %{{.*}} into %{{.*}} : memref<32x64xf32>, memref<64x8xf32> into memref<32x8xf32>
// CHECK: attn.tile_matmul %{{.*}}, %{{.*}} into %{{.*}} {accumulate, transpose_lhs} : memref<32x8xf32>, memref<32x64xbf16> into memref<8x64xf32>
// CHECK: attn.tile_matmul %{{.*}}, %{{.*}} into %{{.*}} {transpose_rhs} : memref<32x64xbf16>, memref<4x64xf32> into memref<32x4xf32>
func.func @matmul(%k: memref<32x64xf32>, %qt: memref<64x8xf32>, %s: memref<32x8xf32>,
                  %v: memref<32x64xbf16>, %acc: memref<8x64xf32>,
                  %q: memref<4x64xf32>, %s4: memref<32x4xf32>) {
  attn.tile_matmul %k, %qt into %s : memref<32x64xf32>, memref<64x8xf32> into memref<32x8xf32>
  attn.tile_matmul %s, %v into %acc {accumulate, transpose_lhs} : memref<32x8xf32>, memref<32x64xbf16> into memref<8x64xf32>
  attn.tile_matmul %v, %q into %s4 {transpose_rhs} : memref<32x64xbf16>, memref<4x64xf32> into memref<32x4xf32>
  return
}

// CHECK-LABEL: func @scores
// CHECK: attn.tile_softcap %{{.*}} {cap = 3.000000e+01 : f32} : memref<32x8xf32>
// CHECK: attn.tile_mask %{{.*}} q(%{{.*}}) kv(%{{.*}}) limit(%{{.*}}) {rows_per_head = 2 : i64} : memref<32x8xf32>
// CHECK: attn.tile_mask %{{.*}} q(%{{.*}}) kv(%{{.*}}) limit(%{{.*}}) {mask = #attn.mask<causal = true, window_left = 15>, rows_per_head = 8 : i64} : memref<32x8xf32>
// CHECK: attn.tile_online_softmax %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : memref<32x8xf32>, memref<4x64xf32>, memref<8xf32>, memref<8xf32>
func.func @scores(%s: memref<32x8xf32>, %q0: index, %k0: index, %lim: index,
                  %acc: memref<4x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>) {
  attn.tile_softcap %s {cap = 30.0 : f32} : memref<32x8xf32>
  attn.tile_mask %s q(%q0) kv(%k0) limit(%lim) {rows_per_head = 2 : i64} : memref<32x8xf32>
  attn.tile_mask %s q(%q0) kv(%k0) limit(%lim)
      {mask = #attn.mask<causal = true, window_left = 15>, rows_per_head = 8 : i64} : memref<32x8xf32>
  attn.tile_online_softmax %s, %acc, %m, %l : memref<32x8xf32>, memref<4x64xf32>, memref<8xf32>, memref<8xf32>
  return
}

// CHECK-LABEL: func @finish
// CHECK: attn.tile_finalize %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<5x64xbf16, strided<[?, 1], offset: ?>>
// CHECK: attn.tile_finalize %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} lse(%{{.*}} : memref<8xf32>) : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<8x64xf32>
// CHECK: attn.tile_combine %{{.*}}, %{{.*}} into %{{.*}} : memref<4x8x64xf32>, memref<4x8xf32> into memref<8x64xf16>
// CHECK: attn.tile_combine %{{.*}}, %{{.*}} into %{{.*}} lse(%{{.*}} : memref<8xf32>) : memref<4x8x64xf32>, memref<4x8xf32> into memref<8x64xf16>
func.func @finish(%acc: memref<8x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>,
                  %o: memref<5x64xbf16, strided<[?, 1], offset: ?>>, %o32: memref<8x64xf32>,
                  %lse: memref<8xf32>, %parts: memref<4x8x64xf32>, %plse: memref<4x8xf32>,
                  %o16: memref<8x64xf16>) {
  attn.tile_finalize %acc, %m, %l into %o : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<5x64xbf16, strided<[?, 1], offset: ?>>
  attn.tile_finalize %acc, %m, %l into %o32 lse(%lse : memref<8xf32>) : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<8x64xf32>
  attn.tile_combine %parts, %plse into %o16 : memref<4x8x64xf32>, memref<4x8xf32> into memref<8x64xf16>
  attn.tile_combine %parts, %plse into %o16 lse(%lse : memref<8xf32>) : memref<4x8x64xf32>, memref<4x8xf32> into memref<8x64xf16>
  return
}

// CHECK-LABEL: func @backward_tiles
// CHECK: attn.tile_rowdot %{{.*}}, %{{.*}} into %{{.*}} : memref<16x64xf32>, memref<16x64xf32> into memref<16xf32>
// CHECK: attn.tile_softmax_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {softcap = 3.000000e+01 : f32} : memref<64x16xf32>, memref<64x16xf32>, memref<16xf32>, memref<16xf32>
// CHECK: attn.tile_softmax_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} slope %{{.*}} : memref<64x16xf32>, memref<64x16xf32>, memref<16xf32>, memref<16xf32>, memref<64x16xf32>
func.func @backward_tiles(%do: memref<16x64xf32>, %o: memref<16x64xf32>,
                          %d: memref<16xf32>, %s: memref<64x16xf32>,
                          %dp: memref<64x16xf32>, %lse: memref<16xf32>,
                          %g: memref<64x16xf32>) {
  attn.tile_rowdot %do, %o into %d : memref<16x64xf32>, memref<16x64xf32> into memref<16xf32>
  attn.tile_softmax_grad %s, %dp, %lse, %d {softcap = 30.0 : f32}
      : memref<64x16xf32>, memref<64x16xf32>, memref<16xf32>, memref<16xf32>
  attn.tile_softmax_grad %s, %dp, %lse, %d slope %g
      : memref<64x16xf32>, memref<64x16xf32>, memref<16xf32>, memref<16xf32>, memref<64x16xf32>
  return
}

// Row counts may be dynamic where the lowering reads them at run time: pack
// sources, finalize and combine outputs, combine splits and part rows.
// CHECK-LABEL: func @dynamic_rows
// CHECK: attn.tile_pack %{{.*}} into %{{.*}} : memref<?x64xf32> into memref<32x64xf32>
// CHECK: attn.tile_finalize %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<?x64xf32>
// CHECK: attn.tile_combine %{{.*}}, %{{.*}} into %{{.*}} : memref<?x?x64xf32>, memref<?x?xf32> into memref<?x64xf16>
func.func @dynamic_rows(%k: memref<?x64xf32>, %t: memref<32x64xf32>, %acc: memref<8x64xf32>,
                        %m: memref<8xf32>, %l: memref<8xf32>, %o: memref<?x64xf32>,
                        %p: memref<?x?x64xf32>, %pl: memref<?x?xf32>, %o16: memref<?x64xf16>) {
  attn.tile_pack %k into %t : memref<?x64xf32> into memref<32x64xf32>
  attn.tile_finalize %acc, %m, %l into %o : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<?x64xf32>
  attn.tile_combine %p, %pl into %o16 : memref<?x?x64xf32>, memref<?x?xf32> into memref<?x64xf16>
  return
}

// Additive attention's score and weight steps.
// CHECK-LABEL: func @additive_tiles
// CHECK: attn.tile_additive_scores %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}} : memref<48xf32>) rows(%{{.*}}) into %{{.*}} : memref<64x48xf32, strided<[48, 1], offset: ?>>, memref<16x48xf32>, memref<48xf32> into memref<64x16xf32>
// CHECK: attn.tile_additive_scores %{{.*}}, %{{.*}}, %{{.*}} rows(%{{.*}}) into %{{.*}} : memref<64x48xf32, strided<[48, 1], offset: ?>>, memref<16x48xf32>, memref<48xf32> into memref<64x16xf32>
// CHECK: attn.tile_store_probs %{{.*}}, %{{.*}} into %{{.*}} : memref<64x16xf32>, memref<16xf32> into memref<?x?xbf16, strided<[?, 1], offset: ?>>
func.func @additive_tiles(%pk: memref<64x48xf32, strided<[48, 1], offset: ?>>, %pq: memref<16x48xf32>,
                          %w: memref<48xf32>, %bias: memref<48xf32>, %n: index,
                          %s: memref<64x16xf32>, %lse: memref<16xf32>,
                          %p: memref<?x?xbf16, strided<[?, 1], offset: ?>>) {
  attn.tile_additive_scores %pk, %pq, %w bias(%bias : memref<48xf32>) rows(%n) into %s : memref<64x48xf32, strided<[48, 1], offset: ?>>, memref<16x48xf32>, memref<48xf32> into memref<64x16xf32>
  attn.tile_additive_scores %pk, %pq, %w rows(%n) into %s : memref<64x48xf32, strided<[48, 1], offset: ?>>, memref<16x48xf32>, memref<48xf32> into memref<64x16xf32>
  attn.tile_store_probs %s, %lse into %p : memref<64x16xf32>, memref<16xf32> into memref<?x?xbf16, strided<[?, 1], offset: ?>>
  return
}
