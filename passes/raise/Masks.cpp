//===- Masks.cpp - masks and biases of raised attention -------------------===//
//
// Static masks (indices, constant buffers) are evaluated at every (query,
// key) pair and raised only when they are a causal mask exactly; tensor
// masks and biases become attn.attention's bool_mask / bias operands,
// reshaped to rank 4 (broadcast dims of size 1).
//
//===----------------------------------------------------------------------===//
#include "passes/raise/Masks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

#include <cmath>
#include <vector>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::raise;

/// Pairs checked exhaustively at most (a 2048 x 2048 score matrix).
static constexpr int64_t kMaxCheckedPairs = int64_t(1) << 22;

/// Finds the causal mask (query offset, optional look-back window) that
/// masks exactly the pairs of `masked` ([sq, skv] row-major); fails when
/// none does. All-visible leaves `spec` trivial.
static LogicalResult fitCausalWindow(ArrayRef<char> masked, int64_t sq,
                                     int64_t skv, MaskSpec &spec,
                                     std::string &why) {
  if (llvm::none_of(masked, [](char m) { return m != 0; }))
    return success();
  // Row 0 sees keys [lo, off]; the first row whose window starts after
  // key 0 gives the window width. Then every pair is checked.
  int64_t off = -1, left = -1;
  while (off + 1 < skv && !masked[off + 1])
    ++off;
  if (off < 0) {
    why = "a causal mask whose first query sees no key";
    return failure();
  }
  for (int64_t i = 0; i < sq && left < 0; ++i)
    if (masked[i * skv])
      for (int64_t j = 0; j < skv; ++j)
        if (!masked[i * skv + j]) {
          left = i + off - j;
          break;
        }
  for (int64_t i = 0; i < sq; ++i)
    for (int64_t j = 0; j < skv; ++j) {
      bool want = j > i + off || (left >= 0 && i + off - j > left);
      if ((masked[i * skv + j] != 0) != want) {
        why = "a mask that is not causal (masked exactly where key > query "
              "+ offset, or outside a look-back window)";
        return failure();
      }
    }
  spec.causal = true;
  spec.qOffset = off;
  spec.windowLeft = left;
  return success();
}

LogicalResult mlir::attn::raise::classifyMasks(const Logits &logits,
                                               ArrayRef<int64_t> scoresShape,
                                               Type elt, MaskPlan &plan,
                                               std::string &why) {
  unsigned rank = scoresShape.size();
  SmallVector<std::pair<Expr *, bool>> statics;
  SmallVector<Expr *> staticAdds;
  for (auto [cond, maskedWhenTrue] : logits.selects) {
    if (isStaticPattern(cond, rank)) {
      statics.push_back({cond, maskedWhenTrue});
      continue;
    }
    if (plan.boolCond) {
      why = "more than one tensor mask";
      return failure();
    }
    plan.boolCond = cond;
    plan.maskedWhenTrue = maskedWhenTrue;
  }
  for (Expr *add : logits.additive) {
    if (isStaticPattern(add, rank)) {
      staticAdds.push_back(add);
    } else if (add->kind == Expr::Leaf && !plan.bias) {
      plan.bias = add;
    } else {
      why = "an additive term that is neither a mask pattern nor one bias "
            "tensor";
      return failure();
    }
  }
  if (statics.empty() && staticAdds.empty())
    return success();

  int64_t sq = scoresShape[rank - 2], skv = scoresShape[rank - 1];
  if (sq * skv > kMaxCheckedPairs) {
    why = "a mask pattern too large to check pair by pair";
    return failure();
  }
  std::vector<char> masked(sq * skv, 0);
  SmallVector<int64_t> point(rank, 0);
  for (int64_t i = 0; i < sq; ++i) {
    point[rank - 2] = i;
    for (int64_t j = 0; j < skv; ++j) {
      point[rank - 1] = j;
      char &m = masked[i * skv + j];
      for (auto [cond, maskedWhenTrue] : statics) {
        std::optional<double> c = evaluate(cond, point);
        if (!c || std::isnan(*c)) {
          why = "a mask condition that cannot be evaluated";
          return failure();
        }
        m |= (*c != 0) == maskedWhenTrue;
      }
      for (Expr *add : staticAdds) {
        std::optional<double> v = evaluate(add, point);
        if (!v || (*v != 0 && !isMaskingValue(*v, elt))) {
          why = "an additive constant that is neither 0 nor a masking value "
                "(-inf, <= -1e9)";
          return failure();
        }
        m |= *v != 0;
      }
    }
  }
  return fitCausalWindow(masked, sq, skv, plan.mask, why);
}

/// Reassociation grouping `wide`'s dims into `narrow`'s (no unit dims in
/// `narrow`; products must match group by group), for unit-dim inserts
/// and drops and splitting a flattened batch*heads dim.
static std::optional<SmallVector<ReassociationIndices>>
groupDims(ArrayRef<int64_t> wide, ArrayRef<int64_t> narrow) {
  SmallVector<ReassociationIndices> groups;
  size_t w = 0;
  for (int64_t size : narrow) {
    ReassociationIndices group;
    int64_t prod = 1;
    while (w < wide.size() && (group.empty() || prod < size)) {
      group.push_back(w);
      prod *= wide[w++];
    }
    if (prod != size)
      return std::nullopt;
    groups.push_back(group);
  }
  for (; w < wide.size(); ++w) {
    if (wide[w] != 1 || groups.empty())
      return std::nullopt;
    groups.back().push_back(w);
  }
  return groups;
}

