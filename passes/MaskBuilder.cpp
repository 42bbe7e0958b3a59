//===- MaskBuilder.cpp - IR for structured-mask predicates ----------------===//
#include "passes/MaskBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace mlir::attn;

using P = arith::CmpIPredicate;

Value MaskBuilder::constant(Type t, int64_t v) {
  if (t.isIndex())
    return arith::ConstantIndexOp::create(b, v);
  if (auto vec = dyn_cast<VectorType>(t))
    return arith::ConstantOp::create(
        b, vec,
        DenseElementsAttr::get(
            vec, IntegerAttr::get(vec.getElementType(), v).getValue()));
  return arith::ConstantIntOp::create(b, t, v);
}

Value MaskBuilder::cmp(int pred, Value x, Value y) {
  return arith::CmpIOp::create(b, static_cast<P>(pred), x, y);
}

Value MaskBuilder::both(Value x, Value y) {
  return x ? arith::AndIOp::create(b, x, y) : y;
}

Value MaskBuilder::allows(Value q, Value k, Value known) {
  Type t = q.getType();
  Value keep = known;
  if (mask.causal)
    keep = both(keep, cmp(int(P::sle), k, q));
  // The window and dilation constrain the distance; global tokens lift
  // them (but not causality).
  Value local;
  Value distance;
  auto dist = [&] {
    if (!distance)
      distance = arith::SubIOp::create(b, q, k);
    return distance;
  };
  if (mask.windowLeft >= 0)
    local = both(local, cmp(int(P::sle), dist(), constant(t, mask.windowLeft)));
  if (mask.windowRight >= 0)
    local =
        both(local, cmp(int(P::sge), dist(), constant(t, -mask.windowRight)));
  if (mask.dilation > 1)
    local =
        both(local,
             cmp(int(P::eq),
                 arith::RemSIOp::create(b, dist(), constant(t, mask.dilation)),
                 constant(t, 0)));
  if (local && mask.globalTokens > 0) {
    Value g = constant(t, mask.globalTokens);
    Value global =
        arith::OrIOp::create(b, cmp(int(P::slt), k, g), cmp(int(P::slt), q, g));
    local = arith::OrIOp::create(b, local, global);
  }
  if (local)
    keep = both(keep, local);
  return keep;
}

MaskBuilder::KeyRange MaskBuilder::visibleKeys(Value qLo, Value qHi) {
  KeyRange r;
  Type t = qLo.getType();
  if (mask.causal || mask.windowRight >= 0) {
    // Verified: a causal mask looks ahead by 0 at most.
    int64_t ahead = mask.causal ? 0 : mask.windowRight;
    r.last = arith::AddIOp::create(b, qHi, constant(t, ahead));
  }
  if (mask.windowLeft >= 0) {
    Value zero = constant(t, 0);
    r.first = arith::MaxSIOp::create(
        b, zero, arith::SubIOp::create(b, qLo, constant(t, mask.windowLeft)));
  }
  return r;
}

MaskBuilder::KeyRange MaskBuilder::visibleQueries(Value kLo, Value kHi) {
  KeyRange r;
  Type t = kLo.getType();
  // Causal holds for global tokens too; the window bounds do not.
  if (mask.causal)
    r.first = kLo;
  else if (mask.windowRight >= 0 && mask.globalTokens == 0)
    r.first = arith::MaxSIOp::create(
        b, constant(t, 0),
        arith::SubIOp::create(b, kLo, constant(t, mask.windowRight)));
  if (mask.windowLeft >= 0 && mask.globalTokens == 0)
    r.last = arith::AddIOp::create(b, kHi, constant(t, mask.windowLeft));
  return r;
}

Value MaskBuilder::fullyVisible(Value inBounds, Value qLo, Value qHi, Value k0,
                                Value kLast) {
  Type t = qLo.getType();
  Value full = inBounds;
  if (mask.causal)
    full = both(full, cmp(int(P::sle), kLast, qLo));
  if (mask.windowRight >= 0)
    full =
        both(full,
             cmp(int(P::sle), kLast,
                 arith::AddIOp::create(b, qLo, constant(t, mask.windowRight))));
  if (mask.windowLeft >= 0)
    full = both(
        full, cmp(int(P::sge), k0,
                  arith::SubIOp::create(b, qHi, constant(t, mask.windowLeft))));
  if (mask.dilation > 1)
    full = arith::ConstantOp::create(b, b.getBoolAttr(false));
  if (!full)
    full = arith::ConstantOp::create(b, b.getBoolAttr(true));
  return full;
}
