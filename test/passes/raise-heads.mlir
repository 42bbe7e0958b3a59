// RUN: attn-opt %s --attn-raise-attention | FileCheck %s
// RUN: attn-opt %s --attn-raise-attention=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHY

// Head split/merge around attention: [B, S, E] -> view [B, S, H, D] ->
// transpose [B, H, S, D] (seeds 003/004) is absorbed as layout bshd, and
// the merge back (transpose + view) folds into the op's result. Seed 002's
// rank-3 bmm attention (no heads) gets a unit head dim.
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
!x = tensor<2x37x160xf32>
!xk = tensor<2x45x160xf32>
!q4 = tensor<2x37x4x40xf32>
!k4 = tensor<2x45x4x40xf32>

// CHECK-LABEL: func.func @mha_bshd(
// CHECK-SAME: %[[XQ:[^:]*]]: tensor<2x37x160xf32>, %[[XK:[^:]*]]: tensor<2x45x160xf32>, %[[XV:[^:]*]]: tensor<2x45x160xf32>)
// CHECK-DAG: %[[Q:.*]] = tensor.expand_shape %[[XQ]] {{\[}}[0], [1], [2, 3]] output_shape [2, 37, 4, 40]
// CHECK-DAG: %[[K:.*]] = tensor.expand_shape %[[XK]] {{\[}}[0], [1], [2, 3]] output_shape [2, 45, 4, 40]
// CHECK-DAG: %[[V:.*]] = tensor.expand_shape %[[XV]] {{\[}}[0], [1], [2, 3]] output_shape [2, 45, 4, 40]
// CHECK-NOT: linalg.
// CHECK: %[[O:.*]] = attn.attention %[[Q]], %[[K]], %[[V]] {attn.raised = "linalg.softmax", layout = #attn.layout<bshd>, mask = #attn.mask<causal = true>, scale = 0.158113882 : f32}
// CHECK-SAME: -> tensor<2x37x4x40xf32>
// CHECK-NOT: linalg.
// CHECK: %[[M:.*]] = tensor.collapse_shape %[[O]] {{\[}}[0], [1], [2, 3]] : tensor<2x37x4x40xf32> into tensor<2x37x160xf32>
// CHECK: return %[[M]]
func.func @mha_bshd(%xq: !x, %xk: !xk, %xv: !xk) -> !x {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %qx = tensor.expand_shape %xq [[0], [1], [2, 3]] output_shape [2, 37, 4, 40] : !x into !q4
  %qe = tensor.empty() : tensor<2x4x37x40xf32>
  %q = linalg.transpose ins(%qx : !q4) outs(%qe : tensor<2x4x37x40xf32>) permutation = [0, 2, 1, 3]
  %kx = tensor.expand_shape %xk [[0], [1], [2, 3]] output_shape [2, 45, 4, 40] : !xk into !k4
  %ke = tensor.empty() : tensor<2x4x45x40xf32>
  %k = linalg.transpose ins(%kx : !k4) outs(%ke : tensor<2x4x45x40xf32>) permutation = [0, 2, 1, 3]
  %vx = tensor.expand_shape %xv [[0], [1], [2, 3]] output_shape [2, 45, 4, 40] : !xk into !k4
  %ve = tensor.empty() : tensor<2x4x45x40xf32>
  %v = linalg.transpose ins(%vx : !k4) outs(%ve : tensor<2x4x45x40xf32>) permutation = [0, 2, 1, 3]
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
  %pr = linalg.softmax dimension(3) ins(%ms : !st) outs(%se : !st) -> !st
  %oz = linalg.fill ins(%zero : f32) outs(%oe : !qt) -> !qt
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !st, !kt) outs(%oz : !qt) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> !qt
  %me = tensor.empty() : !q4
  %mt = linalg.transpose ins(%out : !qt) outs(%me : !q4) permutation = [0, 2, 1, 3]
  %m = tensor.collapse_shape %mt [[0], [1], [2, 3]] : !q4 into !x
  return %m : !x
}

