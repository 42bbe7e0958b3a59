// RUN: attn-opt %s --attn-raise-attention | FileCheck %s
// RUN: attn-opt %s --attn-raise-attention=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY

// GQA / MQA through K/V head repetition: repeat_interleave as a broadcast
// of a new dim right after the K/V head dim, merged into the head dim
// (named broadcast, or expand_shape + broadcasting generic as torch-mlir
// emits it), on rank-4 heads or a 3-D batch_matmul over B*H. Hq = 4.
#q = affine_map<(b, h, i, j, d) -> (b, h, i, d)>
#k = affine_map<(b, h, i, j, d) -> (b, h, j, d)>
#s = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
#p = affine_map<(b, h, i, d, j) -> (b, h, i, j)>
#v = affine_map<(b, h, i, d, j) -> (b, h, j, d)>
#o = affine_map<(b, h, i, d, j) -> (b, h, i, d)>
#id = affine_map<(b, h, i, j) -> (b, h, i, j)>
#row = affine_map<(b, h, i, j) -> (b, h, i)>
#ij = affine_map<(b, h, i, j) -> (i, j)>
!qt = tensor<2x4x37x40xf32>
!kt = tensor<2x4x45x40xf32>
!st = tensor<2x4x37x45xf32>
!rt = tensor<2x4x37xf32>
!k2 = tensor<2x2x45x40xf32>
!k5 = tensor<2x2x2x45x40xf32>
!k1 = tensor<2x1x45x40xf32>
!k15 = tensor<2x1x4x45x40xf32>
!k2q = tensor<2x2x37x40xf32>
!k5q = tensor<2x2x2x37x40xf32>

// CHECK-LABEL: func.func @gqa_broadcast(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<2x4x37x40xf32>, %[[K:[^:]*]]: tensor<2x2x45x40xf32>, %[[V:[^:]*]]: tensor<2x2x45x40xf32>)
// CHECK-NOT: linalg.
// CHECK: attn.attention %[[Q]], %[[K]], %[[V]] {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true>, scale = 0.158113882 : f32}
// CHECK-SAME: tensor<2x4x37x40xf32>, tensor<2x2x45x40xf32>, tensor<2x2x45x40xf32> -> tensor<2x4x37x40xf32>
// CHECK-NOT: linalg.
// CHECK: return
func.func @gqa_broadcast(%q: !qt, %k: !k2, %v: !k2) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %kre = tensor.empty() : !k5
  %krb = linalg.broadcast ins(%k : !k2) outs(%kre : !k5) dimensions = [2]
  %kr = tensor.collapse_shape %krb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %vre = tensor.empty() : !k5
  %vrb = linalg.broadcast ins(%v : !k2) outs(%vre : !k5) dimensions = [2]
  %vr = tensor.collapse_shape %vrb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kr : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %c = arith.constant 6.32455532 : f32
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.divf %a, %c : f32
    linalg.yield %y : f32
  } -> !st
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %m = arith.cmpi ugt, %j, %i : index
    %y = arith.select %m, %ninf, %a : f32
    linalg.yield %y : f32
  } -> !st
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !rt) -> !rt
  %mx = linalg.reduce ins(%ms : !st) outs(%mi : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !rt) outs(%se : !st) dimensions = [3]
  %d = linalg.sub ins(%ms, %mb : !st, !st) outs(%se : !st) -> !st
  %e = linalg.exp ins(%d : !st) outs(%se : !st) -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.reduce ins(%e : !st) outs(%si : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !rt) outs(%se : !st) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !st, !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %vr : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// CHECK-LABEL: func.func @gqa_expand_generic(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<2x4x37x40xf32>, %[[K:[^:]*]]: tensor<2x2x45x40xf32>, %[[V:[^:]*]]: tensor<2x2x45x40xf32>)
