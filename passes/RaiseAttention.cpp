//===- RaiseAttention.cpp - naive attention -> attn.attention -------------===//
//
// Starts from every contraction that could be P·V, finds the one Q·Kᵀ
// contraction its weights P come from, reads P as an expression over the
// score matrix (passes/raise/ElementExpr.cpp), and rewrites only when
// every piece has a meaning in attn.attention: a softmax over keys, a
// constant scale, causal (checked pair by pair), tensor masks and biases,
// and Q/K/V that are transposes, head splits or K/V head repetitions of
// rank-4 tensors. Anything else is left as it is.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/raise/Masks.h"
#include "passes/raise/Raise.h"

#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNRAISEATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::raise;

namespace {

/// Everything matched for one P·V contraction, before any IR changes.
struct Candidate {
  Matmul qk, pv;
  Operand q, k, v;
  Logits logits;
  MaskPlan masks;
  SmallVector<int64_t> scoresShape;
  std::string form; ///< softmax form, for the op's attn.raised attribute
  /// Owns the expressions `logits` and `masks` point into.
  std::unique_ptr<ExprBuilder> exprs;
};

/// The one contraction of the same shape as `p` that `p` is computed from
/// (without crossing another contraction).
Operation *findScores(Value p, std::string &why) {
  SmallVector<Value> work = {p};
  llvm::SmallPtrSet<Operation *, 32> seen;
  llvm::SetVector<Operation *> found;
  while (!work.empty() && seen.size() < 256) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (!def || !seen.insert(def).second)
      continue;
    std::string ignored;
    if (succeeded(matchMatmul(def, ignored))) {
      if (def->getResult(0).getType() == p.getType())
        found.insert(def);
      continue;
    }
    for (Value operand : def->getOperands())
      work.push_back(operand);
  }
  if (found.size() != 1) {
    why = found.empty() ? "its lhs is not computed from a Q·Kᵀ "
                          "contraction of the same shape"
                        : "the weights come from several contractions";
    return nullptr;
  }
  return found.front();
}

/// Logical [batch..., S, D] of a contraction operand as a dim permutation.
SmallVector<int64_t, 4> logicalPerm(unsigned rank, bool swapLast) {
  SmallVector<int64_t, 4> perm;
  for (unsigned d = 0; d < rank; ++d)
    perm.push_back(d);
  if (swapLast)
    std::swap(perm[rank - 2], perm[rank - 1]);
  return perm;
}

LogicalResult checkShapes(const Candidate &c, std::string &why) {
  const Operand &q = c.q, &k = c.k, &v = c.v;
  if (q.group != 1)
    return why = "the queries are a repetition of fewer heads", failure();
  if (q.is4d() != k.is4d() || q.is4d() != v.is4d())
    return why = "Q, K and V do not all carry heads", failure();
  if (k.group != v.group || k.size(0) != v.size(0) ||
      (k.is4d() && k.size(1) != v.size(1)))
    return why = "K and V are repeated or shaped differently", failure();
  unsigned s = q.is4d() ? 2 : 1;
  if (k.size(s) != v.size(s) || q.size(s + 1) != k.size(s + 1) ||
      q.size(0) != k.size(0) || q.size(0) != v.size(0))
    return why = "Q, K and V sizes do not form attention", failure();
  if (q.is4d() &&
      (k.size(1) * k.group != q.size(1) || v.size(1) * v.group != q.size(1)))
    return why = "query heads are not K/V heads times the repetition",
           failure();
  if (k.scale != 1.0 || v.scale != 1.0)
    return why = "internal: scale on K or V", failure();
  Type elt = getElementTypeOrSelf(q.src.getType());
  if (getElementTypeOrSelf(k.src.getType()) != elt ||
      getElementTypeOrSelf(v.src.getType()) != elt)
    return why = "Q, K and V element types differ", failure();
  return success();
}

