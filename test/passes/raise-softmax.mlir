// RUN: attn-opt %s --attn-raise-attention | FileCheck %s
// RUN: attn-opt %s --attn-raise-attention=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY

// Softmax forms between Q·Kᵀ and P·V (B=2, Hq=Hkv=4, Sq=37, Skv=45,
// D=40): linalg.softmax, the stable max/sub/exp/sum/div chain as named
// ops, and the unstable exp/sum/div chain as generics with broadcasting
// indexing maps. Scores are divided by sqrt(40) (scale 0.158113882).
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
!rt2 = tensor<2x4x45xf32>

// CHECK-LABEL: func.func @softmax_op(
// CHECK-SAME: %[[Q:.*]]: tensor<2x4x37x40xf32>, %[[K:.*]]: tensor<2x4x45x40xf32>, %[[V:.*]]: tensor<2x4x45x40xf32>)
// CHECK-NOT: linalg.
// CHECK: %[[O:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] {attn.raised = "linalg.softmax", scale = 0.158113882 : f32}
// CHECK-SAME: -> tensor<2x4x37x40xf32>
// CHECK-NOT: linalg.
// CHECK: return %[[O]]
func.func @softmax_op(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// CHECK-LABEL: func.func @stable_named(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @stable_named(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// CHECK-LABEL: func.func @unstable_generic(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "exp/sum", scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @unstable_generic(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
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
  %e = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = math.exp %a : f32
    linalg.yield %y : f32
  } -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%e : !st) outs(%si : !rt) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %acc, %a : f32
    linalg.yield %y : f32
  } -> !rt
  %pr = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%e, %sum : !st, !rt) outs(%se : !st) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %y = arith.divf %a, %b : f32
    linalg.yield %y : f32
  } -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// Softmax over the queries: not attention.
// CHECK-LABEL: func.func @softmax_wrong_dim(
// CHECK-NOT: attn.attention
// CHECK: linalg.softmax dimension(2)
// WHY: remark: attn-raise-attention: not raised: linalg.softmax over a dim other than the keys
func.func @softmax_wrong_dim(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
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
  %pr = linalg.softmax dimension(2) ins(%ss : !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// The denominator sums the logits, not their exponentials.
// CHECK-LABEL: func.func @sum_of_other(
// CHECK-NOT: attn.attention
// CHECK: math.exp
// WHY: remark: attn-raise-attention: not raised: the softmax denominator is not the sum over keys of its numerator
func.func @sum_of_other(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
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
  %e = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = math.exp %a : f32
    linalg.yield %y : f32
  } -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%ss : !st) outs(%si : !rt) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %acc, %a : f32
    linalg.yield %y : f32
  } -> !rt
  %pr = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%e, %sum : !st, !rt) outs(%se : !st) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %y = arith.divf %a, %b : f32
    linalg.yield %y : f32
  } -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// Normalized over the queries (sum over dim 2).
// CHECK-LABEL: func.func @sum_over_queries(
// CHECK-NOT: attn.attention
// CHECK: linalg.reduce
// WHY: remark: attn-raise-attention: not raised: a reduction that is not one reduction over keys
func.func @sum_over_queries(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
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
  %re2 = tensor.empty() : !rt2
  %si2 = linalg.fill ins(%zero : f32) outs(%re2 : !rt2) -> !rt2
  %sum = linalg.reduce ins(%e : !st) outs(%si2 : !rt2) dimensions = [2]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !rt2) outs(%se : !st) dimensions = [2]
  %pr = linalg.div ins(%e, %sb : !st, !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}
