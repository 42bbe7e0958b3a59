//===- ScoreModifiers.cpp - per-score bias, score_mod and custom masks ----===//
#include "passes/ScoreModifiers.h"

#include "dialect/AttnOps.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Index of a broadcastable [B, Hq, Sq, Skv] operand: size-1 dims read 0.
SmallVector<Value> broadcastIndex(IndexMath &im, Value operand,
                                  ArrayRef<Value> idx) {
  auto shape = cast<ShapedType>(operand.getType()).getShape();
  SmallVector<Value> out;
  for (auto [size, i] : llvm::zip(shape, idx))
    out.push_back(size == 1 ? im.c(0) : i);
  return out;
}

} // namespace

Value mlir::attn::inlineModRegion(ImplicitLocOpBuilder &b, Region &region,
                                  ValueRange args) {
  IRMapping map;
  Block &block = region.front();
  map.map(block.getArguments(), args);
  for (Operation &inner : block.without_terminator())
    b.clone(inner, map);
  // The yielded value may come from outside the block (a constant the
  // canonicalizer hoisted, a captured value) or be a block argument.
  return map.lookupOrDefault(cast<YieldOp>(block.getTerminator()).getValue());
}

Value mlir::attn::modifyScore(ImplicitLocOpBuilder &b, IndexMath &im,
                              const ScoreModifiers &m, Value s, Value b0,
                              Value h, Value qi, Value kj, Value *slope) {
  if (m.bias) {
    Value x = memref::LoadOp::create(
        b, m.bias, broadcastIndex(im, m.bias, {b0, h, qi, kj}));
    if (x.getType() != b.getF32Type())
      x = arith::ExtFOp::create(b, b.getF32Type(), x);
    s = arith::AddFOp::create(b, s, x);
  }
  if (slope) {
    *slope =
        m.scoreMod
            ? inlineModRegion(b, *m.scoreModGrad, {s, b0, h, qi, kj})
            : arith::ConstantOp::create(b, b.getF32FloatAttr(1.0f)).getResult();
  }
  if (m.scoreMod)
    s = inlineModRegion(b, *m.scoreMod, {s, b0, h, qi, kj});
  return s;
}

Value mlir::attn::customMasksAllow(ImplicitLocOpBuilder &b, IndexMath &im,
                                   const ScoreModifiers &m, Value b0, Value h,
                                   Value qi, Value kj) {
  Value keep = arith::ConstantOp::create(b, b.getBoolAttr(true));
  auto both = [&](Value c) { keep = arith::AndIOp::create(b, keep, c); };
  if (m.boolMask)
    both(memref::LoadOp::create(
        b, m.boolMask, broadcastIndex(im, m.boolMask, {b0, h, qi, kj})));
  if (m.qSeg) {
    Value x = memref::LoadOp::create(b, m.qSeg, ValueRange{b0, qi});
    Value y = memref::LoadOp::create(b, m.kvSeg, ValueRange{b0, kj});
    both(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y));
  }
  if (m.maskMod)
    both(inlineModRegion(b, *m.maskMod, {b0, h, qi, kj}));
  return keep;
}
