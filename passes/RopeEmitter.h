//===- RopeEmitter.h - row copies with rotary embedding --------*- C++ -*-===//
//
// The cache lowerings copy K/V and query rows between buffers of different
// element types; with a rotary embedding (#attn.rope and its cos/sin
// tables) the first rotary_dim dims of a row are rotated by the row's
// position on the way, with the arithmetic of common/Rope.h.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_ROPEEMITTER_H
#define ATTN_PASSES_ROPEEMITTER_H

#include "dialect/AttnOps.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn {

/// The rotary operands of a cache op; all null without one.
struct RotaryOperands {
  Value cos, sin; ///< [max_pos, rotary_dim / 2]
  RopeAttr rope;
  explicit operator bool() const { return static_cast<bool>(rope); }
};

/// Copies the row `src[srcIdx..., 0:dim]` to `dst[dstIdx..., 0:dim]`
/// (converting to dst's element type, through f32), rotating its first
/// rotary_dim dims by position `pos` (index, in [0, max_pos)) when
/// `rotary` is set.
void emitRowCopy(ImplicitLocOpBuilder &b, Value src, ValueRange srcIdx,
                 Value dst, ValueRange dstIdx, int64_t dim,
                 const RotaryOperands &rotary, Value pos);

/// The tables' position count (index).
Value rotaryPositions(ImplicitLocOpBuilder &b, const RotaryOperands &rotary);

} // namespace mlir::attn

#endif