/// Matches `op` as the P·V contraction of attention.
FailureOr<Candidate> matchCandidate(Operation *op, std::string &why) {
  Candidate c;
  FailureOr<Matmul> pv = matchMatmul(op, why);
  if (failed(pv))
    return failure();
  c.pv = *pv;
  if (pv->lhsTransposed)
    return why = "the weights enter P·V transposed", failure();
  Operation *qkOp = findScores(pv->lhs, why);
  if (!qkOp)
    return failure();
  c.qk = *matchMatmul(qkOp, why);
  if (c.qk.batch != c.pv.batch)
    return why = "the two contractions have different batch dims", failure();
  Value scores = qkOp->getResult(0);
  auto scoresType = cast<RankedTensorType>(scores.getType());
  c.scoresShape = llvm::to_vector(scoresType.getShape());
  unsigned rank = scoresType.getRank();
  if (!scoresType.hasStaticShape())
    return why = "dynamic shapes", failure();

  c.exprs = std::make_unique<ExprBuilder>(scores, rank);
  ExprBuilder &eb = *c.exprs;
  Expr *logits;
  if (auto softmax = pv->lhs.getDefiningOp<linalg::SoftmaxOp>()) {
    if (softmax.getDimension() != rank - 1)
      return why = "linalg.softmax over a dim other than the keys", failure();
    logits = eb.build(softmax.getInput());
    c.form = "linalg.softmax";
  } else {
    Expr *p = eb.build(pv->lhs);
    if (!p)
      return why = eb.why, failure();
    bool stable;
    logits = matchSoftmax(p, stable, why);
    if (!logits)
      return failure();
    c.form = stable ? "max/exp/sum" : "exp/sum";
  }
  if (!logits)
    return why = eb.why, failure();
  Type elt = scoresType.getElementType();
  if (failed(matchLogits(logits, elt, c.logits, why)) ||
      failed(classifyMasks(c.logits, c.scoresShape, elt, c.masks, why)))
    return failure();

  FailureOr<Operand> q = resolveOperand(
      c.qk.lhs, logicalPerm(rank, c.qk.lhsTransposed), true, why);
  if (failed(q))
    return failure();
  FailureOr<Operand> k = resolveOperand(
      c.qk.rhs, logicalPerm(rank, !c.qk.rhsTransposed), false, why);
  if (failed(k))
    return failure();
  FailureOr<Operand> v = resolveOperand(
      c.pv.rhs, logicalPerm(rank, c.pv.rhsTransposed), false, why);
  if (failed(v))
    return failure();
  c.q = *q;
  c.k = *k;
  c.v = *v;
  if (failed(checkShapes(c, why)))
    return failure();
  return c;
}

/// The user chain of a head merge that `out` in BSHD already is: a
/// transpose [0, 2, 1, 3] of the result, after an expand of [B*H] into
/// [B, H] for rank-3 results.
static SmallVector<Operation *> headMergeUsers(Value result) {
  SmallVector<Operation *> chain;
  if (!result.hasOneUse())
    return {};
  Operation *user = *result.getUsers().begin();
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(user)) {
    if (expand.getResultType().getRank() != 4 ||
        expand.getReassociationIndices()[0].size() != 2 || !expand->hasOneUse())
      return {};
    chain.push_back(expand);
    user = *expand->getUsers().begin();
  } else if (cast<RankedTensorType>(result.getType()).getRank() != 4) {
    return {};
  }
  auto tr = dyn_cast<linalg::TransposeOp>(user);
  if (!tr || tr.getPermutation() != ArrayRef<int64_t>{0, 2, 1, 3})
    return {};
  chain.push_back(tr);
  return chain;
}

