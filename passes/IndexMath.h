//===- IndexMath.h - terse index arithmetic for the attn passes -*- C++ -*-===//
//
// The lowering passes emit a lot of small index computations; these helpers
// keep that code readable (and fold constants as they go).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_INDEXMATH_H
#define ATTN_PASSES_INDEXMATH_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn {

struct IndexMath {
  ImplicitLocOpBuilder &b;

  Value c(int64_t v) const { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) const { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) const { return add(x, c(y)); }
  Value sub(Value x, Value y) const { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, int64_t y) const {
    return arith::MulIOp::create(b, x, c(y));
  }
  Value div(Value x, int64_t y) const {
    return arith::DivUIOp::create(b, x, c(y));
  }
  Value rem(Value x, int64_t y) const {
    return arith::RemUIOp::create(b, x, c(y));
  }
  Value ceilDiv(Value x, int64_t y) const {
    return arith::CeilDivSIOp::create(b, x, c(y));
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
