// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-differentiate-score-mod
// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(attn-tile-flash)'

// A score-dependent op without a derivative rule is an error located at it
// and naming it, from the pass and from attn-tile-flash alike (which builds
// the derivative itself when the pass has not run).

func.func @no_rule(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{attn-differentiate-score-mod: cannot differentiate 'math.cbrt' with respect to the score (no derivative rule)}}
        %r = math.cbrt %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

func.func @binary_no_rule(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 2.0 : f32
        // expected-error @+1 {{attn-differentiate-score-mod: cannot differentiate 'math.atan2' with respect to the score (no derivative rule)}}
        %r = math.atan2 %s, %c : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

// Bits of the score as an integer: a non-float result that would carry the
// score on (unlike a compare or an fptosi), so it is refused.
func.func @bitcast(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{attn-differentiate-score-mod: cannot differentiate 'arith.bitcast' with respect to the score (a non-float result)}}
        %x = arith.bitcast %s : f32 to i32
        %r = arith.bitcast %x : i32 to f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// -----

// An op with a region that depends on the score.
func.func @region_op(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>, %c: i1) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{attn-differentiate-score-mod: cannot differentiate 'scf.if' with respect to the score (only one-result ops without regions)}}
        %r = scf.if %c -> f32 {
          scf.yield %s : f32
        } else {
          %n = arith.negf %s : f32
          scf.yield %n : f32
        }
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}
