// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @pack_too_big(%k: memref<40x64xbf16>, %t: memref<32x64xf32>) {
  // expected-error @+1 {{source 'memref<40x64xbf16>' does not fit in dest 'memref<32x64xf32>'}}
  attn.tile_pack %k into %t : memref<40x64xbf16> into memref<32x64xf32>
  return
}

// -----

func.func @pack_transposed(%q: memref<4x64xf32>, %t: memref<4x64xf32>) {
  // expected-error @+1 {{does not fit in dest 'memref<4x64xf32>' (transposed)}}
  attn.tile_pack %q into %t {transpose} : memref<4x64xf32> into memref<4x64xf32>
  return
}

// -----

func.func @pack_dest_f16(%k: memref<32x64xf32>, %t: memref<32x64xf16>) {
  // expected-error @+1 {{operand #1 must be 2D memref of 32-bit float values}}
  attn.tile_pack %k into %t : memref<32x64xf32> into memref<32x64xf16>
  return
}

// -----

func.func @matmul_dynamic(%a: memref<?x64xf32>, %b: memref<64x8xf32>, %c: memref<32x8xf32>) {
  // expected-error @+1 {{tiles must have static shapes}}
  attn.tile_matmul %a, %b into %c : memref<?x64xf32>, memref<64x8xf32> into memref<32x8xf32>
  return
}

// -----

func.func @matmul_shapes(%a: memref<32x64xf32>, %b: memref<32x8xf32>, %c: memref<32x8xf32>) {
  // expected-error @+1 {{do not form a matrix product}}
  attn.tile_matmul %a, %b into %c : memref<32x64xf32>, memref<32x8xf32> into memref<32x8xf32>
  return
}

// -----

func.func @matmul_transpose_rhs(%a: memref<32x64xf32>, %b: memref<64x8xf32>, %c: memref<32x8xf32>) {
  // expected-error @+1 {{shapes 'memref<32x64xf32>' · 'memref<64x8xf32>'ᵀ -> 'memref<32x8xf32>' do not form a matrix product}}
  attn.tile_matmul %a, %b into %c {transpose_rhs} : memref<32x64xf32>, memref<64x8xf32> into memref<32x8xf32>
  return
}

// -----

func.func @softcap_zero(%s: memref<32x8xf32>) {
  // expected-error @+1 {{cap must be positive and finite, got 0}}
  attn.tile_softcap %s {cap = 0.0 : f32} : memref<32x8xf32>
  return
}

// -----

func.func @mask_rows(%s: memref<32x8xf32>, %i: index) {
  // expected-error @+1 {{rows_per_head must be >= 1, got 0}}
  attn.tile_mask %s q(%i) kv(%i) limit(%i) {rows_per_head = 0 : i64} : memref<32x8xf32>
  return
}

// -----

