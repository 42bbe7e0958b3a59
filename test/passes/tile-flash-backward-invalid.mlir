// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-tile-flash)'

// What the CPU backward does not lower yet is a located error naming it.

func.func @bias(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %b: tensor<1x1x16x24xf32>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take a bias (and its gradient) yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse bias(%b : tensor<1x1x16x24xf32>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @bool_mask(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %m: tensor<1x1x16x24xi1>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take a bool_mask yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse bool_mask(%m : tensor<1x1x16x24xi1>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @segments(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %a: tensor<1x16xi32>, %c: tensor<1x24xi32>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take segment ids yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse segment_ids(%a, %c : tensor<1x16xi32>, tensor<1x24xi32>)
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @score_mod(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take a score_mod region (its derivative) yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @mask_mod(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take a mask_mod region yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %t = arith.cmpi sle, %j, %i : index
        attn.yield %t : i1
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @dynamic(%q: tensor<1x4x?x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x?x32xf32>, %do: tensor<1x4x?x32xf32>, %lse: tensor<1x4x?xf32>) {
  // expected-error @+1 {{attn-tile-flash: the CPU backward does not take run-time sizes yet}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x?x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?xf32>
      -> tensor<1x4x?x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}
