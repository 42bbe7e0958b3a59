//===- Masks.h - masks and biases of raised attention ----------*- C++ -*-===//
#ifndef ATTN_PASSES_RAISE_MASKS_H
#define ATTN_PASSES_RAISE_MASKS_H

#include "dialect/MaskSpec.h"
#include "passes/raise/Raise.h"

namespace mlir::attn::raise {

/// How the logits' masks and biases map onto attn.attention.
struct MaskPlan {
  MaskSpec mask;            ///< causal (with q_offset) or nothing
  Expr *boolCond = nullptr; ///< a select condition reading one tensor
  bool maskedWhenTrue = false;
  const Expr *bias = nullptr; ///< an added tensor leaf
};

/// Sorts the masks of `logits` into static patterns (checked at every
/// pair: causal exactly or failure), one tensor mask and one bias.
LogicalResult classifyMasks(const Logits &logits, ArrayRef<int64_t> scoresShape,
                            Type elt, MaskPlan &plan, std::string &why);

/// `leaf` reshaped to rank 4, broadcastable to [B, H, Sq, Skv]; `heads`
/// splits a flattened batch*heads dim (rank-3 scores).
FailureOr<Value> maskOperand(OpBuilder &b, Location loc, const Expr *leaf,
                             ArrayRef<int64_t> scoresShape, int64_t heads);

/// The i1 keep-mask of `plan.boolCond` (true where attending is allowed).
FailureOr<Value> boolMaskOperand(OpBuilder &b, Location loc,
                                 const MaskPlan &plan,
                                 ArrayRef<int64_t> scoresShape, int64_t heads);

} // namespace mlir::attn::raise

#endif
