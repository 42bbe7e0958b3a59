// RUN: attn-opt %s -canonicalize -split-input-file | FileCheck %s

// A window wider than any query-key distance is no window.
// CHECK-LABEL: func @wide_window
// CHECK: attn.attention
// CHECK-SAME: {mask = #attn.mask<causal = true>}
func.func @wide_window(%q: tensor<1x4x100x64xf32>, %k: tensor<1x4x100x64xf32>,
                       %v: tensor<1x4x100x64xf32>) -> tensor<1x4x100x64xf32> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true, window_left = 4096, window_right = 0>}
      : tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32> -> tensor<1x4x100x64xf32>
  return %o : tensor<1x4x100x64xf32>
}

// -----

// The bound is exact: window_left = Sq - 1 + q_offset still never bites,
// one less does.
// CHECK-LABEL: func @window_edges
// CHECK: attn.attention %{{.*}} : tensor
// CHECK: attn.attention {{.*}} {mask = #attn.mask<q_offset = 8, window_left = 106>}
func.func @window_edges(%q: tensor<1x4x100x64xf32>, %k: tensor<1x4x120x64xf32>,
                        %v: tensor<1x4x120x64xf32>) -> (tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32>) {
  %a = attn.attention %q, %k, %v {mask = #attn.mask<q_offset = 8, window_left = 107>}
      : tensor<1x4x100x64xf32>, tensor<1x4x120x64xf32>, tensor<1x4x120x64xf32> -> tensor<1x4x100x64xf32>
  %b = attn.attention %q, %k, %v {mask = #attn.mask<q_offset = 8, window_left = 106>}
      : tensor<1x4x100x64xf32>, tensor<1x4x120x64xf32>, tensor<1x4x120x64xf32> -> tensor<1x4x100x64xf32>
  return %a, %b : tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32>
}

// -----

// A zero look-ahead window without global tokens is a causal mask; with
// global tokens it is not (global queries see the future), so it stays.
// CHECK-LABEL: func @right_zero
// CHECK: {mask = #attn.mask<causal = true, window_left = 16>}
// CHECK: {mask = #attn.mask<window_left = 16, window_right = 0, global_tokens = 2>}
func.func @right_zero(%q: tensor<1x4x64x64xf32>, %k: tensor<1x4x64x64xf32>,
                      %v: tensor<1x4x64x64xf32>) -> (tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>) {
  %a = attn.attention %q, %k, %v {mask = #attn.mask<window_left = 16, window_right = 0>}
      : tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32> -> tensor<1x4x64x64xf32>
  %b = attn.attention %q, %k, %v {mask = #attn.mask<window_left = 16, window_right = 0, global_tokens = 2>}
      : tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32> -> tensor<1x4x64x64xf32>
  return %a, %b : tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>
}

// -----

// A mask that constrains nothing disappears, and so do an all-true boolean
// mask and an all-zero bias.
// CHECK-LABEL: func @trivial
// CHECK: %[[O:.*]] = attn.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor
// CHECK-NOT: mask
// CHECK: return %[[O]]
func.func @trivial(%q: tensor<1x4x64x64xf32>, %k: tensor<1x4x64x64xf32>,
                   %v: tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32> {
  %t = arith.constant dense<true> : tensor<1x1x64x64xi1>
  %z = arith.constant dense<0.0> : tensor<1x1x1x64xf32>
  %o = attn.attention %q, %k, %v bool_mask(%t : tensor<1x1x64x64xi1>) bias(%z : tensor<1x1x1x64xf32>)
      {mask = #attn.mask<window_left = 63, global_tokens = 4>}
      : tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32> -> tensor<1x4x64x64xf32>
  return %o : tensor<1x4x64x64xf32>
}

// -----

// Masks that do bite stay, and unknown lengths keep the window.
// CHECK-LABEL: func @kept
// CHECK: bool_mask
// CHECK-SAME: {mask = #attn.mask<window_left = 4096>}
func.func @kept(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>,
                %m: tensor<1x1x1x1xi1>) -> tensor<1x4x?x64xf32> {
  %o = attn.attention %q, %k, %v bool_mask(%m : tensor<1x1x1x1xi1>) {mask = #attn.mask<window_left = 4096>}
      : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32> -> tensor<1x4x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}
