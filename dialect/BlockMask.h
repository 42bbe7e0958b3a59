//===- BlockMask.h - block-sparse mask operands ------------------*- C++
//-*-===//
//
// attn.attention's optional block-sparse mask (FlexAttention's BlockMask):
// kv_num_blocks [B', H', Qblocks] and kv_indices [B', H', Qblocks, maxBlocks]
// i32 with block sizes [BQ, BK]. One place defines its shape rules for the
// verifier, the lowering and the runtime's run-time checks.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_BLOCKMASK_H
#define ATTN_DIALECT_BLOCKMASK_H

#include "mlir/IR/Operation.h"

#include <cstdint>
#include <optional>

namespace mlir::attn {

/// Blocks of `size` covering `len` positions (kDynamic stays kDynamic).
int64_t blockCount(int64_t len, int64_t size);

/// Located checks of a block mask against the logical sizes of its
/// attention: both operands or none, block_size present with them and
/// [BQ >= 1, BK >= 1], ranks 3 and 4, dims 0 and 1 each 1 or B / Hq,
/// dim 2 = ceil(Sq / BQ), kv_indices' leading dims equal kv_num_blocks'.
LogicalResult verifyBlockMask(Operation *op, Value numBlocks, Value indices,
                              std::optional<ArrayRef<int64_t>> blockSize,
                              int64_t b, int64_t hq, int64_t sq);

} // namespace mlir::attn

#endif
