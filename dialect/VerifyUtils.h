//===- VerifyUtils.h - shape checks shared by the op verifiers -*- C++ -*-===//
//
// The located shape and size-limit checks of AttnOps.cpp, shared with the
// verifiers of ops defined in other files (AdditiveAttention.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_VERIFYUTILS_H
#define ATTN_DIALECT_VERIFYUTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <string>

namespace mlir::attn::verify {

/// Two sizes agree unless both are static and differ.
bool sizesAgree(int64_t a, int64_t b);
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

} // namespace mlir::attn::verify

#endif
