//===- ArithCompare.h - arith.cmpf / arith.cmpi on host values -*- C++ -*-===//
//
// One definition of the comparison predicates for everything that
// evaluates arith IR on the host: the runtime's region interpreter (the
// float64 reference of score_mod / mask_mod) and attn-raise-attention's
// exhaustive mask checks.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_ARITHCOMPARE_H
#define ATTN_DIALECT_ARITHCOMPARE_H

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cmath>
#include <cstdint>

namespace mlir::attn {

/// `v` as an unsigned value of `w` bits.
inline uint64_t unsignedOf(int64_t v, unsigned w) {
  return w >= 64 ? uint64_t(v) : uint64_t(v) & ((uint64_t(1) << w) - 1);
}

inline bool cmpF(arith::CmpFPredicate p, double x, double y) {
  using P = arith::CmpFPredicate;
  bool unordered = std::isnan(x) || std::isnan(y);
  switch (p) {
  case P::AlwaysFalse:
    return false;
  case P::AlwaysTrue:
    return true;
  case P::OEQ:
    return !unordered && x == y;
  case P::OGT:
    return !unordered && x > y;
  case P::OGE:
    return !unordered && x >= y;
  case P::OLT:
    return !unordered && x < y;
  case P::OLE:
    return !unordered && x <= y;
  case P::ONE:
    return !unordered && x != y;
  case P::ORD:
    return !unordered;
  case P::UEQ:
    return unordered || x == y;
  case P::UGT:
    return unordered || x > y;
  case P::UGE:
    return unordered || x >= y;
  case P::ULT:
    return unordered || x < y;
  case P::ULE:
    return unordered || x <= y;
  case P::UNE:
    return unordered || x != y;
  case P::UNO:
    return unordered;
  }
  return false;
}

inline bool cmpI(arith::CmpIPredicate p, int64_t x, int64_t y, unsigned w) {
  using P = arith::CmpIPredicate;
  uint64_t ux = unsignedOf(x, w), uy = unsignedOf(y, w);
  switch (p) {
  case P::eq:
    return x == y;
  case P::ne:
    return x != y;
  case P::slt:
    return x < y;
  case P::sle:
    return x <= y;
  case P::sgt:
    return x > y;
  case P::sge:
    return x >= y;
  case P::ult:
    return ux < uy;
  case P::ule:
    return ux <= uy;
  case P::ugt:
    return ux > uy;
  case P::uge:
    return ux >= uy;
  }
  return false;
}

} // namespace mlir::attn

#endif
