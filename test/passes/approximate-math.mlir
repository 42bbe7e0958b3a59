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

// cbrt, erf and erfc have no LLVM intrinsic: polynomials too; the inverse
// hyperbolics become log/sqrt (and the logs polynomials). sin (an LLVM
// intrinsic) is left to math-to-llvm.
// CHECK-LABEL: func @no_intrinsic
// CHECK-NOT: math.cbrt
// CHECK-NOT: math.erf
// CHECK-NOT: math.acosh
// CHECK-NOT: math.asinh
// CHECK-NOT: math.atanh
// CHECK-NOT: math.log
// CHECK: math.sin
// CHECK: return
func.func @no_intrinsic(%x: f32) -> (f32, f32, f32, f32, f32, f32, f32) {
  %0 = math.cbrt %x : f32
  %1 = math.erf %x : f32
  %2 = math.erfc %x : f32
  %3 = math.acosh %x : f32
  %4 = math.asinh %x : f32
  %5 = math.atanh %x : f32
  %6 = math.sin %x : f32
  return %0, %1, %2, %3, %4, %5, %6 : f32, f32, f32, f32, f32, f32, f32
}
