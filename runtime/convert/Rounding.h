//===- Rounding.h - one rounding from float64 to f16/bf16 ------*- C++ -*-===//
#ifndef ATTN_RUNTIME_CONVERT_ROUNDING_H
#define ATTN_RUNTIME_CONVERT_ROUNDING_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace mlir::attn::convert {

/// d rounded to float with round-to-odd: an inexact result gets an odd last
/// bit. Rounding that float to nearest-even f16 or bf16 then equals
/// rounding d directly (float keeps more than two extra bits), so a float64
/// mean reaches a 16-bit type with one rounding, not two.
inline float roundToOddFloat(double d) {
  float f = static_cast<float>(d);
  if (std::isnan(d) || static_cast<double>(f) == d)
    return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d))
    f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= 1;
  std::memcpy(&f, &bits, 4);
  return f;
}

} // namespace mlir::attn::convert

#endif
