//===- HalfFloat.cpp - f16/bf16 <-> f32 with round-to-nearest-even --------===//
#include "runtime/HalfFloat.h"

#include <cstring>

using namespace mlir::attn::rt;

namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

} // namespace

uint16_t mlir::attn::rt::floatToHalf(float f) {
  uint32_t u = bitsOf(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t absBits = u & 0x7fffffffu;
  if (absBits >= 0x7f800000u) // inf or NaN; NaN stays a quiet NaN
    return sign | (absBits > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (absBits >= 0x477ff000u) // rounds to >= 65520: overflow to inf
    return sign | 0x7c00u;
  if (absBits < 0x38800000u) { // below the smallest normal half (2^-14)
    // Subnormal half: scale so that the half's ulp (2^-24) becomes 1.0 and
    // let the float adder round to nearest even.
    float scaled = floatOf(absBits) * 16777216.0f; // 2^24, exact
    // `scaled` < 1024; adding 2^23 leaves the rounded integer in the low
    // mantissa bits.
    uint32_t r = bitsOf(scaled + 8388608.0f) - 0x4b000000u;
    return sign | static_cast<uint16_t>(r);
  }
  // Normal: rebias the exponent (127 -> 15), round the 13 dropped bits.
  uint32_t mant = absBits + 0xc8000000u; // exponent - 112 << 23
  uint32_t lsb = (mant >> 13) & 1u;
  mant += 0xfffu + lsb;
  return sign | static_cast<uint16_t>(mant >> 13);
}

float mlir::attn::rt::halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) // inf / NaN
    return floatOf(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
  if (exp == 0) { // zero or subnormal: mant * 2^-24, exact in f32
    float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return floatOf(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t mlir::attn::rt::floatToBFloat(float f) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep sign, force quiet
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  // Round to nearest even on the 16 dropped bits; overflow carries into
  // the exponent and correctly produces inf.
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float mlir::attn::rt::bfloatToFloat(uint16_t b) {
  return floatOf(static_cast<uint32_t>(b) << 16);
}

void mlir::attn::rt::floatsToHalves(llvm::ArrayRef<float> src, uint16_t *dst) {
  for (size_t i = 0; i < src.size(); ++i)
    dst[i] = floatToHalf(src[i]);
}

void mlir::attn::rt::halvesToFloats(llvm::ArrayRef<uint16_t> src, float *dst) {
  for (size_t i = 0; i < src.size(); ++i)
    dst[i] = halfToFloat(src[i]);
}

void mlir::attn::rt::floatsToBFloats(llvm::ArrayRef<float> src, uint16_t *dst) {
  for (size_t i = 0; i < src.size(); ++i)
    dst[i] = floatToBFloat(src[i]);
}

void mlir::attn::rt::bfloatsToFloats(llvm::ArrayRef<uint16_t> src, float *dst) {
  for (size_t i = 0; i < src.size(); ++i)
    dst[i] = bfloatToFloat(src[i]);
}