// The same through [B*H, S, D] and linalg.batch_matmul (Kᵀ by indexing
// maps); the result is expanded, transposed and merged by the caller.
// CHECK-LABEL: func.func @mha_batch_matmul(
// CHECK-NOT: linalg.
// CHECK: %[[O:.*]] = attn.attention %{{.*}}, %{{.*}}, %{{.*}} {attn.raised = "max/exp/sum", layout = #attn.layout<bshd>, scale = 0.158113882 : f32}
// CHECK-NOT: linalg.
// CHECK: %[[M:.*]] = tensor.collapse_shape %[[O]] {{\[}}[0], [1], [2, 3]] : tensor<2x37x4x40xf32> into tensor<2x37x160xf32>
// CHECK: return %[[M]]
func.func @mha_batch_matmul(%xq: !x, %xk: !xk, %xv: !xk) -> !x {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.158113883 : f32
  %qx = tensor.expand_shape %xq [[0], [1], [2, 3]] output_shape [2, 37, 4, 40] : !x into !q4
  %qe = tensor.empty() : tensor<2x4x37x40xf32>
  %q = linalg.transpose ins(%qx : !q4) outs(%qe : tensor<2x4x37x40xf32>) permutation = [0, 2, 1, 3]
  %kx = tensor.expand_shape %xk [[0], [1], [2, 3]] output_shape [2, 45, 4, 40] : !xk into !k4
  %ke = tensor.empty() : tensor<2x4x45x40xf32>
  %k = linalg.transpose ins(%kx : !k4) outs(%ke : tensor<2x4x45x40xf32>) permutation = [0, 2, 1, 3]
  %vx = tensor.expand_shape %xv [[0], [1], [2, 3]] output_shape [2, 45, 4, 40] : !xk into !k4
  %ve = tensor.empty() : tensor<2x4x45x40xf32>
  %v = linalg.transpose ins(%vx : !k4) outs(%ve : tensor<2x4x45x40xf32>) permutation = [0, 2, 1, 3]
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : !qt into tensor<8x37x40xf32>
  %k3 = tensor.collapse_shape %k [[0, 1], [2], [3]] : !kt into tensor<8x45x40xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : !kt into tensor<8x45x40xf32>
  %se = tensor.empty() : tensor<8x37x45xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%se : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %s = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q3, %k3 : tensor<8x37x40xf32>, tensor<8x45x40xf32>) outs(%sz : tensor<8x37x45xf32>) -> tensor<8x37x45xf32>
  %ss = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%s : tensor<8x37x45xf32>) outs(%se : tensor<8x37x45xf32>) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.mulf %a, %c : f32
    linalg.yield %y : f32
  } -> tensor<8x37x45xf32>
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
  %o3 = linalg.batch_matmul ins(%pr, %v3 : tensor<8x37x45xf32>, tensor<8x45x40xf32>) outs(%oz : tensor<8x37x40xf32>) -> tensor<8x37x40xf32>
  %out = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [2, 4, 37, 40] : tensor<8x37x40xf32> into !qt
  %me = tensor.empty() : !q4
  %mt = linalg.transpose ins(%out : !qt) outs(%me : !q4) permutation = [0, 2, 1, 3]
  %m = tensor.collapse_shape %mt [[0], [1], [2, 3]] : !q4 into !x
  return %m : !x
}