func.func @mask_bad_mask(%s: memref<32x8xf32>, %i: index) {
  // expected-error @+1 {{mask dilation must be >= 1, got 0}}
  attn.tile_mask %s q(%i) kv(%i) limit(%i) {mask = #attn.mask<dilation = 0>, rows_per_head = 1 : i64} : memref<32x8xf32>
  return
}

// -----

func.func @softmax_rows(%s: memref<32x8xf32>, %acc: memref<8x64xf32>, %m: memref<4xf32>, %l: memref<8xf32>) {
  // expected-error @+1 {{scores columns, row_max and row_sum must count the same query rows (8), acc at most as many}}
  attn.tile_online_softmax %s, %acc, %m, %l : memref<32x8xf32>, memref<8x64xf32>, memref<4xf32>, memref<8xf32>
  return
}

// -----

func.func @softmax_acc(%s: memref<32x8xf32>, %acc: memref<16x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>) {
  // expected-error @+1 {{acc at most as many}}
  attn.tile_online_softmax %s, %acc, %m, %l : memref<32x8xf32>, memref<16x64xf32>, memref<8xf32>, memref<8xf32>
  return
}

// -----

func.func @finalize_rows(%acc: memref<8x64xf32>, %m: memref<4xf32>, %l: memref<8xf32>, %o: memref<8x64xf32>) {
  // expected-error @+1 {{row_max and row_sum must count the rows of acc (8)}}
  attn.tile_finalize %acc, %m, %l into %o : memref<8x64xf32>, memref<4xf32>, memref<8xf32> into memref<8x64xf32>
  return
}

// -----

func.func @finalize_output(%acc: memref<8x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>, %o: memref<8x80xf32>) {
  // expected-error @+1 {{output 'memref<8x80xf32>' does not fit in acc 'memref<8x64xf32>'}}
  attn.tile_finalize %acc, %m, %l into %o : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<8x80xf32>
  return
}

// -----

func.func @finalize_lse(%acc: memref<8x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>, %o: memref<5x64xf32>, %lse: memref<8xf32>) {
  // expected-error @+1 {{lse must count the rows of output}}
  attn.tile_finalize %acc, %m, %l into %o lse(%lse : memref<8xf32>) : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<5x64xf32>
  return
}

// -----

func.func @finalize_output_int(%acc: memref<8x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>, %o: memref<8x64xi32>) {
  // expected-error @+1 {{operand #3 must be 2D memref of 32-bit float or 16-bit float or bfloat16 type values}}
  attn.tile_finalize %acc, %m, %l into %o : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<8x64xi32>
  return
}

// -----

func.func @combine_lse(%p: memref<4x8x64xf32>, %pl: memref<2x8xf32>, %o: memref<8x64xf16>) {
  // expected-error @+1 {{part_lse 'memref<2x8xf32>' must be [splits, rows] of 'memref<4x8x64xf32>'}}
  attn.tile_combine %p, %pl into %o : memref<4x8x64xf32>, memref<2x8xf32> into memref<8x64xf16>
  return
}

// -----

func.func @combine_output(%p: memref<4x8x64xf32>, %pl: memref<4x8xf32>, %o: memref<9x64xf16>) {
  // expected-error @+1 {{output 'memref<9x64xf16>' does not fit in the parts 'memref<4x8x64xf32>'}}
  attn.tile_combine %p, %pl into %o : memref<4x8x64xf32>, memref<4x8xf32> into memref<9x64xf16>
  return
}

// -----

func.func @combine_out_lse(%p: memref<4x8x64xf32>, %pl: memref<4x8xf32>, %o: memref<8x64xf16>, %lse: memref<4xf32>) {
  // expected-error @+1 {{lse must count the rows of output}}
  attn.tile_combine %p, %pl into %o lse(%lse : memref<4xf32>) : memref<4x8x64xf32>, memref<4x8xf32> into memref<8x64xf16>
  return
}

// -----

// Tiles past limits::kMaxTileDim: the vectorizer unrolls tile columns, and
// these two (from the mutant campaign) never finished compiling.
func.func @finalize_huge(%acc: memref<4x4294967296xf32>, %m: memref<4xf32>, %l: memref<4xf32>, %o: memref<?x4294967296xf16>) {
  // expected-error @+1 {{tile 'memref<4x4294967296xf32>' has a dim past 1024}}
  attn.tile_finalize %acc, %m, %l into %o : memref<4x4294967296xf32>, memref<4xf32>, memref<4xf32> into memref<?x4294967296xf16>
  return
}

// -----

func.func @pack_huge(%k: memref<32x2147483648xf32>, %t: memref<32x2147483648xf32>) {
  // expected-error @+1 {{tile 'memref<32x2147483648xf32>' has a dim past 1024}}
  attn.tile_pack %k into %t : memref<32x2147483648xf32> into memref<32x2147483648xf32>
  return
}

// -----

// The largest tile accepted.
func.func @softcap_largest(%s: memref<16x1024xf32>) {
  attn.tile_softcap %s {cap = 30.0 : f32} : memref<16x1024xf32>
  return
}

// -----

func.func @rowdot_rows(%a: memref<16x64xf32>, %b: memref<16x64xf32>, %o: memref<8xf32>) {
  // expected-error @+1 {{lhs 'memref<16x64xf32>', rhs 'memref<16x64xf32>' and out 'memref<8xf32>' must have the same rows}}
  attn.tile_rowdot %a, %b into %o : memref<16x64xf32>, memref<16x64xf32> into memref<8xf32>
  return
}

// -----

func.func @softmax_grad_shapes(%s: memref<64x16xf32>, %dp: memref<64x8xf32>, %l: memref<16xf32>, %d: memref<16xf32>) {
  // expected-error @+1 {{scores 'memref<64x16xf32>' and dp 'memref<64x8xf32>' must have one static shape}}
  attn.tile_softmax_grad %s, %dp, %l, %d : memref<64x16xf32>, memref<64x8xf32>, memref<16xf32>, memref<16xf32>
  return
}

// -----

func.func @softmax_grad_rows(%s: memref<64x16xf32>, %dp: memref<64x16xf32>, %l: memref<16xf32>, %d: memref<8xf32>) {
  // expected-error @+1 {{lse and delta must count the query rows (columns of scores: 16)}}
  attn.tile_softmax_grad %s, %dp, %l, %d : memref<64x16xf32>, memref<64x16xf32>, memref<16xf32>, memref<8xf32>
  return
}

// -----

func.func @softmax_grad_cap(%s: memref<64x16xf32>, %dp: memref<64x16xf32>, %l: memref<16xf32>, %d: memref<16xf32>) {
  // expected-error @+1 {{softcap must be positive and finite, got -2}}
  attn.tile_softmax_grad %s, %dp, %l, %d {softcap = -2.0 : f32} : memref<64x16xf32>, memref<64x16xf32>, memref<16xf32>, memref<16xf32>
  return
}

// -----

// Dims attn-vectorize-tiles unrolls over must be static: a `?` there once
// printed as -9223372036854775808 in the row-count message (scores), or
// verified and lowered to loops that never ran (acc, output columns).
func.func @softmax_dynamic_rows(%s: memref<32x?xf32>, %acc: memref<8x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>) {
  // expected-error @+1 {{scores 'memref<32x?xf32>' needs a static dim 1 (the CPU lowering unrolls over it)}}
  attn.tile_online_softmax %s, %acc, %m, %l : memref<32x?xf32>, memref<8x64xf32>, memref<8xf32>, memref<8xf32>
  return
}

// -----

func.func @softmax_dynamic_acc(%s: memref<32x8xf32>, %acc: memref<?x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>) {
  // expected-error @+1 {{acc 'memref<?x64xf32>' needs a static dim 0}}
  attn.tile_online_softmax %s, %acc, %m, %l : memref<32x8xf32>, memref<?x64xf32>, memref<8xf32>, memref<8xf32>
  return
}

// -----

func.func @softmax_dynamic_row_sum(%s: memref<32x8xf32>, %acc: memref<8x64xf32>, %m: memref<8xf32>, %l: memref<?xf32>) {
  // expected-error @+1 {{row_sum 'memref<?xf32>' needs a static dim 0}}
  attn.tile_online_softmax %s, %acc, %m, %l : memref<32x8xf32>, memref<8x64xf32>, memref<8xf32>, memref<?xf32>
  return
}

// -----

func.func @mask_dynamic(%s: memref<?x16xf32>, %q0: index, %k0: index, %lim: index) {
  // expected-error @+1 {{scores 'memref<?x16xf32>' needs a static dim 0}}
  attn.tile_mask %s q(%q0) kv(%k0) limit(%lim) {rows_per_head = 16 : i64} : memref<?x16xf32>
  return
}

// -----

func.func @softcap_dynamic(%s: memref<32x?xf32>) {
  // expected-error @+1 {{scores 'memref<32x?xf32>' needs a static dim 1}}
  attn.tile_softcap %s {cap = 30.0 : f32} : memref<32x?xf32>
  return
}

// -----

func.func @pack_dynamic_dest(%k: memref<20x64xf32>, %t: memref<?x64xf32>) {
  // expected-error @+1 {{dest 'memref<?x64xf32>' needs a static dim 0}}
  attn.tile_pack %k into %t : memref<20x64xf32> into memref<?x64xf32>
  return
}

// -----

func.func @pack_dynamic_source_cols(%k: memref<20x?xf32>, %t: memref<32x64xf32>) {
  // expected-error @+1 {{source 'memref<20x?xf32>' needs a static dim 1}}
  attn.tile_pack %k into %t : memref<20x?xf32> into memref<32x64xf32>
  return
}

// -----

func.func @finalize_dynamic_cols(%acc: memref<8x64xf32>, %m: memref<8xf32>, %l: memref<8xf32>, %o: memref<8x?xf32>) {
  // expected-error @+1 {{output 'memref<8x?xf32>' needs a static dim 1}}
  attn.tile_finalize %acc, %m, %l into %o : memref<8x64xf32>, memref<8xf32>, memref<8xf32> into memref<8x?xf32>
  return
}

// -----

func.func @combine_dynamic_cols(%p: memref<4x8x64xf32>, %pl: memref<4x8xf32>, %o: memref<8x?xf16>) {
  // expected-error @+1 {{output 'memref<8x?xf16>' needs a static dim 1}}
  attn.tile_combine %p, %pl into %o : memref<4x8x64xf32>, memref<4x8xf32> into memref<8x?xf16>
  return
}

// -----

func.func @rowdot_dynamic(%a: memref<?x64xf32>, %b: memref<16x64xf32>, %o: memref<16xf32>) {
  // expected-error @+1 {{lhs 'memref<?x64xf32>' needs a static dim 0}}
  attn.tile_rowdot %a, %b into %o : memref<?x64xf32>, memref<16x64xf32> into memref<16xf32>
  return
}

// -----

func.func @softmax_grad_slope(%s: memref<64x16xf32>, %dp: memref<64x16xf32>, %l: memref<16xf32>, %d: memref<16xf32>, %g: memref<64x8xf32>) {
  // expected-error @+1 {{slope 'memref<64x8xf32>' must have the shape of scores 'memref<64x16xf32>'}}
  attn.tile_softmax_grad %s, %dp, %l, %d slope %g : memref<64x16xf32>, memref<64x16xf32>, memref<16xf32>, memref<16xf32>, memref<64x8xf32>
  return
}

// -----

func.func @additive_hidden(%pk: memref<64x48xf32>, %pq: memref<16x32xf32>, %w: memref<48xf32>, %n: index, %s: memref<64x16xf32>) {
  // expected-error @+1 {{keys 'memref<64x48xf32>', queries 'memref<16x32xf32>', w 'memref<48xf32>' and bias must share the hidden size}}
  attn.tile_additive_scores %pk, %pq, %w rows(%n) into %s : memref<64x48xf32>, memref<16x32xf32>, memref<48xf32> into memref<64x16xf32>
  return
}

// -----

func.func @additive_scores_shape(%pk: memref<64x48xf32>, %pq: memref<16x48xf32>, %w: memref<48xf32>, %n: index, %s: memref<16x64xf32>) {
  // expected-error @+1 {{scores 'memref<16x64xf32>' must be [keys, query rows] = [64, 16]}}
  attn.tile_additive_scores %pk, %pq, %w rows(%n) into %s : memref<64x48xf32>, memref<16x48xf32>, memref<48xf32> into memref<16x64xf32>
  return
}

// -----

func.func @additive_dynamic(%pk: memref<?x48xf32>, %pq: memref<16x48xf32>, %w: memref<48xf32>, %n: index, %s: memref<64x16xf32>) {
  // expected-error @+1 {{keys 'memref<?x48xf32>' needs a static dim 0}}
  attn.tile_additive_scores %pk, %pq, %w rows(%n) into %s : memref<?x48xf32>, memref<16x48xf32>, memref<48xf32> into memref<64x16xf32>
  return
}

// -----

func.func @store_probs_lse(%s: memref<64x16xf32>, %lse: memref<8xf32>, %p: memref<16x64xf32>) {
  // expected-error @+1 {{lse 'memref<8xf32>' must have one entry per column of 'memref<64x16xf32>'}}
  attn.tile_store_probs %s, %lse into %p : memref<64x16xf32>, memref<8xf32> into memref<16x64xf32>
  return
}

// -----

func.func @store_probs_fit(%s: memref<64x16xf32>, %lse: memref<16xf32>, %p: memref<64x16xf32>) {
  // expected-error @+1 {{probs 'memref<64x16xf32>' does not fit in the transpose of 'memref<64x16xf32>'}}
  attn.tile_store_probs %s, %lse into %p : memref<64x16xf32>, memref<16xf32> into memref<64x16xf32>
  return
}
