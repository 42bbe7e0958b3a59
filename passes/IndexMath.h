//===- IndexMath.h - terse index arithmetic for the attn passes -*- C++ -*-===//
//
// The lowering passes emit a lot of small index computations; these helpers
// keep that code readable. Sizes that may be static or run-time values are
// OpFoldResults (an index attribute or a Value); the `Size` helpers fold
// when every operand is static, so a static problem emits exactly the
// constants it did when it was all int64_t.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_INDEXMATH_H
#define ATTN_PASSES_INDEXMATH_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"

#include <algorithm>
#include <optional>

namespace mlir::attn {

/// int64_t arithmetic under the names IndexMath uses for sizes, so that a
/// cost model written once as a template (see kvSplitModel) runs on static
/// sizes at compile time and on run-time sizes in the kernel.
struct IntMath {
  using Size = int64_t;
  Size size(int64_t v) const { return v; }
  Size add(Size x, Size y) const { return x + y; }
  Size mul(Size x, Size y) const { return x * y; }
  Size div(Size x, Size y) const { return x / y; }
  Size ceilDiv(Size x, Size y) const { return (x + y - 1) / y; }
  Size min(Size x, Size y) const { return std::min(x, y); }
  Size max(Size x, Size y) const { return std::max(x, y); }
  /// `x <= 0 ? ifLe : otherwise`.
  Size selectLeZero(Size x, Size ifLe, Size otherwise) const {
    return x <= 0 ? ifLe : otherwise;
  }
};

struct IndexMath {
  using Size = OpFoldResult;
  ImplicitLocOpBuilder &b;

  /// The static value of `x`, if it has one.
  static std::optional<int64_t> known(OpFoldResult x) {
    if (auto attr = dyn_cast<Attribute>(x))
      return cast<IntegerAttr>(attr).getInt();
    return std::nullopt;
  }
  Size size(int64_t v) const { return b.getIndexAttr(v); }
  /// `x` as a Value (a constant, created here, when static).
  Value v(OpFoldResult x) const {
    if (auto s = known(x))
      return c(*s);
    return cast<Value>(x);
  }
  /// Folds `fold` over static operands, else emits `emit` on Values.
  template <typename F, typename E>
  Size fold2(Size x, Size y, F fold, E emit) const {
    auto sx = known(x), sy = known(y);
    if (sx && sy)
      return size(fold(*sx, *sy));
    return emit(v(x), v(y));
  }
  Size add(Size x, Size y) const {
    return fold2(
        x, y, [](int64_t p, int64_t q) { return p + q; },
        [&](Value p, Value q) { return add(p, q); });
  }
  Size mul(Size x, Size y) const {
    // Zero times a run-time size is a static zero (no work items).
    if (known(x) == 0 || known(y) == 0)
      return size(0);
    return fold2(
        x, y, [](int64_t p, int64_t q) { return p * q; },
        [&](Value p, Value q) { return mul(p, q); });
  }
  Size div(Size x, Size y) const {
    return fold2(
        x, y, [](int64_t p, int64_t q) { return p / q; },
        [&](Value p, Value q) { return div(p, q); });
  }
  Size ceilDiv(Size x, Size y) const {
    return fold2(
        x, y, [](int64_t p, int64_t q) { return (p + q - 1) / q; },
        [&](Value p, Value q) { return ceilDiv(p, q); });
  }
  Size min(Size x, Size y) const {
    return fold2(
        x, y, [](int64_t p, int64_t q) { return std::min(p, q); },
        [&](Value p, Value q) { return min(p, q); });
  }
  Size max(Size x, Size y) const {
    return fold2(
        x, y, [](int64_t p, int64_t q) { return std::max(p, q); },
        [&](Value p, Value q) { return max(p, q); });
  }
  Size selectLeZero(Size x, Size ifLe, Size otherwise) const {
    if (auto sx = known(x))
      return *sx <= 0 ? ifLe : otherwise;
    return arith::SelectOp::create(b, le(v(x), c(0)), v(ifLe), v(otherwise))
        .getResult();
  }

  Value c(int64_t v) const { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) const { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) const { return add(x, c(y)); }
  Value sub(Value x, Value y) const { return arith::SubIOp::create(b, x, y); }
  Value sub(Value x, int64_t y) const { return sub(x, c(y)); }
  Value mul(Value x, Value y) const { return arith::MulIOp::create(b, x, y); }
  Value mul(Value x, int64_t y) const { return mul(x, c(y)); }
  Value div(Value x, Value y) const { return arith::DivUIOp::create(b, x, y); }
  Value div(Value x, int64_t y) const { return div(x, c(y)); }
  Value rem(Value x, Value y) const { return arith::RemUIOp::create(b, x, y); }
  Value rem(Value x, int64_t y) const { return rem(x, c(y)); }
  Value ceilDiv(Value x, Value y) const {
    return arith::CeilDivSIOp::create(b, x, y);
  }
  Value ceilDiv(Value x, int64_t y) const { return ceilDiv(x, c(y)); }
  // Value op size: a static size becomes a constant here, as in the
  // int64_t forms.
  Value mul(Value x, Size y) const { return mul(x, v(y)); }
  Value rem(Value x, Size y) const { return rem(x, v(y)); }
  Value div(Value x, Size y) const { return div(x, v(y)); }
  Value ceilDiv(Value x, Size y) const { return ceilDiv(x, v(y)); }
  /// `x - y` as a size (static when x is).
  Size sub(Size x, int64_t y) const {
    if (auto s = known(x))
      return size(*s - y);
    return sub(cast<Value>(x), y);
  }
  Value min(Value x, Value y) const { return arith::MinSIOp::create(b, x, y); }
  Value max(Value x, Value y) const { return arith::MaxSIOp::create(b, x, y); }
  Value lt(Value x, Value y) const {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
  }
  Value le(Value x, Value y) const {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::sle, x, y);
  }
  Value ge(Value x, Value y) const {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::sge, x, y);
  }
};

} // namespace mlir::attn

#endif
