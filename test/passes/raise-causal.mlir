// RUN: attn-opt %s --attn-raise-attention | FileCheck %s
// RUN: attn-opt %s --attn-raise-attention=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY

// Causal masks, each checked at every (query, key) pair: iota/compare +
// select, an added -1e9 / lowest-float triangle, a constant buffer (its
// contents decide: causal exactly, with a query offset and optionally a
// look-back window, or not raised).
// Sq = 37 and Skv = 45 (top-left aligned: q_offset 0) unless noted.
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
!q6 = tensor<1x2x6x16xf32>
!k6 = tensor<1x2x8x16xf32>
!s6 = tensor<1x2x6x8xf32>
!r6 = tensor<1x2x6xf32>

// CHECK-LABEL: func.func @iota_select(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @iota_select(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// CHECK-LABEL: func.func @keep_select_i64(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @keep_select_i64(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %i64 = arith.index_cast %i : index to i64
    %j64 = arith.index_cast %j : index to i64
    %m = arith.cmpi sge, %i64, %j64 : i64
    %y = arith.select %m, %a, %ninf : f32
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// CHECK-LABEL: func.func @additive_triangle(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @additive_triangle(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %te = tensor.empty() : tensor<37x45xf32>
  %tri = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      outs(%te : tensor<37x45xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %m = arith.cmpi ugt, %j, %i : index
    %big = arith.constant -1.000000e+09 : f32
    %y = arith.select %m, %big, %zero : f32
    linalg.yield %y : f32
  } -> tensor<37x45xf32>
  %ms = linalg.generic {indexing_maps = [#id, #ij, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss, %tri : !st, tensor<37x45xf32>) outs(%se : !st) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// CHECK-LABEL: func.func @lowest_float_triangle(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @lowest_float_triangle(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %te = tensor.empty() : tensor<37x45xf32>
  %tri = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      outs(%te : tensor<37x45xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %m = arith.cmpi ugt, %j, %i : index
    %big = arith.constant -3.40282347E+38 : f32
    %y = arith.select %m, %big, %zero : f32
    linalg.yield %y : f32
  } -> tensor<37x45xf32>
  %ms = linalg.generic {indexing_maps = [#id, #ij, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss, %tri : !st, tensor<37x45xf32>) outs(%se : !st) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// A registered buffer (seed 004), Sq = 6 < Skv = 8: bottom-right aligned.
// CHECK-LABEL: func.func @buffer_causal_offset(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true, q_offset = 2>, scale = 1.000000e+00 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @buffer_causal_offset(%q: !q6, %k: !k6, %v: !k6) -> !q6 {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !s6
  %re = tensor.empty() : !r6
  %oe = tensor.empty() : !q6
  %sz = linalg.fill ins(%zero : f32) outs(%se : !s6) -> !s6
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !q6, !k6) outs(%sz : !s6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !s6
  %buf = arith.constant dense<[[[[0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]]]> : tensor<1x1x6x8xf32>
  %ms = linalg.generic {indexing_maps = [#id, affine_map<(b, h, i, j) -> (0, 0, i, j)>, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %buf : !s6, tensor<1x1x6x8xf32>) outs(%se : !s6) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
    linalg.yield %y : f32
  } -> !s6
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !r6) -> !r6
  %mx = linalg.reduce ins(%ms : !s6) outs(%mi : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !r6) outs(%se : !s6) dimensions = [3]
  %d = linalg.sub ins(%ms, %mb : !s6, !s6) outs(%se : !s6) -> !s6
  %e = linalg.exp ins(%d : !s6) outs(%se : !s6) -> !s6
  %si = linalg.fill ins(%zero : f32) outs(%re : !r6) -> !r6
  %sum = linalg.reduce ins(%e : !s6) outs(%si : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !r6) outs(%se : !s6) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !s6, !s6) outs(%se : !s6) -> !s6
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !q6) -> !q6
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !s6, !k6) outs(%oz : !q6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !q6
  return %out : !q6
}

// A causal buffer with one extra masked pair.
// CHECK-LABEL: func.func @buffer_one_wrong(
// CHECK-NOT: attn.attention
// CHECK: arith.constant dense
// WHY: remark: attn-raise-attention: not raised: a mask that is not causal (masked exactly where key > query + offset, or outside a look-back window)
func.func @buffer_one_wrong(%q: !q6, %k: !k6, %v: !k6) -> !q6 {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !s6
  %re = tensor.empty() : !r6
  %oe = tensor.empty() : !q6
  %sz = linalg.fill ins(%zero : f32) outs(%se : !s6) -> !s6
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !q6, !k6) outs(%sz : !s6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !s6
  %buf = arith.constant dense<[[[[0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000], [0.0, 0xFF800000, 0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]]]> : tensor<1x1x6x8xf32>
  %ms = linalg.generic {indexing_maps = [#id, affine_map<(b, h, i, j) -> (0, 0, i, j)>, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %buf : !s6, tensor<1x1x6x8xf32>) outs(%se : !s6) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
    linalg.yield %y : f32
  } -> !s6
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !r6) -> !r6
  %mx = linalg.reduce ins(%ms : !s6) outs(%mi : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !r6) outs(%se : !s6) dimensions = [3]
  %d = linalg.sub ins(%ms, %mb : !s6, !s6) outs(%se : !s6) -> !s6
  %e = linalg.exp ins(%d : !s6) outs(%se : !s6) -> !s6
  %si = linalg.fill ins(%zero : f32) outs(%re : !r6) -> !r6
  %sum = linalg.reduce ins(%e : !s6) outs(%si : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !r6) outs(%se : !s6) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !s6, !s6) outs(%se : !s6) -> !s6
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !q6) -> !q6
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !s6, !k6) outs(%oz : !q6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !q6
  return %out : !q6
}

// Strictly lower triangular: the first query sees nothing.
// CHECK-LABEL: func.func @buffer_diagonal_masked(
// CHECK-NOT: attn.attention
// CHECK: arith.constant dense
// WHY: remark: attn-raise-attention: not raised: a causal mask whose first query sees no key
func.func @buffer_diagonal_masked(%q: !q6, %k: !k6, %v: !k6) -> !q6 {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !s6
  %re = tensor.empty() : !r6
  %oe = tensor.empty() : !q6
  %sz = linalg.fill ins(%zero : f32) outs(%se : !s6) -> !s6
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !q6, !k6) outs(%sz : !s6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !s6
  %buf = arith.constant dense<[[[[0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000]]]]> : tensor<1x1x6x8xf32>
  %ms = linalg.generic {indexing_maps = [#id, affine_map<(b, h, i, j) -> (0, 0, i, j)>, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %buf : !s6, tensor<1x1x6x8xf32>) outs(%se : !s6) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
    linalg.yield %y : f32
  } -> !s6
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !r6) -> !r6
  %mx = linalg.reduce ins(%ms : !s6) outs(%mi : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !r6) outs(%se : !s6) dimensions = [3]
  %d = linalg.sub ins(%ms, %mb : !s6, !s6) outs(%se : !s6) -> !s6
  %e = linalg.exp ins(%d : !s6) outs(%se : !s6) -> !s6
  %si = linalg.fill ins(%zero : f32) outs(%re : !r6) -> !r6
  %sum = linalg.reduce ins(%e : !s6) outs(%si : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !r6) outs(%se : !s6) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !s6, !s6) outs(%se : !s6) -> !s6
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !q6) -> !q6
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !s6, !k6) outs(%oz : !q6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !q6
  return %out : !q6
}

