//===- VerifyUtils.cpp - shape checks shared by the op verifiers ---------===//
//
// The located shape, size-limit and attribute checks that several ops'
// verifiers share (declared in VerifyUtils.h).
//
//===----------------------------------------------------------------------===//
#include "dialect/VerifyUtils.h"
#include "dialect/Limits.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::verify {

/// Two sizes agree unless both are static and differ.
bool sizesAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string sizeStr(int64_t s) {
  return ShapedType::isDynamic(s) ? std::string("?") : std::to_string(s);
}

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i)
      s += ", ";
    s += sizeStr(d);
  }
  return s + "]";
}

/// Checks `value`'s shape against `expected` (a `?` in either matches
/// anything), naming the operand and the meaning of each dim on failure.
LogicalResult checkShape(Operation *op, StringRef name, ShapedType type,
                         ArrayRef<int64_t> expected, StringRef meaning) {
  if (type.getRank() != static_cast<int64_t>(expected.size()))
    return op->emitOpError()
           << name << " must have rank " << expected.size() << " " << meaning
           << ", got rank " << type.getRank();
  for (auto [got, want] : llvm::zip(type.getShape(), expected))
    if (!sizesAgree(got, want))
      return op->emitOpError() << name << " shape " << shapeStr(type.getShape())
                               << " does not match expected " << meaning
                               << " = " << shapeStr(expected);
  return success();
}

/// A GQA head ratio is valid when Hkv divides Hq (dynamic sizes pass).
LogicalResult checkHeadRatio(Operation *op, int64_t hq, int64_t hkv) {
  if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hkv))
    return success();
  if (hkv <= 0 || hq % hkv != 0)
    return op->emitOpError()
           << "query heads (" << hq << ") must be a multiple of key/value "
           << "heads (" << hkv << ")";
  return success();
}

/// Every static dim within limits::kMaxDim and the element count within
/// limits::kMaxElements (see dialect/Limits.h for why).
LogicalResult checkSizeLimits(Operation *op, StringRef name, ShapedType type) {
  int64_t elements = 1;
  for (int64_t d : type.getShape()) {
    if (ShapedType::isDynamic(d))
      continue;
    if (d > limits::kMaxDim)
      return op->emitOpError()
             << name << " dim " << d << " exceeds the limit of "
             << limits::kMaxDim << " (positions and lengths are i32)";
    if (__builtin_mul_overflow(elements, d, &elements) ||
        elements > limits::kMaxElements)
      return op->emitOpError()
             << name << " shape " << shapeStr(type.getShape())
             << " has more than " << limits::kMaxElements << " elements";
  }
  return success();
}

/// checkSizeLimits for every shaped operand and result of `op`, named by
/// operand index when no better name is known.
LogicalResult checkAllSizeLimits(Operation *op) {
  for (OpOperand &o : op->getOpOperands())
    if (auto t = dyn_cast<ShapedType>(o.get().getType()))
      if (failed(checkSizeLimits(
              op, "operand #" + std::to_string(o.getOperandNumber()), t)))
        return failure();
  for (OpResult r : op->getResults())
    if (auto t = dyn_cast<ShapedType>(r.getType()))
      if (failed(checkSizeLimits(
              op, "result #" + std::to_string(r.getResultNumber()), t)))
        return failure();
  return success();
}

/// Head dims and the GQA group within limits (static sizes only).
LogicalResult checkHeadLimits(Operation *op, int64_t hq, int64_t hkv, int64_t d,
                              int64_t dv) {
  for (auto [name, v] : {std::pair{"head dim D", d}, {"value head dim Dv", dv}})
    if (!ShapedType::isDynamic(v) && (v < 1 || v > limits::kMaxHeadDim))
      return op->emitOpError() << name << " must be in [1, "
                               << limits::kMaxHeadDim << "], got " << v;
  if (!ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hkv) && hkv > 0 &&
      hq / hkv > limits::kMaxGroup)
    return op->emitOpError()
           << "query heads per key/value head (" << hq << " / " << hkv
           << ") exceed the limit of " << limits::kMaxGroup;
  return success();
}

/// The largest query position, q_offset + Sq, within i32 lanes.
LogicalResult checkQueryPositions(Operation *op, std::optional<MaskAttr> mask,
                                  int64_t sq) {
  if (!mask || ShapedType::isDynamic(sq))
    return success();
  if (mask->getQOffset() + sq > limits::kMaxMaskParam)
    return op->emitOpError()
           << "mask q_offset + Sq (" << mask->getQOffset() << " + " << sq
           << ") exceeds the limit of " << limits::kMaxMaskParam
           << " (query positions are i32)";
  return success();
}

LogicalResult checkScaleAndCap(Operation *op, std::optional<APFloat> scale,
                               std::optional<APFloat> softcap) {
  if (scale && !scale->isFinite())
    return op->emitOpError("scale must be finite");
  if (scale && scale->isZero())
    return op->emitOpError("scale must be nonzero");
  if (scale && std::fabs(scale->convertToDouble()) > limits::kMaxScale)
    return op->emitOpError() << "scale magnitude must be at most "
                             << static_cast<int64_t>(limits::kMaxScale)
                             << " (got " << scale->convertToDouble()
                             << "): larger scales overflow ordinary logits";
  if (softcap &&
      (!softcap->isFinite() || softcap->isNegative() || softcap->isZero()))
    return op->emitOpError("softcap must be finite and > 0");
  return success();
}
/// Broadcastable to `full`: same rank and each dim 1 or equal.
LogicalResult checkBroadcastable(Operation *op, StringRef name, ShapedType type,
                                 ArrayRef<int64_t> full) {
  if (type.getRank() != 4)
    return op->emitOpError()
           << name << " must have rank 4 (broadcastable "
           << "to [B, Hq, Sq, Skv]), got rank " << type.getRank();
  for (auto [got, want] : llvm::zip(type.getShape(), full))
    if (got != 1 && !sizesAgree(got, want))
      return op->emitOpError() << name << " shape " << shapeStr(type.getShape())
                               << " is not broadcastable to [B, Hq, Sq, Skv] = "
                               << shapeStr(full);
  return success();
}
LogicalResult checkLengths(Operation *op, StringRef name, Value lengths,
                           int64_t b) {
  if (!lengths)
    return success();
  return checkShape(op, name, cast<ShapedType>(lengths.getType()), {b}, "[B]");
}
/// Dropout: the probability and its [seed, offset] state come together;
/// 0 <= p < 1 (p = 1 would scale by 1/0).
LogicalResult checkDropout(Operation *op, Value state,
                           std::optional<APFloat> p) {
  if (static_cast<bool>(state) != p.has_value())
    return op->emitOpError(state ? "a dropout state needs dropout_p"
                                 : "dropout_p needs a dropout state operand "
                                   "(tensor<2xi64>: seed, offset)");
  if (!state)
    return success();
  double rate = p->convertToDouble();
  if (!(rate >= 0.0 && rate < 1.0))
    return op->emitOpError() << "dropout_p must be in [0, 1), got " << rate;
  auto ty = cast<ShapedType>(state.getType());
  if (ty.getRank() != 1 || ty.getDimSize(0) != 2)
    return op->emitOpError()
           << "dropout state must be tensor<2xi64> (seed, offset), got "
           << state.getType();
  return success();
}

} // namespace mlir::attn::verify
