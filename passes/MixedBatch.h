//===- MixedBatch.h - cache attention over packed mixed batches -*- C++ -*-===//
#ifndef ATTN_PASSES_MIXEDBATCH_H
#define ATTN_PASSES_MIXEDBATCH_H

#include "passes/FlashEmitter.h"

namespace mlir::attn {

/// Replaces a packed attn.cache_attention (`query_offsets`; `p` describes
/// its operands with packedQueries set) by one work-item loop whose items
/// place themselves from the offsets: query blocks of the prefill sequences
/// first, then the decode sequences (part of attn-lower-cache-ops).
LogicalResult lowerPackedCacheAttention(CacheAttentionOp op,
                                        const FlashProblem &p, int64_t kvHeads,
                                        int64_t kvCapacity, int64_t tileRows,
                                        int64_t tileKv, int64_t parallelism);

} // namespace mlir::attn

#endif
