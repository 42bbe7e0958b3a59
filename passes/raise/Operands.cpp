//===- Operands.cpp - the contractions and the Q/K/V operands -------------===//
//
// Q, K and V reach the two contractions through the head split
// (`[B, S, E] -> [B, S, H, D] -> [B, H, S, D]`), the flattening of batch
// and heads for a 3-D batch_matmul, and (K/V) head repetition for GQA.
// attn.attention's layouts absorb the transpose of the split (bshd) and
// the repetition (Hkv < Hq); only the repetition order that matches its
// head mapping (query head h reads K/V head h / (Hq / Hkv), i.e.
// repeat_interleave) is accepted.
//
//===----------------------------------------------------------------------===//
#include "passes/raise/Raise.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::attn::raise;

static bool isZero(Value v) {
  if (auto fill = v.getDefiningOp<linalg::FillOp>())
    return matchPattern(fill.value(), m_AnyZeroFloat());
  return matchPattern(v, m_AnyZeroFloat());
}

FailureOr<Matmul> mlir::attn::raise::matchMatmul(Operation *op,
                                                 std::string &why) {
  auto lop = dyn_cast<linalg::LinalgOp>(op);
  if (!lop || !linalg::isaContractionOpInterface(lop) ||
      lop.getNumDpsInputs() != 2 || lop.getNumDpsInits() != 1 ||
      !lop.hasPureTensorSemantics()) {
    why = "not a contraction on tensors";
    return failure();
  }
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(lop);
  if (failed(dims) || dims->m.size() != 1 || dims->n.size() != 1 ||
      dims->k.size() != 1) {
    why = "not a (batched) matmul: one m, n and k dim expected";
    return failure();
  }
  unsigned m = dims->m[0], n = dims->n[0], k = dims->k[0];
  AffineMap out = lop.getIndexingMapsArray()[2];
  unsigned batch = dims->batch.size();
  auto dimAt = [](AffineMap map, unsigned i) {
    auto d = dyn_cast<AffineDimExpr>(map.getResult(i));
    return d ? static_cast<int64_t>(d.getPosition()) : -1;
  };
  if (out.getNumResults() != batch + 2 || dimAt(out, batch) != m ||
      dimAt(out, batch + 1) != n) {
    why = "the matmul's result is not [batch..., m, n]";
    return failure();
  }
  Matmul mm{lop, lop.getDpsInputs()[0], lop.getDpsInputs()[1]};
  mm.batch = batch;
  auto orient = [&](AffineMap map, unsigned a, unsigned b,
                    bool &transposed) -> bool {
    if (map.getNumResults() != batch + 2)
      return false;
    for (unsigned i = 0; i < batch; ++i)
      if (dimAt(map, i) != dimAt(out, i))
        return false;
    if (dimAt(map, batch) == a && dimAt(map, batch + 1) == b)
      transposed = false;
    else if (dimAt(map, batch) == b && dimAt(map, batch + 1) == a)
      transposed = true;
    else
      return false;
    return true;
  };
  if (!orient(lop.getIndexingMapsArray()[0], m, k, mm.lhsTransposed) ||
      !orient(lop.getIndexingMapsArray()[1], k, n, mm.rhsTransposed)) {
    why = "the matmul's operands are not [batch..., m, k] / [batch..., k, n]";
    return failure();
  }
  if (!isZero(lop.getDpsInits()[0])) {
    why = "the matmul accumulates into a tensor that is not zero";
    return failure();
  }
  Type elt = getElementTypeOrSelf(op->getResult(0).getType());
  if (getElementTypeOrSelf(mm.lhs.getType()) != elt ||
      getElementTypeOrSelf(mm.rhs.getType()) != elt ||
      !isa<Float32Type, Float16Type, BFloat16Type>(elt)) {
    why = "mixed or unsupported element types (f32, f16, bf16 only)";
    return failure();
  }
  return mm;
}

