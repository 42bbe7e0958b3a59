// RUN: attn-opt %s --attn-differentiate-score-mod | FileCheck %s
// RUN: attn-opt %s --attn-differentiate-score-mod --attn-differentiate-score-mod | FileCheck %s

// The derivative region of each rule: forward mode on the score (block
// argument 0); index arguments and constants have no derivative, a missing
// derivative is an exact zero (nothing multiplied by 0), and the primal
// ops the derivative does not use are dropped. Running the pass twice
// changes nothing (an existing score_mod_grad is kept).

// CHECK-LABEL: func.func @identity
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[IDENTITY_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: attn.yield %[[IDENTITY_CST]] : f32
func.func @identity(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @alibi
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[ALIBI_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: attn.yield %[[ALIBI_CST]] : f32
func.func @alibi(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %slope = arith.constant -2.500000e-01 : f32
        %d = arith.subi %j, %i : index
        %n = arith.index_cast %d : index to i64
        %x = arith.sitofp %n : i64 to f32
        %m = arith.mulf %slope, %x : f32
        %r = arith.addf %s, %m : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @softcap
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[SOFTCAP_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SOFTCAP_CST_0:.*]] = arith.constant 2.000000e+01 : f32
// CHECK-NEXT: %[[SOFTCAP_0:.*]] = arith.divf %[[S]], %[[SOFTCAP_CST_0]] : f32
// CHECK-NEXT: %[[SOFTCAP_1:.*]] = arith.divf %[[SOFTCAP_CST]], %[[SOFTCAP_CST_0]] : f32
// CHECK-NEXT: %[[SOFTCAP_2:.*]] = math.tanh %[[SOFTCAP_0]] : f32
// CHECK-NEXT: %[[SOFTCAP_CST_1:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SOFTCAP_3:.*]] = arith.mulf %[[SOFTCAP_2]], %[[SOFTCAP_2]] : f32
// CHECK-NEXT: %[[SOFTCAP_4:.*]] = arith.subf %[[SOFTCAP_CST_1]], %[[SOFTCAP_3]] : f32
// CHECK-NEXT: %[[SOFTCAP_5:.*]] = arith.mulf %[[SOFTCAP_4]], %[[SOFTCAP_1]] : f32
// CHECK-NEXT: %[[SOFTCAP_6:.*]] = arith.mulf %[[SOFTCAP_CST_0]], %[[SOFTCAP_5]] : f32
// CHECK-NEXT: attn.yield %[[SOFTCAP_6]] : f32
func.func @softcap(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 2.000000e+01 : f32
        %x = arith.divf %s, %c : f32
        %t = math.tanh %x : f32
        %r = arith.mulf %c, %t : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @square
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[SQUARE_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SQUARE_0:.*]] = arith.mulf %[[S]], %[[SQUARE_CST]] : f32
// CHECK-NEXT: %[[SQUARE_1:.*]] = arith.mulf %[[S]], %[[SQUARE_CST]] : f32
// CHECK-NEXT: %[[SQUARE_2:.*]] = arith.addf %[[SQUARE_0]], %[[SQUARE_1]] : f32
// CHECK-NEXT: attn.yield %[[SQUARE_2]] : f32
func.func @square(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = arith.mulf %s, %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @reciprocal
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[RECIPROCAL_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[RECIPROCAL_CST_0:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[RECIPROCAL_0:.*]] = arith.divf %[[RECIPROCAL_CST_0]], %[[S]] : f32
// CHECK-NEXT: %[[RECIPROCAL_1:.*]] = arith.mulf %[[RECIPROCAL_0]], %[[RECIPROCAL_CST]] : f32
// CHECK-NEXT: %[[RECIPROCAL_2:.*]] = arith.negf %[[RECIPROCAL_1]] : f32
// CHECK-NEXT: %[[RECIPROCAL_3:.*]] = arith.divf %[[RECIPROCAL_2]], %[[S]] : f32
// CHECK-NEXT: attn.yield %[[RECIPROCAL_3]] : f32
func.func @reciprocal(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %one = arith.constant 1.000000e+00 : f32
        %r = arith.divf %one, %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @sub_neg
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[SUBNEG_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SUBNEG_0:.*]] = arith.negf %[[SUBNEG_CST]] : f32
// CHECK-NEXT: %[[SUBNEG_1:.*]] = arith.negf %[[SUBNEG_0]] : f32
// CHECK-NEXT: attn.yield %[[SUBNEG_1]] : f32
func.func @sub_neg(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 3.000000e+00 : f32
        %x = arith.subf %c, %s : f32
        %r = arith.negf %x : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @select_on_index
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[SELECTONINDEX_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SELECTONINDEX_0:.*]] = arith.cmpi sle, %[[J]], %[[I]] : index
// CHECK-NEXT: %[[SELECTONINDEX_CST_0:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[SELECTONINDEX_1:.*]] = arith.select %[[SELECTONINDEX_0]], %[[SELECTONINDEX_CST]], %[[SELECTONINDEX_CST_0]] : f32
// CHECK-NEXT: attn.yield %[[SELECTONINDEX_1]] : f32
func.func @select_on_index(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %ninf = arith.constant 0xFF800000 : f32
        %c = arith.cmpi sle, %j, %i : index
        %r = arith.select %c, %s, %ninf : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @leaky_relu
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[LEAKYRELU_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[LEAKYRELU_CST_0:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[LEAKYRELU_CST_1:.*]] = arith.constant 1.000000e-01 : f32
// CHECK-NEXT: %[[LEAKYRELU_0:.*]] = arith.cmpf ogt, %[[S]], %[[LEAKYRELU_CST_0]] : f32
// CHECK-NEXT: %[[LEAKYRELU_1:.*]] = arith.mulf %[[LEAKYRELU_CST_1]], %[[LEAKYRELU_CST]] : f32
// CHECK-NEXT: %[[LEAKYRELU_2:.*]] = arith.select %[[LEAKYRELU_0]], %[[LEAKYRELU_CST]], %[[LEAKYRELU_1]] : f32
// CHECK-NEXT: attn.yield %[[LEAKYRELU_2]] : f32
func.func @leaky_relu(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %zero = arith.constant 0.000000e+00 : f32
        %a = arith.constant 1.000000e-01 : f32
        %c = arith.cmpf ogt, %s, %zero : f32
        %l = arith.mulf %s, %a : f32
        %r = arith.select %c, %s, %l : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @max_min
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[MAXMIN_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[MAXMIN_CST_0:.*]] = arith.constant -5.000000e+00 : f32
// CHECK-NEXT: %[[MAXMIN_CST_1:.*]] = arith.constant 5.000000e+00 : f32
// CHECK-NEXT: %[[MAXMIN_0:.*]] = arith.maximumf %[[S]], %[[MAXMIN_CST_0]] : f32
// CHECK-NEXT: %[[MAXMIN_1:.*]] = arith.cmpf oge, %[[S]], %[[MAXMIN_CST_0]] : f32
// CHECK-NEXT: %[[MAXMIN_CST_2:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[MAXMIN_2:.*]] = arith.select %[[MAXMIN_1]], %[[MAXMIN_CST]], %[[MAXMIN_CST_2]] : f32
// CHECK-NEXT: %[[MAXMIN_3:.*]] = arith.cmpf ole, %[[MAXMIN_0]], %[[MAXMIN_CST_1]] : f32
// CHECK-NEXT: %[[MAXMIN_CST_3:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[MAXMIN_4:.*]] = arith.select %[[MAXMIN_3]], %[[MAXMIN_2]], %[[MAXMIN_CST_3]] : f32
// CHECK-NEXT: attn.yield %[[MAXMIN_4]] : f32
func.func @max_min(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %lo = arith.constant -5.000000e+00 : f32
        %hi = arith.constant 5.000000e+00 : f32
        %x = arith.maximumf %s, %lo : f32
        %r = arith.minnumf %x, %hi : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @round_trip_f16
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[ROUNDTRIPF16_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[ROUNDTRIPF16_0:.*]] = arith.truncf %[[ROUNDTRIPF16_CST]] : f32 to f16
// CHECK-NEXT: %[[ROUNDTRIPF16_1:.*]] = arith.extf %[[ROUNDTRIPF16_0]] : f16 to f32
// CHECK-NEXT: attn.yield %[[ROUNDTRIPF16_1]] : f32
func.func @round_trip_f16(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %x = arith.truncf %s : f32 to f16
        %r = arith.extf %x : f16 to f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @remf
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[REMF_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[REMF_CST_0:.*]] = arith.constant 3.000000e+00 : f32
// CHECK-NEXT: %[[REMF_0:.*]] = arith.divf %[[REMF_CST_0]], %[[S]] : f32
// CHECK-NEXT: %[[REMF_1:.*]] = math.trunc %[[REMF_0]] : f32
// CHECK-NEXT: %[[REMF_2:.*]] = arith.mulf %[[REMF_1]], %[[REMF_CST]] : f32
// CHECK-NEXT: %[[REMF_3:.*]] = arith.negf %[[REMF_2]] : f32
// CHECK-NEXT: attn.yield %[[REMF_3]] : f32
func.func @remf(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 3.000000e+00 : f32
        %r = arith.remf %c, %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @floor
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[FLOOR_CST:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: attn.yield %[[FLOOR_CST]] : f32
func.func @floor(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.floor %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @exp
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[EXP_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[EXP_0:.*]] = math.exp %[[S]] : f32
// CHECK-NEXT: %[[EXP_1:.*]] = arith.mulf %[[EXP_0]], %[[EXP_CST]] : f32
// CHECK-NEXT: attn.yield %[[EXP_1]] : f32
func.func @exp(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.exp %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @exp2
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[EXP2_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[EXP2_0:.*]] = math.exp2 %[[S]] : f32
// CHECK-NEXT: %[[EXP2_CST_0:.*]] = arith.constant 0.693147182 : f32
// CHECK-NEXT: %[[EXP2_1:.*]] = arith.mulf %[[EXP2_0]], %[[EXP2_CST_0]] : f32
// CHECK-NEXT: %[[EXP2_2:.*]] = arith.mulf %[[EXP2_1]], %[[EXP2_CST]] : f32
// CHECK-NEXT: attn.yield %[[EXP2_2]] : f32
func.func @exp2(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.exp2 %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @expm1
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[EXPM1_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[EXPM1_0:.*]] = math.expm1 %[[S]] : f32
// CHECK-NEXT: %[[EXPM1_CST_0:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[EXPM1_1:.*]] = arith.addf %[[EXPM1_0]], %[[EXPM1_CST_0]] : f32
// CHECK-NEXT: %[[EXPM1_2:.*]] = arith.mulf %[[EXPM1_1]], %[[EXPM1_CST]] : f32
// CHECK-NEXT: attn.yield %[[EXPM1_2]] : f32
func.func @expm1(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.expm1 %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @log
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[LOG_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[LOG_0:.*]] = arith.divf %[[LOG_CST]], %[[S]] : f32
// CHECK-NEXT: attn.yield %[[LOG_0]] : f32
func.func @log(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.log %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @log2
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[LOG2_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[LOG2_CST_0:.*]] = arith.constant 0.693147182 : f32
// CHECK-NEXT: %[[LOG2_0:.*]] = arith.mulf %[[S]], %[[LOG2_CST_0]] : f32
// CHECK-NEXT: %[[LOG2_1:.*]] = arith.divf %[[LOG2_CST]], %[[LOG2_0]] : f32
// CHECK-NEXT: attn.yield %[[LOG2_1]] : f32
func.func @log2(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.log2 %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @log10
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[LOG10_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[LOG10_CST_0:.*]] = arith.constant 2.30258512 : f32
// CHECK-NEXT: %[[LOG10_0:.*]] = arith.mulf %[[S]], %[[LOG10_CST_0]] : f32
// CHECK-NEXT: %[[LOG10_1:.*]] = arith.divf %[[LOG10_CST]], %[[LOG10_0]] : f32
// CHECK-NEXT: attn.yield %[[LOG10_1]] : f32
func.func @log10(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.log10 %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @log1p
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[LOG1P_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[LOG1P_CST_0:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[LOG1P_0:.*]] = arith.addf %[[S]], %[[LOG1P_CST_0]] : f32
// CHECK-NEXT: %[[LOG1P_1:.*]] = arith.divf %[[LOG1P_CST]], %[[LOG1P_0]] : f32
// CHECK-NEXT: attn.yield %[[LOG1P_1]] : f32
func.func @log1p(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.log1p %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @sqrt
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[SQRT_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SQRT_0:.*]] = math.sqrt %[[S]] : f32
// CHECK-NEXT: %[[SQRT_CST_0:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT: %[[SQRT_1:.*]] = arith.mulf %[[SQRT_CST]], %[[SQRT_CST_0]] : f32
// CHECK-NEXT: %[[SQRT_2:.*]] = arith.divf %[[SQRT_1]], %[[SQRT_0]] : f32
// CHECK-NEXT: attn.yield %[[SQRT_2]] : f32
func.func @sqrt(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.sqrt %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @rsqrt
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[RSQRT_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[RSQRT_0:.*]] = math.rsqrt %[[S]] : f32
// CHECK-NEXT: %[[RSQRT_1:.*]] = arith.mulf %[[RSQRT_0]], %[[RSQRT_0]] : f32
// CHECK-NEXT: %[[RSQRT_CST_0:.*]] = arith.constant -5.000000e-01 : f32
// CHECK-NEXT: %[[RSQRT_2:.*]] = arith.mulf %[[RSQRT_0]], %[[RSQRT_CST_0]] : f32
// CHECK-NEXT: %[[RSQRT_3:.*]] = arith.mulf %[[RSQRT_1]], %[[RSQRT_2]] : f32
// CHECK-NEXT: %[[RSQRT_4:.*]] = arith.mulf %[[RSQRT_3]], %[[RSQRT_CST]] : f32
// CHECK-NEXT: attn.yield %[[RSQRT_4]] : f32
func.func @rsqrt(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.rsqrt %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @sin
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[SIN_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SIN_0:.*]] = math.cos %[[S]] : f32
// CHECK-NEXT: %[[SIN_1:.*]] = arith.mulf %[[SIN_0]], %[[SIN_CST]] : f32
// CHECK-NEXT: attn.yield %[[SIN_1]] : f32
func.func @sin(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.sin %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @cos
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[COS_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[COS_0:.*]] = math.sin %[[S]] : f32
// CHECK-NEXT: %[[COS_1:.*]] = arith.negf %[[COS_0]] : f32
// CHECK-NEXT: %[[COS_2:.*]] = arith.mulf %[[COS_1]], %[[COS_CST]] : f32
// CHECK-NEXT: attn.yield %[[COS_2]] : f32
func.func @cos(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.cos %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @erf
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[ERF_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[ERF_0:.*]] = arith.mulf %[[S]], %[[S]] : f32
// CHECK-NEXT: %[[ERF_1:.*]] = arith.negf %[[ERF_0]] : f32
// CHECK-NEXT: %[[ERF_2:.*]] = math.exp %[[ERF_1]] : f32
// CHECK-NEXT: %[[ERF_CST_0:.*]] = arith.constant 1.12837923 : f32
// CHECK-NEXT: %[[ERF_3:.*]] = arith.mulf %[[ERF_2]], %[[ERF_CST_0]] : f32
// CHECK-NEXT: %[[ERF_4:.*]] = arith.mulf %[[ERF_3]], %[[ERF_CST]] : f32
// CHECK-NEXT: attn.yield %[[ERF_4]] : f32
func.func @erf(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.erf %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @atan
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[ATAN_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[ATAN_CST_0:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[ATAN_0:.*]] = arith.mulf %[[S]], %[[S]] : f32
// CHECK-NEXT: %[[ATAN_1:.*]] = arith.addf %[[ATAN_CST_0]], %[[ATAN_0]] : f32
// CHECK-NEXT: %[[ATAN_2:.*]] = arith.divf %[[ATAN_CST]], %[[ATAN_1]] : f32
// CHECK-NEXT: attn.yield %[[ATAN_2]] : f32
func.func @atan(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.atan %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @absf
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[ABSF_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[ABSF_CST_0:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[ABSF_0:.*]] = math.copysign %[[ABSF_CST_0]], %[[S]] : f32
// CHECK-NEXT: %[[ABSF_1:.*]] = arith.mulf %[[ABSF_0]], %[[ABSF_CST]] : f32
// CHECK-NEXT: attn.yield %[[ABSF_1]] : f32
func.func @absf(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %r = math.absf %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @fma
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[FMA_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[FMA_CST_0:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT: %[[FMA_0:.*]] = arith.mulf %[[FMA_CST_0]], %[[FMA_CST]] : f32
// CHECK-NEXT: %[[FMA_1:.*]] = arith.addf %[[FMA_0]], %[[FMA_CST]] : f32
// CHECK-NEXT: attn.yield %[[FMA_1]] : f32
func.func @fma(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 2.000000e+00 : f32
        %r = math.fma %s, %c, %s : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @powf
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[POWF_CST:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[POWF_CST_0:.*]] = arith.constant 3.000000e+00 : f32
// CHECK-NEXT: %[[POWF_CST_1:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[POWF_0:.*]] = arith.subf %[[POWF_CST_0]], %[[POWF_CST_1]] : f32
// CHECK-NEXT: %[[POWF_1:.*]] = math.powf %[[S]], %[[POWF_0]] : f32
// CHECK-NEXT: %[[POWF_2:.*]] = arith.mulf %[[POWF_CST_0]], %[[POWF_1]] : f32
// CHECK-NEXT: %[[POWF_3:.*]] = arith.mulf %[[POWF_2]], %[[POWF_CST]] : f32
// CHECK-NEXT: %[[POWF_4:.*]] = math.powf %[[POWF_CST_0]], %[[S]] : f32
// CHECK-NEXT: %[[POWF_5:.*]] = math.log %[[POWF_CST_0]] : f32
// CHECK-NEXT: %[[POWF_6:.*]] = arith.mulf %[[POWF_5]], %[[POWF_4]] : f32
// CHECK-NEXT: %[[POWF_7:.*]] = arith.mulf %[[POWF_6]], %[[POWF_CST]] : f32
// CHECK-NEXT: %[[POWF_8:.*]] = arith.addf %[[POWF_3]], %[[POWF_7]] : f32
// CHECK-NEXT: attn.yield %[[POWF_8]] : f32
func.func @powf(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 3.000000e+00 : f32
        %x = math.powf %s, %c : f32
        %y = math.powf %c, %s : f32
        %r = arith.addf %x, %y : f32
        attn.yield %r : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}

// CHECK-LABEL: func.func @constant_mod
// CHECK: } score_mod_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[CONSTANTMOD_CST:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: attn.yield %[[CONSTANTMOD_CST]] : f32
func.func @constant_mod(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>, %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>, %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 1.500000e+00 : f32
        attn.yield %c : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return
}
