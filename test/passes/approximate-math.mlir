// RUN: attn-opt %s --pass-pipeline='builtin.module(func.func(attn-approximate-math))' | FileCheck %s

// exp, log and tanh become polynomials (vectorizable, no libm calls).
// CHECK-LABEL: func @f
// CHECK-NOT: math.exp
// CHECK-NOT: math.log
// CHECK-NOT: math.tanh
// CHECK: math.fma
// CHECK: return
func.func @f(%x: vector<16xf32>, %y: f32) -> (vector<16xf32>, f32, vector<16xf32>) {
  %0 = math.exp %x : vector<16xf32>
  %1 = math.log %y : f32
  %2 = math.tanh %x : vector<16xf32>
  return %0, %1, %2 : vector<16xf32>, f32, vector<16xf32>
}
