// RUN: attn-opt %s --attn-raise-attention | FileCheck %s
// RUN: attn-opt %s --attn-raise-attention=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY

// Scale forms: multiply or divide the scores by a constant, or fold the
// constant into Q. The raised op always carries an explicit scale.
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

// CHECK-LABEL: func.func @mul_scores(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @mul_scores(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %c = arith.constant 0.158113883 : f32
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.mulf %a, %c : f32
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

// CHECK-LABEL: func.func @div_sqrt(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @div_sqrt(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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

// CHECK-LABEL: func.func @folded_into_q(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", scale = 1.250000e-01 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @folded_into_q(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %qe = tensor.empty() : !qt
  %c = arith.constant 0.125 : f32
  %qs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : !qt) outs(%qe : !qt) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.mulf %a, %c : f32
    linalg.yield %y : f32
  } -> !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%qs, %k : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !rt) -> !rt
  %mx = linalg.reduce ins(%s : !st) outs(%mi : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !rt) outs(%se : !st) dimensions = [3]
  %d = linalg.sub ins(%s, %mb : !st, !st) outs(%se : !st) -> !st
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

// CHECK-LABEL: func.func @no_scale(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "linalg.softmax", scale = 1.000000e+00 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @no_scale(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %pr = linalg.softmax dimension(3) ins(%s : !st) outs(%se : !st) -> !st
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

// A scale that is not a constant (a function argument).
// CHECK-LABEL: func.func @scale_from_argument(
// CHECK-NOT: attn.attention
// CHECK: linalg.generic
// WHY: remark: attn-raise-attention: not raised: an elementwise body using a value from outside
func.func @scale_from_argument(%q: !qt, %k: !kt, %v: !kt, %c: f32) -> !qt {
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
  
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.mulf %a, %c : f32
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

// Scores multiplied by themselves.
// CHECK-LABEL: func.func @squared_scores(
// CHECK-NOT: attn.attention
// CHECK: linalg.generic
// WHY: remark: attn-raise-attention: not raised: the scale is not a finite constant applied to the scores before any mask or bias
func.func @squared_scores(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.mulf %a, %a : f32
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

// Seeds 003/004: masked_fill(S, triu, -inf) first, then the division by
// sqrt(d): a positive scale commutes with the -inf fill.
// CHECK-LABEL: func.func @mask_then_div(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "linalg.softmax", mask = #attn.mask<causal = true>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @mask_then_div(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %f = arith.cmpi ugt, %j, %i : index
    %y = arith.select %f, %ninf, %a : f32
    linalg.yield %y : f32
  } -> !st
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ms : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant 6.32455532 : f32
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

// A negative scale after the mask would turn -inf into +inf: not raised.
// CHECK-LABEL: func.func @mask_then_negative_scale(
// CHECK-NOT: attn.attention
// CHECK: linalg.softmax
// WHY: remark: attn-raise-attention: not raised: the scale is not a finite constant applied to the scores before any mask or bias
func.func @mask_then_negative_scale(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %f = arith.cmpi ugt, %j, %i : index
    %y = arith.select %f, %ninf, %a : f32
    linalg.yield %y : f32
  } -> !st
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ms : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant -0.125 : f32
    %y = arith.mulf %a, %c : f32
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

// A -1e9 fill scaled by 1e-3 is no longer a masking value: not raised.
// CHECK-LABEL: func.func @finite_fill_scaled_away(
// CHECK-NOT: attn.attention
// CHECK: linalg.softmax
// WHY: remark: attn-raise-attention: not raised: a select on the logits that does not mask with -inf
func.func @finite_fill_scaled_away(%q: !qt, %k: !kt, %v: !kt) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %oe = tensor.empty() : !qt
  %sz = linalg.fill ins(%zero : f32) outs(%se : !st) -> !st
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !qt, !kt) outs(%sz : !st) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !st
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %big = arith.constant -1.0e9 : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %f = arith.cmpi ugt, %j, %i : index
    %y = arith.select %f, %big, %a : f32
    linalg.yield %y : f32
  } -> !st
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ms : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant 1.0e-3 : f32
    %y = arith.mulf %a, %c : f32
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
