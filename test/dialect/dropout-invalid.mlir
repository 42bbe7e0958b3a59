// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @p_one(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %r: tensor<2xi64>) {
  // expected-error @+1 {{dropout_p must be in [0, 1), got 1.000000e+00}}
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>) {dropout_p = 1.0 : f64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @p_negative(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %r: tensor<2xi64>) {
  // expected-error @+1 {{dropout_p must be in [0, 1), got -2.500000e-01}}
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>) {dropout_p = -0.25 : f64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @p_nan(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %r: tensor<2xi64>) {
  // expected-error @+1 {{dropout_p must be in [0, 1), got nan}}
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>) {dropout_p = 0x7FF8000000000000 : f64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @p_without_state(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{dropout_p needs a dropout state operand (tensor<2xi64>: seed, offset)}}
  %o = attn.attention %q, %k, %v {dropout_p = 0.1 : f64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @state_without_p(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %r: tensor<2xi64>) {
  // expected-error @+1 {{a dropout state needs dropout_p}}
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @state_shape(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %r: tensor<3xi64>) {
  // expected-error @+1 {{dropout state must be tensor<2xi64> (seed, offset), got 'tensor<3xi64>'}}
  %o = attn.attention %q, %k, %v dropout(%r : tensor<3xi64>) {dropout_p = 0.1 : f64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @state_type(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %r: tensor<2xi32>) {
  // expected-error @+1 {{must be ranked tensor of 64-bit signless integer values}}
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi32>) {dropout_p = 0.1 : f64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @tile_p(%p: memref<64x16xf32>, %s: i64, %o: i64, %i: index) {
  // expected-error @+1 {{p must be in [0, 1), got 1.000000e+00}}
  attn.tile_dropout %p seed(%s, %o) at(%i, %i, %i, %i) {p = 1.0 : f64, num_heads = 8 : i64, rows_per_head = 4 : i64} : memref<64x16xf32>
  return
}

// -----

func.func @tile_keys(%p: memref<18x16xf32>, %s: i64, %o: i64, %i: index) {
  // expected-error @+1 {{the key dim of 'memref<18x16xf32>' must be a multiple of 4 (four keys per Philox call)}}
  attn.tile_dropout %p seed(%s, %o) at(%i, %i, %i, %i) {p = 0.5 : f64, num_heads = 8 : i64, rows_per_head = 4 : i64} : memref<18x16xf32>
  return
}

// -----

func.func @tile_rows(%p: memref<16x16xf32>, %s: i64, %o: i64, %i: index) {
  // expected-error @+1 {{rows_per_head must be >= 1, got 0}}
  attn.tile_dropout %p seed(%s, %o) at(%i, %i, %i, %i) {p = 0.5 : f64, num_heads = 8 : i64, rows_per_head = 0 : i64} : memref<16x16xf32>
  return
}

// -----

func.func @tile_dynamic(%p: memref<?x16xf32>, %s: i64, %o: i64, %i: index) {
  // expected-error @+1 {{needs a static dim 0 (the CPU lowering unrolls over it)}}
  attn.tile_dropout %p seed(%s, %o) at(%i, %i, %i, %i) {p = 0.5 : f64, num_heads = 8 : i64, rows_per_head = 4 : i64} : memref<?x16xf32>
  return
}
