//===- AttnRope.cpp - verifier of the cache ops' rotary embedding ---------===//
#include "dialect/AttnOps.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
std::string sizeText(int64_t s) {
  return ShapedType::isDynamic(s) ? std::string("?") : std::to_string(s);
}
} // namespace

LogicalResult mlir::attn::verifyRotary(Operation *op, Value cos, Value sin,
                                       std::optional<RopeAttr> rope,
                                       StringRef rows, Type rowType,
                                       int64_t headDim, int64_t capacity) {
  if (static_cast<bool>(cos) != rope.has_value())
    return op->emitOpError(cos ? "rotary tables need a rope attribute "
                                 "(#attn.rope<style = ..., rotary_dim = ...>)"
                               : "rope needs rotary(%cos, %sin) tables "
                                 "[max_pos, rotary_dim / 2]");
  if (!cos)
    return success();
  int64_t r = rope->getRotaryDim();
  if (!ShapedType::isDynamic(headDim) && r > headDim)
    return op->emitOpError() << "rope rotary_dim " << r << " exceeds the "
                             << rows << " head dim " << headDim;
  auto cosTy = cast<ShapedType>(cos.getType());
  auto sinTy = cast<ShapedType>(sin.getType());
  Type elt = cosTy.getElementType();
  if (sinTy.getElementType() != elt)
    return op->emitOpError()
           << "rotary_sin element type " << sinTy.getElementType()
           << " differs from rotary_cos element type " << elt;
  if (!elt.isF32() && elt != rowType)
    return op->emitOpError()
           << "rotary_cos element type must be f32 or the " << rows
           << " element type " << rowType << ", got " << elt;
  for (auto [name, ty] :
       {std::pair{"rotary_cos", cosTy}, {"rotary_sin", sinTy}}) {
    if (ty.getRank() != 2)
      return op->emitOpError() << name << " must have rank 2 [max_pos, "
                               << "rotary_dim / 2], got rank " << ty.getRank();
    int64_t half = ty.getDimSize(1);
    if (!ShapedType::isDynamic(half) && half != r / 2)
      return op->emitOpError()
             << name << " has " << half
             << " columns, expected rotary_dim / 2 = " << r / 2;
  }
  int64_t maxPos = cosTy.getDimSize(0), sinPos = sinTy.getDimSize(0);
  if (!ShapedType::isDynamic(maxPos) && !ShapedType::isDynamic(sinPos) &&
      maxPos != sinPos)
    return op->emitOpError() << "rotary_sin has " << sinPos
                             << " positions but rotary_cos has " << maxPos;
  if (ShapedType::isDynamic(maxPos))
    maxPos = sinPos;
  if (!ShapedType::isDynamic(maxPos) && !ShapedType::isDynamic(capacity) &&
      maxPos < capacity)
    return op->emitOpError()
           << "rotary tables hold " << maxPos << " positions but the cache "
           << "holds up to " << sizeText(capacity)
           << " (every cached position must have a table row)";
  return success();
}
