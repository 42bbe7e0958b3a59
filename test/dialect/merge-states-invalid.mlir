// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @states_rank(%s: memref<2x4x7x80xf32>, %sl: memref<2x4x7xf32>, %o: memref<2x4x7x80xf32>) {
  // expected-error @+1 {{states must have rank 5 [N, B, H, S, Dv], got rank 4}}
  attn.merge_states %s, %sl into %o : memref<2x4x7x80xf32>, memref<2x4x7xf32> into memref<2x4x7x80xf32>
  return
}

// -----

func.func @lse_states(%s: memref<3x2x4x7x80xf32>, %sl: memref<2x2x4x7xf32>, %o: memref<2x4x7x80xf32>) {
  // expected-error @+1 {{state_lse shape [2, 2, 4, 7] does not match expected [N, B, H, S] = [3, 2, 4, 7]}}
  attn.merge_states %s, %sl into %o : memref<3x2x4x7x80xf32>, memref<2x2x4x7xf32> into memref<2x4x7x80xf32>
  return
}

// -----

func.func @output_shape(%s: memref<3x2x4x7x80xf32>, %sl: memref<3x2x4x7xf32>, %o: memref<2x4x7x64xf32>) {
  // expected-error @+1 {{output shape [2, 4, 7, 64] does not match expected [B, H, S, Dv] = [2, 4, 7, 80]}}
  attn.merge_states %s, %sl into %o : memref<3x2x4x7x80xf32>, memref<3x2x4x7xf32> into memref<2x4x7x64xf32>
  return
}

// -----

func.func @output_type(%s: memref<3x2x4x7x80xf32>, %sl: memref<3x2x4x7xf32>, %o: memref<2x4x7x80xbf16>) {
  // expected-error @+1 {{output element type 'bf16' differs from states element type 'f32'}}
  attn.merge_states %s, %sl into %o : memref<3x2x4x7x80xf32>, memref<3x2x4x7xf32> into memref<2x4x7x80xbf16>
  return
}

// -----

func.func @lse_shape(%s: memref<3x2x4x7x80xf32>, %sl: memref<3x2x4x7xf32>, %o: memref<2x4x7x80xf32>, %l: memref<2x4x8xf32>) {
  // expected-error @+1 {{lse shape [2, 4, 8] does not match expected [B, H, S] = [2, 4, 7]}}
  attn.merge_states %s, %sl into %o, %l : memref<2x4x8xf32> : memref<3x2x4x7x80xf32>, memref<3x2x4x7xf32> into memref<2x4x7x80xf32>
  return
}

// -----

func.func @no_states(%s: memref<0x2x4x7x80xf32>, %sl: memref<0x2x4x7xf32>, %o: memref<2x4x7x80xf32>) {
  // expected-error @+1 {{needs at least one state (N >= 1)}}
  attn.merge_states %s, %sl into %o : memref<0x2x4x7x80xf32>, memref<0x2x4x7xf32> into memref<2x4x7x80xf32>
  return
}