// Only keys at or after the query: causal with q_offset = Skv - 1 and a
// look-back window of the same width express exactly that.
// CHECK-LABEL: func.func @keys_after_query(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true, q_offset = 44, window_left = 44>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @keys_after_query(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %m = arith.cmpi ult, %j, %i : index
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// A causal sliding window: keys at most 4 before the query.
// CHECK-LABEL: func.func @sliding_window(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true, window_left = 4>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @sliding_window(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %m = arith.cmpi ugt, %j, %i : index
    %d = arith.subi %i, %j : index
    %c4 = arith.constant 4 : index
    %far = arith.cmpi sgt, %d, %c4 : index
    %mm = arith.ori %m, %far : i1
    %y = arith.select %mm, %ninf, %a : f32
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// A causal mask with every other key masked (dilation; remui is not evaluated): not raised.
// CHECK-LABEL: func.func @dilated(
// CHECK-NOT: attn.attention
// CHECK: linalg.generic
// WHY: remark: attn-raise-attention: not raised: a mask condition that cannot be evaluated
func.func @dilated(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss : !st) outs(%se : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %m = arith.cmpi ugt, %j, %i : index
    %d = arith.subi %i, %j : index
    %c2 = arith.constant 2 : index
    %odd = arith.remui %d, %c2 : index
    %c1 = arith.constant 1 : index
    %hole = arith.cmpi eq, %odd, %c1 : index
    %mm = arith.ori %m, %hole : i1
    %y = arith.select %mm, %ninf, %a : f32
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}

