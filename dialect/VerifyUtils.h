//===- VerifyUtils.h - shape checks shared by the op verifiers -*- C++ -*-===//
//
// The located shape and size-limit checks of AttnOps.cpp, shared with the
// verifiers of ops defined in other files (AdditiveAttention.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_VERIFYUTILS_H
#define ATTN_DIALECT_VERIFYUTILS_H

#include "dialect/AttnAttrs.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <string>

namespace mlir::attn::verify {

/// Two sizes agree unless both are static and differ.
bool sizesAgree(int64_t a, int64_t b);
/// "?" for a run-time size, else the number.
std::string sizeStr(int64_t s);
/// "[2, ?, 64]".
std::string shapeStr(ArrayRef<int64_t> shape);
/// Checks `type`'s shape against `expected` (a `?` in either matches
/// anything), naming the operand and the meaning of each dim on failure.
LogicalResult checkShape(Operation *op, StringRef name, ShapedType type,
                         ArrayRef<int64_t> expected, StringRef meaning);
/// Every static dim of `type` within limits::kMaxDim and its element count
/// within limits::kMaxElements.
LogicalResult checkSizeLimits(Operation *op, StringRef name, ShapedType type);
/// checkSizeLimits for every shaped operand and result of `op`.
LogicalResult checkAllSizeLimits(Operation *op);

// The checks of attn.attention's operands, for ops that take the same
// masks and attributes (attn.multi_head_attention): one definition.
/// Hkv divides Hq.
LogicalResult checkHeadRatio(Operation *op, int64_t hq, int64_t hkv);
/// Head dims and the GQA group within limits.
LogicalResult checkHeadLimits(Operation *op, int64_t hq, int64_t hkv, int64_t d,
                              int64_t dv);
/// q_offset + Sq within i32 positions.
LogicalResult checkQueryPositions(Operation *op, std::optional<MaskAttr> mask,
                                  int64_t sq);
LogicalResult checkScaleAndCap(Operation *op, std::optional<APFloat> scale,
                               std::optional<APFloat> softcap);
/// Rank 4, each dim 1 or equal to `full` ([B, Hq, Sq, Skv]).
LogicalResult checkBroadcastable(Operation *op, StringRef name, ShapedType type,
                                 ArrayRef<int64_t> full);
/// `lengths` (may be null) is [B].
LogicalResult checkLengths(Operation *op, StringRef name, Value lengths,
                           int64_t b);
/// dropout_p and its [seed, offset] state together, 0 <= p < 1.
LogicalResult checkDropout(Operation *op, Value state,
                           std::optional<APFloat> p);

} // namespace mlir::attn::verify

#endif