// CHECK-NOT: linalg.
// CHECK: attn.attention %[[Q]], %[[K]], %[[V]] {attn.raised = "linalg.softmax", scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @gqa_expand_generic(%q: !qt, %k: !k2, %v: !k2) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %krx = tensor.expand_shape %k [[0], [1, 2], [3], [4]] output_shape [2, 2, 1, 45, 40] : !k2 into tensor<2x2x1x45x40xf32>
  %kre = tensor.empty() : !k5
  %krb = linalg.generic {indexing_maps = [affine_map<(a, b, c, d, e) -> (a, b, 0, d, e)>, affine_map<(a, b, c, d, e) -> (a, b, c, d, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%krx : tensor<2x2x1x45x40xf32>) outs(%kre : !k5) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> !k5
  %kr = tensor.collapse_shape %krb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %vrx = tensor.expand_shape %v [[0], [1, 2], [3], [4]] output_shape [2, 2, 1, 45, 40] : !k2 into tensor<2x2x1x45x40xf32>
  %vre = tensor.empty() : !k5
  %vrb = linalg.generic {indexing_maps = [affine_map<(a, b, c, d, e) -> (a, b, 0, d, e)>, affine_map<(a, b, c, d, e) -> (a, b, c, d, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%vrx : tensor<2x2x1x45x40xf32>) outs(%vre : !k5) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> !k5
  %vr = tensor.collapse_shape %vrb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kr : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %c = arith.constant 6.32455532 : f32
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.divf %a, %c : f32
    linalg.yield %y : f32
  } -> !st
  %pr = linalg.softmax dimension(3) ins(%ss : !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %vr : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// MQA: one K/V head.
// CHECK-LABEL: func.func @mqa(
// CHECK: attn.attention {{.*}} : tensor<2x4x37x40xf32>, tensor<2x1x45x40xf32>, tensor<2x1x45x40xf32> -> tensor<2x4x37x40xf32>
func.func @mqa(%q: !qt, %k: !k1, %v: !k1) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %kre = tensor.empty() : !k15
  %krb = linalg.broadcast ins(%k : !k1) outs(%kre : !k15) dimensions = [2]
  %kr = tensor.collapse_shape %krb [[0], [1, 2], [3], [4]] : !k15 into !kt
  %vre = tensor.empty() : !k15
  %vrb = linalg.broadcast ins(%v : !k1) outs(%vre : !k15) dimensions = [2]
  %vr = tensor.collapse_shape %vrb [[0], [1, 2], [3], [4]] : !k15 into !kt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kr : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %c = arith.constant 6.32455532 : f32
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.divf %a, %c : f32
    linalg.yield %y : f32
  } -> !st
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !rt) -> !rt
  %mx = linalg.reduce ins(%ss : !st) outs(%mi : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !rt) outs(%se : !st) dimensions = [3]
  %d = linalg.sub ins(%ss, %mb : !st, !st) outs(%se : !st) -> !st
  %e = linalg.exp ins(%d : !st) outs(%se : !st) -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.reduce ins(%e : !st) outs(%si : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !rt) outs(%se : !st) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !st, !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %vr : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// Heads flattened into the batch for linalg.batch_matmul ([B*H, S, D]),
// K/V repeated, Kᵀ materialized with linalg.transpose.
// CHECK-LABEL: func.func @gqa_batch_matmul(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<2x4x37x40xf32>, %[[K:[^:]*]]: tensor<2x2x45x40xf32>, %[[V:[^:]*]]: tensor<2x2x45x40xf32>)
// CHECK-NOT: linalg.
// CHECK: %[[O:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] {attn.raised = "max/exp/sum", scale = 0.158113882 : f32}
// CHECK: %[[F:.*]] = tensor.collapse_shape %[[O]] {{\[}}[0, 1], [2], [3]] : tensor<2x4x37x40xf32> into tensor<8x37x40xf32>
// CHECK: return %[[F]]
func.func @gqa_batch_matmul(%q: !qt, %k: !k2, %v: !k2) -> tensor<8x37x40xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 6.32455532 : f32
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : !qt into tensor<8x37x40xf32>
  %ke = tensor.empty() : !k5
  %kb = linalg.broadcast ins(%k : !k2) outs(%ke : !k5) dimensions = [2]
  %k3 = tensor.collapse_shape %kb [[0, 1, 2], [3], [4]] : !k5 into tensor<8x45x40xf32>
  %vb = linalg.broadcast ins(%v : !k2) outs(%ke : !k5) dimensions = [2]
  %v3 = tensor.collapse_shape %vb [[0, 1, 2], [3], [4]] : !k5 into tensor<8x45x40xf32>
  %kte = tensor.empty() : tensor<8x40x45xf32>
  %kt = linalg.transpose ins(%k3 : tensor<8x45x40xf32>) outs(%kte : tensor<8x40x45xf32>) permutation = [0, 2, 1]
  %se = tensor.empty() : tensor<8x37x45xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%se : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %s = linalg.batch_matmul ins(%q3, %kt : tensor<8x37x40xf32>, tensor<8x40x45xf32>) outs(%sz : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %cs = linalg.fill ins(%c : f32) outs(%se : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %ss = linalg.div ins(%s, %cs : tensor<8x37x45xf32>, tensor<8x37x45xf32>) outs(%se : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %re = tensor.empty() : tensor<8x37xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%re : tensor<8x37xf32>) -> tensor<8x37xf32>
  %mx = linalg.reduce ins(%ss : tensor<8x37x45xf32>) outs(%mi : tensor<8x37xf32>) dimensions = [2]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : tensor<8x37xf32>) outs(%se : tensor<8x37x45xf32>) dimensions = [2]
  %d = linalg.sub ins(%ss, %mb : tensor<8x37x45xf32>, tensor<8x37x45xf32>) outs(%se : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %e = linalg.exp ins(%d : tensor<8x37x45xf32>) outs(%se : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %si = linalg.fill ins(%zero : f32) outs(%re : tensor<8x37xf32>) -> tensor<8x37xf32>
  %sum = linalg.reduce ins(%e : tensor<8x37x45xf32>) outs(%si : tensor<8x37xf32>) dimensions = [2]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : tensor<8x37xf32>) outs(%se : tensor<8x37x45xf32>) dimensions = [2]
  %pr = linalg.div ins(%e, %sb : tensor<8x37x45xf32>, tensor<8x37x45xf32>) outs(%se : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %oe = tensor.empty() : tensor<8x37x40xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%oe : tensor<8x37x40xf32>) -> tensor<8x37x40xf32>
  %o = linalg.batch_matmul ins(%pr, %v3 : tensor<8x37x45xf32>, tensor<8x45x40xf32>) outs(%oz : tensor<8x37x40xf32>) -> tensor<8x37x40xf32>
  return %o : tensor<8x37x40xf32>
}

// torch.repeat order (query head h reads K/V head h % Hkv): not attn's head mapping.
// CHECK-LABEL: func.func @repeat_tiled(
// CHECK-NOT: attn.attention
// CHECK: linalg.broadcast
// WHY: remark: attn-raise-attention: not raised: K/V head repetition that broadcasts more than the group dim
func.func @repeat_tiled(%q: !qt, %k: !k2, %v: !k2) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %kre = tensor.empty() : !k5
  %krb = linalg.broadcast ins(%k : !k2) outs(%kre : !k5) dimensions = [1]
  %kr = tensor.collapse_shape %krb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %vre = tensor.empty() : !k5
  %vrb = linalg.broadcast ins(%v : !k2) outs(%vre : !k5) dimensions = [1]
  %vr = tensor.collapse_shape %vrb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kr : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %c = arith.constant 6.32455532 : f32
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.divf %a, %c : f32
    linalg.yield %y : f32
  } -> !st
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !rt) -> !rt
  %mx = linalg.reduce ins(%ss : !st) outs(%mi : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !rt) outs(%se : !st) dimensions = [3]
  %d = linalg.sub ins(%ss, %mb : !st, !st) outs(%se : !st) -> !st
  %e = linalg.exp ins(%d : !st) outs(%se : !st) -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.reduce ins(%e : !st) outs(%si : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !rt) outs(%se : !st) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !st, !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %vr : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// K repeated in attn's order, V in torch.repeat order (V is then not a repetition at all).
// CHECK-LABEL: func.func @mixed_repetition(
// CHECK-NOT: attn.attention
// CHECK: linalg.broadcast
// WHY: remark: attn-raise-attention: not raised: K/V head repetition that broadcasts more than the group dim
func.func @mixed_repetition(%q: !qt, %k: !k2, %v: !k2) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %kre = tensor.empty() : !k5
  %krb = linalg.broadcast ins(%k : !k2) outs(%kre : !k5) dimensions = [2]
  %kr = tensor.collapse_shape %krb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %vre = tensor.empty() : !k5
  %vrb = linalg.broadcast ins(%v : !k2) outs(%vre : !k5) dimensions = [1]
  %vr = tensor.collapse_shape %vrb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kr : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %c = arith.constant 6.32455532 : f32
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.divf %a, %c : f32
    linalg.yield %y : f32
  } -> !st
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !rt) -> !rt
  %mx = linalg.reduce ins(%ss : !st) outs(%mi : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !rt) outs(%se : !st) dimensions = [3]
  %d = linalg.sub ins(%ss, %mb : !st, !st) outs(%se : !st) -> !st
  %e = linalg.exp ins(%d : !st) outs(%se : !st) -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.reduce ins(%e : !st) outs(%si : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !rt) outs(%se : !st) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !st, !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %vr : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// Query heads repeated like K/V: the output would be per repeated head.