/// Replaces the P·V result by `out` ([B, Hq, Sq, Dv] or, `bshd`,
/// [B, Sq, Hq, Dv]), absorbing the users' head merge transpose when there
/// is one.
void replaceOutput(OpBuilder &b, Location loc, const Candidate &c, Value out,
                   bool bshd) {
  Value result = c.pv.op->getResult(0);
  auto type = cast<RankedTensorType>(result.getType());
  auto outType = cast<RankedTensorType>(out.getType());
  if (bshd) {
    SmallVector<Operation *> merge = headMergeUsers(result);
    if (!merge.empty()) {
      merge.back()->getResult(0).replaceAllUsesWith(out);
      for (Operation *op : llvm::reverse(merge)) {
        SmallVector<Value> operands(op->getOperands());
        op->erase();
        for (Value v : operands)
          if (Operation *def = v.getDefiningOp();
              def && def != c.pv.op && !llvm::is_contained(merge, def) &&
              isOpTriviallyDead(def))
            def->erase();
      }
      return;
    }
    SmallVector<int64_t> shape = {outType.getDimSize(0), outType.getDimSize(2),
                                  outType.getDimSize(1), outType.getDimSize(3)};
    Value init =
        tensor::EmptyOp::create(b, loc, shape, outType.getElementType());
    out = linalg::TransposeOp::create(b, loc, out, init,
                                      ArrayRef<int64_t>{0, 2, 1, 3})
              ->getResult(0);
  }
  if (type.getRank() == 3)
    out = tensor::CollapseShapeOp::create(
        b, loc, type, out, ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  result.replaceAllUsesWith(out);
}

/// Rewrites `c`; fails (leaving the IR as it was) when an operand cannot
/// be built or the op does not verify.
LogicalResult rewrite(Candidate &c, std::string &why) {
  Operation *anchor = c.pv.op;
  OpBuilder b(anchor);
  Location loc = anchor->getLoc();
  Block *block = anchor->getBlock();
  // Everything the rewrite adds sits right before the anchor.
  Operation *before = anchor->getPrevNode();
  auto undo = [&]() {
    SmallVector<Operation *> added;
    for (Operation *op = before ? before->getNextNode() : &block->front();
         op != anchor; op = op->getNextNode())
      added.push_back(op);
    for (Operation *op : llvm::reverse(added))
      op->erase();
    return failure();
  };
  auto is = [](const Operand &o, ArrayRef<int64_t> p) {
    return o.is4d() && ArrayRef<int64_t>(o.perm) == p;
  };
  bool bshd =
      is(c.q, {0, 2, 1, 3}) && is(c.k, {0, 2, 1, 3}) && is(c.v, {0, 2, 1, 3});
  int64_t heads = c.q.is4d() ? c.q.size(1) : 1;
  Value q = materialize(b, loc, c.q, bshd);
  Value k = materialize(b, loc, c.k, bshd);
  Value v = materialize(b, loc, c.v, bshd);
  Value boolMask, bias;
  if (c.masks.boolCond) {
    FailureOr<Value> m = boolMaskOperand(b, loc, c.masks, c.scoresShape, heads);
    if (failed(m))
      return why = "a tensor mask that cannot be reshaped to rank 4", undo();
    boolMask = *m;
  }
  if (c.masks.bias) {
    FailureOr<Value> m =
        maskOperand(b, loc, c.masks.bias, c.scoresShape, heads);
    if (failed(m))
      return why = "a bias that cannot be reshaped to rank 4", undo();
    bias = *m;
  }
  auto qType = cast<RankedTensorType>(q.getType());
  auto vType = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> outShape = llvm::to_vector(qType.getShape());
  outShape[3] = vType.getDimSize(3);
  auto outType = RankedTensorType::get(outShape, qType.getElementType());
  MLIRContext *ctx = b.getContext();
  double scale = c.logits.scale * c.q.scale;
  auto op = AttentionOp::create(
      b, loc, outType, Type(), q, k, v, boolMask, bias, Value(), Value(),
      Value(), /*sinks=*/Value(), /*dropout_state=*/Value(),
      /*kv_num_blocks=*/Value(), /*kv_indices=*/Value(),
      b.getF32FloatAttr(static_cast<float>(scale)), FloatAttr(),
      c.masks.mask.isTrivial() ? MaskAttr() : MaskAttr::get(ctx, c.masks.mask),
      bshd ? LayoutAttr::get(ctx, Layout::BSHD) : LayoutAttr(),
      /*dropout_p=*/FloatAttr(), /*block_size=*/DenseI64ArrayAttr());
  AttnDialect::RaisedAttrHelper(ctx).setAttr(op, b.getStringAttr(c.form));
  if (failed(mlir::verify(op, /*verifyRecursively=*/false)))
    return why = "the raised op does not verify", undo();
  replaceOutput(b, loc, c, op.getOutput(), bshd);
  return success();
}

/// Erases the ops of `naive` that the raised op leaves dead (all of the
/// naive computation, unless something else, such as returned weights,
/// still uses part of it). Nothing outside the matched slice is touched.
void eraseDead(llvm::SetVector<Operation *> &naive) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<Operation *> ops = naive.takeVector();
    for (Operation *op : llvm::reverse(ops)) {
      if (isOpTriviallyDead(op)) {
        op->erase();
        changed = true;
      } else {
        naive.insert(op);
      }
    }
  }
}

struct RaiseAttention
    : public attn::impl::AttnRaiseAttentionBase<RaiseAttention> {
  using AttnRaiseAttentionBase::AttnRaiseAttentionBase;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<Operation *> contractions;
    func.walk([&](linalg::LinalgOp op) {
      if (linalg::isaContractionOpInterface(op))
        contractions.push_back(op);
    });
    llvm::SetVector<Operation *> naive;
    llvm::SmallPtrSet<Operation *, 4> raisedScores;
    SmallVector<std::pair<Operation *, std::string>> misses;
    for (Operation *op : contractions) {
      std::string why;
      FailureOr<Candidate> c = matchCandidate(op, why);
      if (succeeded(c)) {
        llvm::SetVector<Operation *> slice;
        BackwardSliceOptions options;
        options.omitBlockArguments = true;
        options.omitUsesFromAbove = false;
        (void)getBackwardSlice(op, &slice, options);
        if (succeeded(rewrite(*c, why))) {
          // Only ops of the anchor's block: erasing one erases its body.
          for (Operation *s : slice)
            if (s->getBlock() == op->getBlock())
              naive.insert(s);
          naive.insert(op);
          raisedScores.insert(c->qk.op);
          continue;
        }
      }
      misses.push_back({op, why});
    }
    // The Q·Kᵀ halves of raised attention are not misses.
    if (report)
      for (auto &[op, why] : misses)
        if (!raisedScores.contains(op))
          op->emitRemark() << "attn-raise-attention: not raised: " << why;
    eraseDead(naive);
  }
};

} // namespace
