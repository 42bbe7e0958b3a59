//===- ScoreModDerivative.h - d score_mod / d score, at compile time -*- C++
//-*-===//
//
// The backward multiplies dS by the derivative of the score modifier with
// respect to the score. FlexAttention gets it from PyTorch autograd; here
// it is built from the region itself: forward mode on the one score
// argument, index arguments and captured values being constants.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_SCOREMODDERIVATIVE_H
#define ATTN_PASSES_SCOREMODDERIVATIVE_H

#include "mlir/IR/Region.h"
#include "mlir/Support/LLVM.h"

namespace mlir::attn {

/// Fills the empty region `into` with one block of the arguments of
/// `scoreMod` (`(score, b, h, q_idx, kv_idx)`) that yields
/// `d score_mod / d score` at those arguments, ending in attn.yield. Ops
/// that do not depend on the score are cloned as they are, whatever they
/// are; a score-dependent op without a derivative rule fails with an error
/// located at it and naming it (and `into` is left empty).
LogicalResult buildScoreModDerivative(Region &scoreMod, Region &into);

} // namespace mlir::attn

#endif
