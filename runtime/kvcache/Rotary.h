//===- Rotary.h - rotary embedding operands of the cache ops ---*- C++ -*-===//
//
// attn.cache_append rotates the keys it writes and attn.cache_attention the
// queries it reads by their positions (#attn.rope, common/Rope.h), with
// FlashAttention-style cos/sin tables [max_pos, rotary_dim / 2]; the rotary
// dim is twice the tables' width. Positions come from the cache lengths:
// appended row i of sequence b sits at lengths[b] + i (lengths before the
// append), query q of Sq at lengths[b] - Sq + q (lengths after it).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_ROTARY_H
#define ATTN_RUNTIME_KVCACHE_ROTARY_H

#include "dialect/AttnAttrs.h"
#include "runtime/Buffer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

namespace mlir::attn::kv {

struct RotaryEmbedding {
  RopeStyle style = RopeStyle::NeoX;
  /// [max_pos, rotary_dim / 2], f32 or the rotated rows' element type, one
  /// type for both; unit inner stride for the compiled kernels.
  rt::BufferRef cos, sin;
  int64_t rotaryDim() const {
    return cos.shape.size() == 2 ? 2 * cos.shape[1] : 0;
  }
  int64_t maxPositions() const { return cos.shape.empty() ? 0 : cos.shape[0]; }
};

/// Checks the tables for rows of `rows` ("key", "query") with head dim
/// `headDim` and element type `rowType`: rank 2, 1 <= rotary_dim <=
/// headDim, rotary_sin shaped and typed like rotary_cos, f32 or the rows'
/// type, data present. Errors read "<what>: rotary_cos ...".
llvm::Error checkRotary(const RotaryEmbedding &rope, llvm::StringRef what,
                        llvm::StringRef rows, int64_t headDim,
                        rt::DType rowType);

/// Checks that sequence `b`'s positions [first, end) of `rows` have table
/// rows (0 <= first, end <= max_pos); an empty range passes.
llvm::Error checkRotaryPositions(const RotaryEmbedding &rope,
                                 llvm::StringRef what, llvm::StringRef rows,
                                 int64_t b, int64_t first, int64_t end);

/// Rotates `row` (head dim values) in place by position `pos` in double
/// precision (common/Rope.h); `pos` must have passed checkRotaryPositions.
void rotateRow(const RotaryEmbedding &rope, int64_t pos,
               llvm::MutableArrayRef<double> row);

} // namespace mlir::attn::kv

#endif
