//===- MergeStates.h - lowering of attn.merge_states -----------*- C++ -*-===//
#ifndef ATTN_PASSES_MERGESTATES_H
#define ATTN_PASSES_MERGESTATES_H

#include "dialect/AttnOps.h"

namespace mlir::attn {

/// Replaces `op` by an scf.forall over (batch, head) work items, each one
/// attn.tile_combine of its rows (part of attn-lower-cache-ops).
LogicalResult lowerMergeStates(MergeStatesOp op);

} // namespace mlir::attn

#endif