/// Peels transposes (linalg.transpose and permuting copies); with
/// `scale`, also a multiplication or division by a constant.
static Value peel(Value v, SmallVector<int64_t, 4> &perm, double *scale) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto tr = dyn_cast<linalg::TransposeOp>(def)) {
      for (int64_t &p : perm)
        p = tr.getPermutation()[p];
      v = tr.getInput();
      continue;
    }
    auto lop = dyn_cast<linalg::LinalgOp>(def);
    if (!lop || lop.getNumDpsInputs() != 1 || lop.getNumDpsInits() != 1 ||
        lop.getNumReductionLoops() != 0 ||
        !lop.getIndexingMapsArray()[1].isIdentity())
      break;
    AffineMap in = lop.getIndexingMapsArray()[0];
    Block *body = lop.getBlock();
    Value yielded = body->getTerminator()->getOperand(0);
    if (in.isPermutation() && yielded == body->getArgument(0)) {
      SmallVector<int64_t, 4> next;
      for (int64_t p : perm)
        next.push_back(cast<AffineDimExpr>(in.getResult(p)).getPosition());
      perm = next;
      v = lop.getDpsInputs()[0];
      continue;
    }
    // Q * c or Q / c, c a constant (1/sqrt(d) folded into the queries).
    Operation *arith = yielded.getDefiningOp();
    if (!scale || !in.isIdentity() || !arith ||
        !isa<arith::MulFOp, arith::DivFOp>(arith) ||
        arith->getOperand(0) != body->getArgument(0))
      break;
    Value c = arith->getOperand(1);
    double value;
    FloatAttr attr;
    if (matchPattern(c, m_Constant(&attr)))
      value = attr.getValueAsDouble();
    else
      break;
    *scale *= isa<arith::MulFOp>(arith) ? value : 1.0 / value;
    v = lop.getDpsInputs()[0];
  }
  return v;
}

/// The reassociation group of `src`'s dims that forms dim `d` of `collapse`.
static ReassociationIndices groupOf(tensor::CollapseShapeOp collapse,
                                    int64_t d) {
  return collapse.getReassociationIndices()[d];
}

/// (B, Hkv, G, S, D) with G a broadcast dim right after Hkv: the source
/// K/V and its (B, Hkv, S, D) dims in `perm`, the group size in `group`.
static FailureOr<Value> lookThroughRepetition(Value v,
                                              SmallVector<int64_t, 4> &perm,
                                              int64_t &group,
                                              std::string &why) {
  v = peel(v, perm, nullptr);
  int64_t gDim = perm[2];
  auto type = cast<RankedTensorType>(v.getType());
  group = type.getDimSize(gDim);
  SmallVector<int64_t, 4> next;
  if (auto bcast = v.getDefiningOp<linalg::BroadcastOp>()) {
    if (bcast.getDimensions() != ArrayRef<int64_t>{gDim})
      return why = "K/V head repetition that broadcasts more than the group "
                   "dim",
             failure();
    for (unsigned l : {0u, 1u, 3u, 4u})
      next.push_back(perm[l] - (perm[l] > gDim));
    perm = next;
    return bcast.getInput();
  }
  auto lop = v.getDefiningOp<linalg::GenericOp>();
  if (!lop || lop.getNumDpsInputs() != 1 || lop.getNumReductionLoops() != 0 ||
      !lop.getIndexingMapsArray()[1].isIdentity() ||
      lop.getBlock()->getTerminator()->getOperand(0) !=
          lop.getBlock()->getArgument(0))
    return why = "merged K/V heads that are not a repetition of fewer heads "
                 "(broadcast right after the K/V head dim)",
           failure();
  // A broadcasting copy from [.., 1, ..] or from a tensor without G.
  AffineMap in = lop.getIndexingMapsArray()[0];
  Value src = lop.getInputs()[0];
  SmallVector<int64_t> srcDimOfLoop(5, -1);
  for (auto [i, e] : llvm::enumerate(in.getResults())) {
    if (auto d = dyn_cast<AffineDimExpr>(e))
      srcDimOfLoop[d.getPosition()] = i;
    else if (!isa<AffineConstantExpr>(e))
      return why = "K/V repetition through a non-broadcast map", failure();
  }
  if (srcDimOfLoop[gDim] != -1)
    return why = "K/V repetition that reads the group dim", failure();
  for (unsigned l : {0u, 1u, 3u, 4u}) {
    if (srcDimOfLoop[perm[l]] < 0)
      return why = "K/V repetition that broadcasts a head dim", failure();
    next.push_back(srcDimOfLoop[perm[l]]);
  }
  v = src;
  // [B, Hkv, 1, S, D] from an expand_shape of the rank-4 K/V.
  if (cast<RankedTensorType>(v.getType()).getRank() == 5) {
    auto expand = v.getDefiningOp<tensor::ExpandShapeOp>();
    if (!expand || expand.getSrcType().getRank() != 4)
      return why = "repeated K/V that is not a reshaped rank-4 tensor",
             failure();
    SmallVector<int64_t> srcOf(5, -1);
    for (auto [k, group] : llvm::enumerate(expand.getReassociationIndices()))
      for (int64_t d : group)
        if (expand.getResultType().getDimSize(d) != 1 || group.size() == 1)
          srcOf[d] = k;
    for (int64_t &p : next) {
      if (srcOf[p] < 0)
        return why = "unsupported reshape before the K/V repetition", failure();
      p = srcOf[p];
    }
    v = expand.getSrc();
  }
  perm = next;
  return v;
}

