//===- PhiloxEmitter.h - Philox4x32-10 as IR ---------------------*- C++
//-*-===//
//
// The ten rounds of common/Philox.h emitted as arith ops on i32 scalars or
// i32 vectors, so the CPU's vector dropout and the GPU kernels draw the
// same words as the float64 references, from one place.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_PHILOXEMITTER_H
#define ATTN_PASSES_PHILOXEMITTER_H

#include "common/Philox.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <array>

namespace mlir::attn {

/// Philox4x32-10 of counter `ctr` under key (`key0`, `key1`); `constant`
/// makes an i32 constant of the operands' type (a scalar or a splat).
inline std::array<Value, 4>
emitPhilox4x32_10(ImplicitLocOpBuilder &b, std::array<Value, 4> ctr, Value key0,
                  Value key1, function_ref<Value(uint32_t)> constant) {
  namespace px = mlir::attn::philox;
  Value mul0 = constant(px::kMul0), mul1 = constant(px::kMul1);
  Value weyl0 = constant(px::kWeyl0), weyl1 = constant(px::kWeyl1);
  auto xorI = [&](Value x, Value y) -> Value {
    return arith::XOrIOp::create(b, x, y);
  };
  for (int r = 0; r < px::kRounds; ++r) {
    if (r > 0) {
      key0 = arith::AddIOp::create(b, key0, weyl0);
      key1 = arith::AddIOp::create(b, key1, weyl1);
    }
    auto p0 = arith::MulUIExtendedOp::create(b, mul0, ctr[0]);
    auto p1 = arith::MulUIExtendedOp::create(b, mul1, ctr[2]);
    ctr = {xorI(xorI(p1.getHigh(), ctr[1]), key0), p1.getLow(),
           xorI(xorI(p0.getHigh(), ctr[3]), key1), p0.getLow()};
  }
  return ctr;
}

} // namespace mlir::attn

#endif
