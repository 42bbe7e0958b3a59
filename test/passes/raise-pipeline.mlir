// RUN: attn-opt %s --attn-to-cpu="vector-width=8" | FileCheck %s

// attn-to-cpu starts with attn-raise-attention: naive GQA attention in
// linalg (K/V repeated by broadcast + merge, causal by iota/select, stable
// softmax as named ops) reaches the LLVM dialect as the flash kernel, with
// no linalg and no attn op left.
// CHECK-NOT: linalg.
// CHECK-NOT: attn.
// CHECK: llvm.func @gqa_broadcast(
// CHECK: llvm.intr.fmuladd{{.*}} : (vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-NOT: linalg.
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