// CHECK-LABEL: func.func @queries_repeated(
// CHECK-NOT: attn.attention
// CHECK: linalg.broadcast
// WHY: remark: attn-raise-attention: not raised: the queries are a repetition of fewer heads
func.func @queries_repeated(%q: !k2q, %k: !k2, %v: !k2) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %qre = tensor.empty() : !k5q
  %qrb = linalg.broadcast ins(%q : !k2q) outs(%qre : !k5q) dimensions = [2]
  %qr = tensor.collapse_shape %qrb [[0], [1, 2], [3], [4]] : !k5q into !qt
  %kre = tensor.empty() : !k5
  %krb = linalg.broadcast ins(%k : !k2) outs(%kre : !k5) dimensions = [2]
  %kr = tensor.collapse_shape %krb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %vre = tensor.empty() : !k5
  %vrb = linalg.broadcast ins(%v : !k2) outs(%vre : !k5) dimensions = [2]
  %vr = tensor.collapse_shape %vrb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%qr, %kr : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %c = arith.constant 6.32455532 : f32
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.divf %a, %c : f32
    linalg.yield %y : f32
  } -> !st
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !rt) -> !rt
  %mx = linalg.reduce ins(%ss : !st) outs(%mi : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !rt) outs(%se : !st) dimensions = [3]
  %d = linalg.sub ins(%ss, %mb : !st, !st) outs(%se : !st) -> !st
  %e = linalg.exp ins(%d : !st) outs(%se : !st) -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.reduce ins(%e : !st) outs(%si : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !rt) outs(%se : !st) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !st, !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %vr : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}
