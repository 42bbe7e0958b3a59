// RUN: split-file %s %t
// RUN: attn-run %t/alibi.mlir --backward --check --seed=3 | FileCheck %s
// RUN: bash -c "attn-run %t/no-lse.mlir --backward 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=NOLSE
// RUN: bash -c "attn-run %t/copysign.mlir --backward 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=NORULE

// attn-run --backward on an MLIR forward: its score_mod (ALiBi here) is
// differentiated at compile time and --check compares with the float64
// backward (which differentiates the region numerically).

// CHECK: spec: gqa:b=1,hq=4,hkv=2,sq=33,skv=40,d=64,{{.*}}causal{{.*}} (backward)
// CHECK: check: seed 3: dq {{.*}}: PASS (tolerance 5e-05)

// NOLSE: --backward: the attn.attention must return its lse
// NOLSE: exit=2

// A forward that compiles, with an op the derivative has no rule for.
// NORULE: cannot differentiate 'math.copysign' with respect to the score
// NORULE: exit=1

//--- alibi.mlir
func.func @f(%q: tensor<1x4x33x64xf32>, %k: tensor<1x2x40x64xf32>,
             %v: tensor<1x2x40x64xf32>)
    -> (tensor<1x4x33x64xf32>, tensor<1x4x33xf32>) {
  %o, %lse = attn.attention %q, %k, %v score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant -1.250000e-01 : f32
    %d = arith.subi %j, %i : index
    %di = arith.index_cast %d : index to i64
    %df = arith.sitofp %di : i64 to f32
    %m = arith.mulf %c, %df : f32
    %r = arith.addf %s, %m : f32
    attn.yield %r : f32
  } {mask = #attn.mask<causal = true, q_offset = 7>}
      : tensor<1x4x33x64xf32>, tensor<1x2x40x64xf32>, tensor<1x2x40x64xf32>
      -> tensor<1x4x33x64xf32>, tensor<1x4x33xf32>
  return %o, %lse : tensor<1x4x33x64xf32>, tensor<1x4x33xf32>
}

//--- no-lse.mlir
func.func @f(%q: tensor<1x4x33x64xf32>, %k: tensor<1x2x40x64xf32>,
             %v: tensor<1x2x40x64xf32>) -> tensor<1x4x33x64xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<1x4x33x64xf32>, tensor<1x2x40x64xf32>, tensor<1x2x40x64xf32>
      -> tensor<1x4x33x64xf32>
  return %o : tensor<1x4x33x64xf32>
}

//--- copysign.mlir
func.func @f(%q: tensor<1x4x33x64xf32>, %k: tensor<1x2x40x64xf32>,
             %v: tensor<1x2x40x64xf32>)
    -> (tensor<1x4x33x64xf32>, tensor<1x4x33xf32>) {
  %o, %lse = attn.attention %q, %k, %v score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant -1.000000e+00 : f32
    %r = math.copysign %s, %c : f32
    attn.yield %r : f32
  } : tensor<1x4x33x64xf32>, tensor<1x2x40x64xf32>, tensor<1x2x40x64xf32>
      -> tensor<1x4x33x64xf32>, tensor<1x4x33xf32>
  return %o, %lse : tensor<1x4x33x64xf32>, tensor<1x4x33xf32>
}