// A constant buffer holding a window of 3 keys behind an offset of 2.
// CHECK-LABEL: func.func @buffer_window(
// CHECK-NOT: linalg.
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", mask = #attn.mask<causal = true, q_offset = 2, window_left = 3>, scale = 1.000000e+00 : f32}
// CHECK-NOT: linalg.
// CHECK: return
func.func @buffer_window(%q: !q6, %k: !k6, %v: !k6) -> !q6 {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !s6
  %re = tensor.empty() : !r6
  %oe = tensor.empty() : !q6
  %sz = linalg.fill ins(%zero : f32) outs(%se : !s6) -> !s6
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : !q6, !k6) outs(%sz : !s6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !s6
  %buf = arith.constant dense<[[[[0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000], [0xFF800000, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000, 0xFF800000], [0xFF800000, 0xFF800000, 0.0, 0.0, 0.0, 0.0, 0xFF800000, 0xFF800000], [0xFF800000, 0xFF800000, 0xFF800000, 0.0, 0.0, 0.0, 0.0, 0xFF800000], [0xFF800000, 0xFF800000, 0xFF800000, 0xFF800000, 0.0, 0.0, 0.0, 0.0]]]]> : tensor<1x1x6x8xf32>
  %ms = linalg.generic {indexing_maps = [#id, affine_map<(b, h, i, j) -> (0, 0, i, j)>, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %buf : !s6, tensor<1x1x6x8xf32>) outs(%se : !s6) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
    linalg.yield %y : f32
  } -> !s6
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !r6) -> !r6
  %mx = linalg.reduce ins(%ms : !s6) outs(%mi : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !r6) outs(%se : !s6) dimensions = [3]
  %d = linalg.sub ins(%ms, %mb : !s6, !s6) outs(%se : !s6) -> !s6
  %e = linalg.exp ins(%d : !s6) outs(%se : !s6) -> !s6
  %si = linalg.fill ins(%zero : f32) outs(%re : !r6) -> !r6
  %sum = linalg.reduce ins(%e : !s6) outs(%si : !r6) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !r6) outs(%se : !s6) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !s6, !s6) outs(%se : !s6) -> !s6
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !q6) -> !q6
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !s6, !k6) outs(%oz : !q6) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !q6
  return %out : !q6
}

// An added triangle of -100: a bias, not a mask.
// CHECK-LABEL: func.func @soft_triangle(
// CHECK-NOT: attn.attention
// CHECK: linalg.generic
// WHY: remark: attn-raise-attention: not raised: an additive constant that is neither 0 nor a masking value (-inf, <= -1e9)
func.func @soft_triangle(%q: !qt, %k: !kt, %v: !kt) -> !qt {
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
  %te = tensor.empty() : tensor<37x45xf32>
  %tri = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      outs(%te : tensor<37x45xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %m = arith.cmpi ugt, %j, %i : index
    %big = arith.constant -1.000000e+02 : f32
    %y = arith.select %m, %big, %zero : f32
    linalg.yield %y : f32
  } -> tensor<37x45xf32>
  %ms = linalg.generic {indexing_maps = [#id, #ij, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ss, %tri : !st, tensor<37x45xf32>) outs(%se : !st) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
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
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  return %out : !qt
}