// Seed 002's ScaledDotProductAttention: bmm on [B, S, D], masked_fill(mask,
// -inf), and the weights are returned too: the softmax stays for them.
// CHECK-LABEL: func.func @seed002_returns_weights(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<2x37x40xf32>, %[[K:[^:]*]]: tensor<2x45x40xf32>, %[[V:[^:]*]]: tensor<2x45x40xf32>, %[[M:[^:]*]]: tensor<2x37x45xi1>)
// CHECK: %[[W:.*]] = linalg.softmax dimension(2)
// CHECK-DAG: %[[EQ:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0, 1], [2], [3]] output_shape [2, 1, 37, 40]
// CHECK-DAG: %[[EK:.*]] = tensor.expand_shape %[[K]] {{\[}}[0, 1], [2], [3]] output_shape [2, 1, 45, 40]
// CHECK-DAG: %[[EV:.*]] = tensor.expand_shape %[[V]] {{\[}}[0, 1], [2], [3]] output_shape [2, 1, 45, 40]
// CHECK: %[[O:.*]] = attn.attention %[[EQ]], %[[EK]], %[[EV]] bool_mask(%{{.*}} : tensor<2x1x37x45xi1>) {attn.raised = "linalg.softmax", scale = 0.158113882 : f32}
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[O]] {{\[}}[0, 1], [2], [3]] : tensor<2x1x37x40xf32> into tensor<2x37x40xf32>
// CHECK: return %[[C]], %[[W]]
func.func @seed002_returns_weights(%q: tensor<2x37x40xf32>, %k: tensor<2x45x40xf32>, %v: tensor<2x45x40xf32>, %mask: tensor<2x37x45xi1>)
    -> (tensor<2x37x40xf32>, tensor<2x37x45xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 6.32455532 : f32
  %kte = tensor.empty() : tensor<2x40x45xf32>
  %kt = linalg.transpose ins(%k : tensor<2x45x40xf32>) outs(%kte : tensor<2x40x45xf32>) permutation = [0, 2, 1]
  %se = tensor.empty() : tensor<2x37x45xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%se : tensor<2x37x45xf32>) -> tensor<2x37x45xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<2x37x40xf32>, tensor<2x40x45xf32>) outs(%sz : tensor<2x37x45xf32>) -> tensor<2x37x45xf32>
  %ms = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%s, %mask : tensor<2x37x45xf32>, tensor<2x37x45xi1>) outs(%se : tensor<2x37x45xf32>) {
  ^bb0(%a: f32, %m: i1, %o: f32):
    %d = arith.divf %a, %c : f32
    %y = arith.select %m, %ninf, %d : f32
    linalg.yield %y : f32
  } -> tensor<2x37x45xf32>
  %w = linalg.softmax dimension(2) ins(%ms : tensor<2x37x45xf32>) outs(%se : tensor<2x37x45xf32>) -> tensor<2x37x45xf32>
  %oe = tensor.empty() : tensor<2x37x40xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%oe : tensor<2x37x40xf32>) -> tensor<2x37x40xf32>
  %o = linalg.batch_matmul ins(%w, %v : tensor<2x37x45xf32>, tensor<2x45x40xf32>) outs(%oz : tensor<2x37x40xf32>) -> tensor<2x37x40xf32>
  return %o, %w : tensor<2x37x40xf32>, tensor<2x37x45xf32>
}

// Q split as view(B, S, D, H) (heads interleaved) while K/V use (B, S, H, D):
// still attention, but no single layout holds all three: Q is transposed
// to BHSD and K/V follow.
// CHECK-LABEL: func.func @mixed_layouts(
// CHECK-COUNT-3: linalg.transpose
// CHECK-NOT: linalg.generic
// CHECK: attn.attention
// CHECK-NOT: layout
func.func @mixed_layouts(%xq: !x, %xk: !xk, %xv: !xk) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %se = tensor.empty() : !st
  %re = tensor.empty() : !rt
  %oe = tensor.empty() : !qt
  %qx = tensor.expand_shape %xq [[0], [1], [2, 3]] output_shape [2, 37, 40, 4] : !x into tensor<2x37x40x4xf32>
  %qe = tensor.empty() : !qt
  %q = linalg.transpose ins(%qx : tensor<2x37x40x4xf32>) outs(%qe : !qt) permutation = [0, 3, 1, 2]
  %kx = tensor.expand_shape %xk [[0], [1], [2, 3]] output_shape [2, 45, 4, 40] : !xk into !k4
  %ke = tensor.empty() : tensor<2x4x45x40xf32>
  %k = linalg.transpose ins(%kx : !k4) outs(%ke : tensor<2x4x45x40xf32>) permutation = [0, 2, 1, 3]
  %vx = tensor.expand_shape %xv [[0], [1], [2, 3]] output_shape [2, 45, 4, 40] : !xk into !k4
  %ve = tensor.empty() : tensor<2x4x45x40xf32>
  %v = linalg.transpose ins(%vx : !k4) outs(%ve : tensor<2x4x45x40xf32>) permutation = [0, 2, 1, 3]
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

// P·V with the weights transposed (sums over queries): not attention.
// CHECK-LABEL: func.func @weights_transposed(
// CHECK-NOT: attn.attention
// CHECK: linalg.softmax
// WHY: remark: attn-raise-attention: not raised: the weights enter P·V transposed
func.func @weights_transposed(%q: !qt, %k: !kt, %v: !qt) -> tensor<2x4x45x40xf32> {
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
  %te = tensor.empty() : tensor<2x4x45x40xf32>
  %tz = linalg.fill ins(%zero : f32) outs(%te : tensor<2x4x45x40xf32>) -> tensor<2x4x45x40xf32>
  %out = linalg.generic {indexing_maps = [affine_map<(b, h, m, d, k) -> (b, h, k, m)>, affine_map<(b, h, m, d, k) -> (b, h, k, d)>, affine_map<(b, h, m, d, k) -> (b, h, m, d)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pr, %v : !st, !qt) outs(%tz : tensor<2x4x45x40xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x4x45x40xf32>
  return %out : tensor<2x4x45x40xf32>
}
