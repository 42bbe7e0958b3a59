// RUN: mlir-opt %s --tosa-to-linalg-pipeline --tosa-to-tensor --tosa-to-arith --canonicalize | attn-opt --attn-raise-attention | FileCheck %s
// RUN: mlir-opt %s --tosa-to-linalg-pipeline --tosa-to-tensor --tosa-to-arith --canonicalize | attn-opt --attn-raise-attention=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY

// MLIR's own TOSA front end as a source of naive attention: TOSA versions
// of the seeds' modules lowered by the upstream tosa-to-linalg-pipeline
// (plus tosa-to-tensor for reshapes, tosa-to-arith for constants and
// canonicalize to drop the dead tosa.const_shape ops) give
// linalg.batch_matmul, linalg.transpose, linalg.reduce + expand_shape for
// keep-dims, broadcasting generics and reciprocal as 1/x; then raised.

// Seed 004's MultiHeadAttention (E = 32, H = 4, D = 8, S = 7) with its
// registered causal buffer, heads split by reshape + transpose and merged
// back.
// CHECK-LABEL: func.func @seed004_mha(
// CHECK-SAME: %[[XQ:[^:]*]]: tensor<1x7x32xf32>, %[[XK:[^:]*]]: tensor<1x7x32xf32>, %[[XV:[^:]*]]: tensor<1x7x32xf32>)
// CHECK-NOT: linalg.
// CHECK: %[[O:.*]] = attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", layout = #attn.layout<bshd>, mask = #attn.mask<causal = true>, scale = 0.353553385 : f32}
// CHECK-SAME: : tensor<1x7x4x8xf32>, tensor<1x7x4x8xf32>, tensor<1x7x4x8xf32> -> tensor<1x7x4x8xf32>
// CHECK-NOT: linalg.
// CHECK: return
func.func @seed004_mha(%xq: tensor<1x7x32xf32>, %xk: tensor<1x7x32xf32>, %xv: tensor<1x7x32xf32>) -> tensor<1x7x32xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %s4 = tosa.const_shape {values = dense<[1, 7, 4, 8]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s3 = tosa.const_shape {values = dense<[4, 7, 8]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %s4h = tosa.const_shape {values = dense<[1, 4, 7, 8]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %sE = tosa.const_shape {values = dense<[1, 7, 32]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %qr = tosa.reshape %xq, %s4 : (tensor<1x7x32xf32>, !tosa.shape<4>) -> tensor<1x7x4x8xf32>
  %qt = tosa.transpose %qr {perms = array<i32: 0, 2, 1, 3>} : (tensor<1x7x4x8xf32>) -> tensor<1x4x7x8xf32>
  %q = tosa.reshape %qt, %s3 : (tensor<1x4x7x8xf32>, !tosa.shape<3>) -> tensor<4x7x8xf32>
  %kr = tosa.reshape %xk, %s4 : (tensor<1x7x32xf32>, !tosa.shape<4>) -> tensor<1x7x4x8xf32>
  %kt = tosa.transpose %kr {perms = array<i32: 0, 2, 1, 3>} : (tensor<1x7x4x8xf32>) -> tensor<1x4x7x8xf32>
  %k = tosa.reshape %kt, %s3 : (tensor<1x4x7x8xf32>, !tosa.shape<3>) -> tensor<4x7x8xf32>
  %vr = tosa.reshape %xv, %s4 : (tensor<1x7x32xf32>, !tosa.shape<4>) -> tensor<1x7x4x8xf32>
  %vt = tosa.transpose %vr {perms = array<i32: 0, 2, 1, 3>} : (tensor<1x7x4x8xf32>) -> tensor<1x4x7x8xf32>
  %v = tosa.reshape %vt, %s3 : (tensor<1x4x7x8xf32>, !tosa.shape<3>) -> tensor<4x7x8xf32>
  %kT = tosa.transpose %k {perms = array<i32: 0, 2, 1>} : (tensor<4x7x8xf32>) -> tensor<4x8x7xf32>
  %s = tosa.matmul %q, %kT, %zp, %zp : (tensor<4x7x8xf32>, tensor<4x8x7xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x7x7xf32>
  %c = "tosa.const"() <{values = dense<0.353553385> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
  %ss = tosa.mul %s, %c, %shift : (tensor<4x7x7xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<4x7x7xf32>
  %mask = "tosa.const"() <{values = dense<[[[0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]]> : tensor<1x7x7xf32>}> : () -> tensor<1x7x7xf32>
  %sm = tosa.add %ss, %mask : (tensor<4x7x7xf32>, tensor<1x7x7xf32>) -> tensor<4x7x7xf32>
  %m = tosa.reduce_max %sm {axis = 2 : i32} : (tensor<4x7x7xf32>) -> tensor<4x7x1xf32>
  %d = tosa.sub %sm, %m : (tensor<4x7x7xf32>, tensor<4x7x1xf32>) -> tensor<4x7x7xf32>
  %e = tosa.exp %d : (tensor<4x7x7xf32>) -> tensor<4x7x7xf32>
  %sum = tosa.reduce_sum %e {axis = 2 : i32} : (tensor<4x7x7xf32>) -> tensor<4x7x1xf32>
  %r = tosa.reciprocal %sum : (tensor<4x7x1xf32>) -> tensor<4x7x1xf32>
  %p = tosa.mul %e, %r, %shift : (tensor<4x7x7xf32>, tensor<4x7x1xf32>, tensor<1xi8>) -> tensor<4x7x7xf32>
  %o = tosa.matmul %p, %v, %zp, %zp : (tensor<4x7x7xf32>, tensor<4x7x8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x7x8xf32>
  %o4 = tosa.reshape %o, %s4h : (tensor<4x7x8xf32>, !tosa.shape<4>) -> tensor<1x4x7x8xf32>
  %ot = tosa.transpose %o4 {perms = array<i32: 0, 2, 1, 3>} : (tensor<1x4x7x8xf32>) -> tensor<1x7x4x8xf32>
  %out = tosa.reshape %ot, %sE : (tensor<1x7x4x8xf32>, !tosa.shape<3>) -> tensor<1x7x32xf32>
  return %out : tensor<1x7x32xf32>
}

// Seed 002's ScaledDotProductAttention without a mask, Sq = 37, Skv = 45,
// D = 40: rank-3 bmm, one head.
// CHECK-LABEL: func.func @seed002_sdpa(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", scale = 0.158113882 : f32} : tensor<2x1x37x40xf32>, tensor<2x1x45x40xf32>, tensor<2x1x45x40xf32> -> tensor<2x1x37x40xf32>
// CHECK-NOT: linalg.
// CHECK: return
func.func @seed002_sdpa(%q: tensor<2x37x40xf32>, %k: tensor<2x45x40xf32>, %v: tensor<2x45x40xf32>) -> tensor<2x37x40xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %kt = tosa.transpose %k {perms = array<i32: 0, 2, 1>} : (tensor<2x45x40xf32>) -> tensor<2x40x45xf32>
  %s = tosa.matmul %q, %kt, %zp, %zp : (tensor<2x37x40xf32>, tensor<2x40x45xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x37x45xf32>
  %c = "tosa.const"() <{values = dense<0.158113883> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
  %ss = tosa.mul %s, %c, %shift : (tensor<2x37x45xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x37x45xf32>
  %m = tosa.reduce_max %ss {axis = 2 : i32} : (tensor<2x37x45xf32>) -> tensor<2x37x1xf32>
  %d = tosa.sub %ss, %m : (tensor<2x37x45xf32>, tensor<2x37x1xf32>) -> tensor<2x37x45xf32>
  %e = tosa.exp %d : (tensor<2x37x45xf32>) -> tensor<2x37x45xf32>
  %sum = tosa.reduce_sum %e {axis = 2 : i32} : (tensor<2x37x45xf32>) -> tensor<2x37x1xf32>
  %r = tosa.reciprocal %sum : (tensor<2x37x1xf32>) -> tensor<2x37x1xf32>
  %p = tosa.mul %e, %r, %shift : (tensor<2x37x45xf32>, tensor<2x37x1xf32>, tensor<1xi8>) -> tensor<2x37x45xf32>
  %o = tosa.matmul %p, %v, %zp, %zp : (tensor<2x37x45xf32>, tensor<2x45x40xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x37x40xf32>
  return %o : tensor<2x37x40xf32>
}

// The softmax normalized over the queries (axis 1): not raised.
// CHECK-LABEL: func.func @softmax_axis1(
// CHECK-NOT: attn.attention
// CHECK: linalg.batch_matmul
// WHY: remark: attn-raise-attention: not raised: a reduction that is not one reduction over keys
func.func @softmax_axis1(%q: tensor<2x37x40xf32>, %k: tensor<2x37x40xf32>, %v: tensor<2x37x40xf32>) -> tensor<2x37x40xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %kt = tosa.transpose %k {perms = array<i32: 0, 2, 1>} : (tensor<2x37x40xf32>) -> tensor<2x40x37xf32>
  %s = tosa.matmul %q, %kt, %zp, %zp : (tensor<2x37x40xf32>, tensor<2x40x37xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x37x37xf32>
  %m = tosa.reduce_max %s {axis = 1 : i32} : (tensor<2x37x37xf32>) -> tensor<2x1x37xf32>
  %d = tosa.sub %s, %m : (tensor<2x37x37xf32>, tensor<2x1x37xf32>) -> tensor<2x37x37xf32>
  %e = tosa.exp %d : (tensor<2x37x37xf32>) -> tensor<2x37x37xf32>
  %sum = tosa.reduce_sum %e {axis = 1 : i32} : (tensor<2x37x37xf32>) -> tensor<2x1x37xf32>
  %r = tosa.reciprocal %sum : (tensor<2x1x37xf32>) -> tensor<2x1x37xf32>
  %p = tosa.mul %e, %r, %shift : (tensor<2x37x37xf32>, tensor<2x1x37xf32>, tensor<1xi8>) -> tensor<2x37x37xf32>
  %o = tosa.matmul %p, %v, %zp, %zp : (tensor<2x37x37xf32>, tensor<2x37x40xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x37x40xf32>
  return %o : tensor<2x37x40xf32>
}

// A strictly lower triangular buffer (the diagonal masked too): not causal.
// CHECK-LABEL: func.func @strict_triangle(
// CHECK-NOT: attn.attention
// CHECK: linalg.batch_matmul
// WHY: remark: attn-raise-attention: not raised: a causal mask whose first query sees no key
func.func @strict_triangle(%q: tensor<4x7x8xf32>, %k: tensor<4x7x8xf32>, %v: tensor<4x7x8xf32>) -> tensor<4x7x8xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %kT = tosa.transpose %k {perms = array<i32: 0, 2, 1>} : (tensor<4x7x8xf32>) -> tensor<4x8x7xf32>
  %s = tosa.matmul %q, %kT, %zp, %zp : (tensor<4x7x8xf32>, tensor<4x8x7xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x7x7xf32>
  %mask = "tosa.const"() <{values = dense<[[[0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000]]]> : tensor<1x7x7xf32>}> : () -> tensor<1x7x7xf32>
  %sm = tosa.add %s, %mask : (tensor<4x7x7xf32>, tensor<1x7x7xf32>) -> tensor<4x7x7xf32>
  %m = tosa.reduce_max %sm {axis = 2 : i32} : (tensor<4x7x7xf32>) -> tensor<4x7x1xf32>
  %d = tosa.sub %sm, %m : (tensor<4x7x7xf32>, tensor<4x7x1xf32>) -> tensor<4x7x7xf32>
  %e = tosa.exp %d : (tensor<4x7x7xf32>) -> tensor<4x7x7xf32>
  %sum = tosa.reduce_sum %e {axis = 2 : i32} : (tensor<4x7x7xf32>) -> tensor<4x7x1xf32>
  %r = tosa.reciprocal %sum : (tensor<4x7x1xf32>) -> tensor<4x7x1xf32>
  %p = tosa.mul %e, %r, %shift : (tensor<4x7x7xf32>, tensor<4x7x1xf32>, tensor<1xi8>) -> tensor<4x7x7xf32>
  %o = tosa.matmul %p, %v, %zp, %zp : (tensor<4x7x7xf32>, tensor<4x7x8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x7x8xf32>
  return %o : tensor<4x7x8xf32>
}
