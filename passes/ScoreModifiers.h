//===- ScoreModifiers.h - per-score bias, score_mod and custom masks -*- C++
//-*-===//
//
// The forward (attn-tile-flash) and the backward (FlashBackward.cpp) apply
// the same per-score steps to their key-major score tiles, one scalar at a
// time: the bias and score_mod on the scaled logit, then bool_mask,
// segment ids and mask_mod. Both build them here.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_SCOREMODIFIERS_H
#define ATTN_PASSES_SCOREMODIFIERS_H

#include "passes/IndexMath.h"

namespace mlir::attn {

/// The operands of one attention that act per score, as buffers (each may
/// be null), and its regions (null when empty).
struct ScoreModifiers {
  Value bias, boolMask, qSeg, kvSeg;
  Region *scoreMod = nullptr, *maskMod = nullptr;
  /// d score_mod / d score (the backward's; attn-differentiate-score-mod).
  Region *scoreModGrad = nullptr;

  bool modifiesScores() const { return bias || scoreMod; }
  bool masks() const { return boolMask || qSeg || maskMod; }
};

/// Clones a modifier region's block at the builder, returning the yielded
/// value with the block arguments bound to `args`.
Value inlineModRegion(ImplicitLocOpBuilder &b, Region &region, ValueRange args);

/// `s` plus the bias at (b0, h, qi, kj), through score_mod. With `slope`,
/// also sets it to d(result)/d(s): score_mod_grad's value, 1 without a
/// score_mod.
Value modifyScore(ImplicitLocOpBuilder &b, IndexMath &im,
                  const ScoreModifiers &m, Value s, Value b0, Value h, Value qi,
                  Value kj, Value *slope = nullptr);

/// The i1 "the custom masks allow (b0, h, qi, kj)": bool_mask, equal
/// segment ids and mask_mod, combined by AND.
Value customMasksAllow(ImplicitLocOpBuilder &b, IndexMath &im,
                       const ScoreModifiers &m, Value b0, Value h, Value qi,
                       Value kj);

} // namespace mlir::attn

#endif