FailureOr<Value> mlir::attn::raise::maskOperand(OpBuilder &b, Location loc,
                                                const Expr *leaf,
                                                ArrayRef<int64_t> scoresShape,
                                                int64_t heads) {
  auto type = dyn_cast<RankedTensorType>(leaf->tensor.getType());
  if (!type || !type.hasStaticShape())
    return failure();
  unsigned rank = scoresShape.size();
  SmallVector<int64_t> canonical(rank, 1);
  int64_t prev = -1;
  for (auto [r, e] : llvm::enumerate(leaf->access.getResults())) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      int64_t c = d.getPosition();
      if (c <= prev || type.getDimSize(r) != scoresShape[c])
        return failure();
      prev = c;
      canonical[c] = type.getDimSize(r);
    } else if (!isa<AffineConstantExpr>(e) || type.getDimSize(r) != 1) {
      return failure();
    }
  }
  // [N, Sq, Skv] with N = B * H: split N back into (B, H).
  SmallVector<int64_t> target = canonical;
  if (rank == 3) {
    if (canonical[0] == 1)
      target.insert(target.begin(), 1);
    else {
      target[0] = canonical[0] / heads;
      target.insert(target.begin() + 1, heads);
    }
  }
  SmallVector<int64_t> nonUnit;
  for (int64_t s : type.getShape())
    if (s != 1)
      nonUnit.push_back(s);
  if (nonUnit.empty())
    return failure();
  Value v = leaf->tensor;
  auto full = RankedTensorType::get(target, type.getElementType());
  if (full == type)
    return v;
  auto flat = RankedTensorType::get(nonUnit, type.getElementType());
  if (type != flat) {
    auto re = groupDims(type.getShape(), nonUnit);
    if (!re)
      return failure();
    v = tensor::CollapseShapeOp::create(b, loc, flat, v, *re);
  }
  if (full != flat) {
    auto re = groupDims(target, nonUnit);
    if (!re)
      return failure();
    v = tensor::ExpandShapeOp::create(b, loc, full, v, *re);
  }
  return v;
}

/// Re-emits `e` (ops of one leaf and constants) in a generic's body.
static Value emitScalar(OpBuilder &b, Location loc, const Expr *e,
                        Type expected, Value leafArg) {
  if (e->kind == Expr::Leaf)
    return leafArg;
  if (e->kind == Expr::Const) {
    if (isa<FloatType>(expected))
      return arith::ConstantOp::create(b, loc,
                                       b.getFloatAttr(expected, e->value));
    return arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(expected, static_cast<int64_t>(e->value)));
  }
  IRMapping mapping;
  for (auto [k, arg] : llvm::enumerate(e->args)) {
    Value operand = e->op->getOperand(k);
    mapping.map(operand, emitScalar(b, loc, arg, operand.getType(), leafArg));
  }
  return b.clone(*e->op, mapping)->getResult(0);
}

static bool onlyLeafAndConsts(const Expr *e) {
  if (e->kind == Expr::Index || e->kind == Expr::Scores ||
      e->kind == Expr::RowMax || e->kind == Expr::RowSum)
    return false;
  return llvm::all_of(e->args, onlyLeafAndConsts);
}

FailureOr<Value> mlir::attn::raise::boolMaskOperand(
    OpBuilder &b, Location loc, const MaskPlan &plan,
    ArrayRef<int64_t> scoresShape, int64_t heads) {
  SmallVector<const Expr *> leaves;
  collectLeaves(plan.boolCond, leaves);
  if (leaves.size() != 1 || !onlyLeafAndConsts(plan.boolCond))
    return failure();
  FailureOr<Value> leaf = maskOperand(b, loc, leaves[0], scoresShape, heads);
  if (failed(leaf))
    return failure();
  auto type = cast<RankedTensorType>(leaf->getType());
  if (plan.boolCond == leaves[0] && type.getElementType().isInteger(1) &&
      !plan.maskedWhenTrue)
    return *leaf;
  // keep = !cond (masked_fill(mask, -inf)) or cond, as an i1 tensor.
  auto boolType = RankedTensorType::get(type.getShape(), b.getI1Type());
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), b.getI1Type());
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iters(type.getRank(),
                                         utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, boolType, ValueRange{*leaf}, ValueRange{init},
      ArrayRef<AffineMap>{id, id}, iters,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value c = emitScalar(nb, nloc, plan.boolCond, nb.getI1Type(), args[0]);
        if (plan.maskedWhenTrue) {
          Value t = arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(true));
          c = arith::XOrIOp::create(nb, nloc, c, t);
        }
        linalg::YieldOp::create(nb, nloc, c);
      });
  return generic->getResult(0);
}
