//===- AttnCanonicalize.cpp - canonical forms of attn.attention -----------===//
//
// Canonical attention carries no constraint that cannot bite: a window wider
// than every query-key distance is no window, a causal mask already implies
// `window_right = 0`, an all-true boolean mask and an all-zero bias are no
// operands at all. Later passes then only see masks that matter.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Removes window bounds no query/key pair can exceed and folds redundant
/// forms. Returns the simplified mask, or null when nothing is left.
MaskAttr simplifyMask(MaskAttr mask, int64_t sq, int64_t skv) {
  bool causal = mask.getCausal();
  int64_t offset = mask.getQOffset();
  int64_t left = mask.getWindowLeft(), right = mask.getWindowRight();
  int64_t dilation = mask.getDilation(), global = mask.getGlobalTokens();

  // Largest i - j and j - i over all pairs, when the lengths are known.
  // (The verifier bounds sq, skv and offset by 2^31 - 1: no overflow.)
  bool known = !ShapedType::isDynamic(sq) && !ShapedType::isDynamic(skv);
  int64_t maxBack = known ? sq - 1 + offset : 0;
  int64_t maxAhead = known ? skv - 1 - offset : 0;
  if (known && left >= 0 && left >= maxBack)
    left = -1;
  if (known && right >= 0 && right >= maxAhead)
    right = -1;
  if (causal && right == 0)
    right = -1;
  // Without global tokens a zero look-ahead window is exactly causal.
  if (!causal && right == 0 && global == 0) {
    causal = true;
    right = -1;
  }
  MaskAttr simplified = MaskAttr::get(mask.getContext(), causal, offset, left,
                                      right, dilation, global);
  // q_offset and global tokens only matter through the other constraints.
  return simplified.isTrivial() ? nullptr : simplified;
}

bool isConstantSplat(Value v, function_ref<bool(Attribute)> pred) {
  Attribute attr;
  if (!v || !matchPattern(v, m_Constant(&attr)))
    return false;
  auto dense = dyn_cast<SplatElementsAttr>(attr);
  return dense && pred(dense.getSplatValue<Attribute>());
}

} // namespace

LogicalResult AttentionOp::canonicalize(AttentionOp op,
                                        PatternRewriter &rewriter) {
  bool changed = false;
  if (auto mask = op.getMaskAttr()) {
    auto q = op.getLogicalShape(op.getQuery());
    auto k = op.getLogicalShape(op.getKey());
    MaskAttr simplified = simplifyMask(mask, q[2], k[2]);
    if (simplified != mask) {
      rewriter.modifyOpInPlace(op, [&] {
        if (simplified)
          op.setMaskAttr(simplified);
        else
          op.removeMaskAttr();
      });
      changed = true;
    }
  }
  auto isTrue = [](Attribute a) {
    auto b = dyn_cast<BoolAttr>(a);
    if (b)
      return b.getValue();
    auto i = dyn_cast<IntegerAttr>(a);
    return i && i.getValue().isAllOnes();
  };
  if (isConstantSplat(op.getBoolMask(), isTrue)) {
    rewriter.modifyOpInPlace(op, [&] { op.getBoolMaskMutable().clear(); });
    changed = true;
  }
  auto isZero = [](Attribute a) {
    auto f = dyn_cast<FloatAttr>(a);
    return f && f.getValue().isZero();
  };
  if (isConstantSplat(op.getBias(), isZero)) {
    rewriter.modifyOpInPlace(op, [&] { op.getBiasMutable().clear(); });
    changed = true;
  }
  return success(changed);
}