FailureOr<Operand>
mlir::attn::raise::resolveOperand(Value v, SmallVector<int64_t, 4> perm,
                                  bool allowScale, std::string &why) {
  Operand r;
  double scale = 1.0;
  v = peel(v, perm, allowScale ? &scale : nullptr);
  // Heads flattened into the batch ([B*H, S, D]) or K/V heads repeated
  // and merged ([B, Hkv*G, S, D]): expand the logical dims again.
  unsigned headDim = perm.size() == 3 ? 0 : 1;
  if (auto collapse = v.getDefiningOp<tensor::CollapseShapeOp>()) {
    ReassociationIndices g = groupOf(collapse, perm[headDim]);
    bool others =
        llvm::all_of(llvm::seq<size_t>(0, perm.size()), [&](size_t l) {
          return l == headDim || groupOf(collapse, perm[l]).size() == 1;
        });
    unsigned maxGroup = perm.size() == 3 ? 3 : 2;
    if (others && g.size() >= 2 && g.size() <= maxGroup) {
      SmallVector<int64_t, 4> next;
      for (size_t l = 0; l < perm.size(); ++l) {
        if (l == headDim)
          next.append(g.begin(), g.end());
        else
          next.push_back(groupOf(collapse, perm[l])[0]);
      }
      // A group with one dim of size > 1 merges nothing: a reshape that
      // drops unit dims (a batch of 1 squeezed next to the heads, as
      // [1, 1, H, S, D] -> [1, H, S, D]). When it is not a repetition of
      // K/V heads either, the collapsed tensor is the operand as it is.
      ArrayRef<int64_t> srcShape = collapse.getSrcType().getShape();
      bool unitMerge =
          llvm::count_if(g, [&](int64_t d) { return srcShape[d] != 1; }) <= 1;
      if (next.size() != 5) {
        perm = next;
        v = collapse.getSrc();
      } else {
        std::string repWhy;
        SmallVector<int64_t, 4> repPerm = next;
        FailureOr<Value> src =
            lookThroughRepetition(collapse.getSrc(), repPerm, r.group, repWhy);
        if (succeeded(src)) {
          v = *src;
          perm = repPerm;
        } else if (!unitMerge) {
          why = repWhy;
          return failure();
        } else {
          r.group = 1;
        }
      }
    }
  }
  v = peel(v, perm, allowScale ? &scale : nullptr);
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() != static_cast<int64_t>(perm.size()) ||
      !type.hasStaticShape()) {
    why = "an operand that is not a static rank-3/4 tensor";
    return failure();
  }
  r.src = v;
  r.perm = perm;
  r.scale = scale;
  return r;
}

Value mlir::attn::raise::materialize(OpBuilder &b, Location loc,
                                     const Operand &operand, bool bshd) {
  Value v = operand.src;
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t, 4> want = operand.perm;
  if (!operand.is4d()) {
    // (N, S, D) -> [N, 1, S, D] (or [N, S, 1, D]).
    if (want != SmallVector<int64_t, 4>{0, 1, 2}) {
      SmallVector<int64_t> shape;
      for (int64_t p : want)
        shape.push_back(type.getDimSize(p));
      Value init =
          tensor::EmptyOp::create(b, loc, shape, type.getElementType());
      v = linalg::TransposeOp::create(b, loc, v, init, want)->getResult(0);
      type = cast<RankedTensorType>(v.getType());
    }
    SmallVector<int64_t> shape = {type.getDimSize(0), 1, type.getDimSize(1),
                                  type.getDimSize(2)};
    if (bshd)
      std::swap(shape[1], shape[2]);
    SmallVector<ReassociationIndices> re =
        bshd ? SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}}
             : SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}};
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), v, re);
  }
  if (bshd)
    want = {want[0], want[2], want[1], want[3]};
  if (want == SmallVector<int64_t, 4>{0, 1, 2, 3})
    return v;
  SmallVector<int64_t> shape;
  for (int64_t p : want)
    shape.push_back(type.getDimSize(p));
  Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(b, loc, v, init, want)->getResult(0);
}
