//===- RuntimeHalfFloatTest.cpp - f16/bf16 <-> f32 host conversions -------===//
#include "runtime/HalfFloat.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace mlir::attn::rt;

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float fromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// `got` must be nearer to `x` than both neighbouring patterns of the same
/// sign, and even on a tie: round-to-nearest-even stated as a property, so
/// the check shares nothing with the bit tricks under test.
template <typename ToFloat>
void expectNearestEven(float x, uint16_t got, uint16_t maxFinite,
                       ToFloat toFloat) {
  uint16_t sign = got & 0x8000, mag = got & 0x7fff;
  double err = std::abs(double(toFloat(got)) - double(x));
  for (int step : {-1, 1}) {
    int m = int(mag) + step;
    if (m < 0 || m > maxFinite)
      continue;
    double other =
        std::abs(double(toFloat(static_cast<uint16_t>(sign | m))) - double(x));
    ASSERT_TRUE(err < other || (err == other && (mag & 1) == 0))
        << "x = " << x << " (bits 0x" << std::hex << bits(x) << ") gave 0x"
        << got << ", neighbour 0x" << (sign | m) << " is nearer or even";
  }
}

TEST(HalfFloat, HalfToFloatExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = halfToFloat(static_cast<uint16_t>(h));
    bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (nan) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(f))));
      continue;
    }
    ASSERT_EQ(floatToHalf(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(HalfFloat, HalfKnownValues) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff); // below the halfway point
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // ties to even: overflow
  EXPECT_EQ(floatToHalf(1e9f), 0x7c00);
  EXPECT_EQ(floatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000); // tie to even 0
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -26)), 0x0001);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00); // tie, even
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3c02); // tie, even
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
}

TEST(HalfFloat, FloatToHalfRoundsToNearestEven) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) {
    // Finite floats within the half range, including subnormal halves.
    float x = fromBits(any(rng));
    if (!std::isfinite(x) || std::abs(x) >= 65504.0f)
      continue;
    expectNearestEven(x, floatToHalf(x), 0x7bff, halfToFloat);
  }
  // Random bits mostly miss the half range: sweep its exponents
  // (subnormal halves included) on purpose.
  std::uniform_int_distribution<int> exponent(-27, 15);
  for (int i = 0; i < 200000; ++i) {
    float x =
        std::ldexp(1.0f + float(any(rng) >> 9) / 8388608.0f, exponent(rng));
    x = (i & 1) ? -x : x;
    if (std::abs(x) < 65504.0f)
      expectNearestEven(x, floatToHalf(x), 0x7bff, halfToFloat);
  }
}

TEST(HalfFloat, BFloatKnownValues) {
  EXPECT_EQ(floatToBFloat(1.0f), 0x3f80);
  EXPECT_EQ(bfloatToFloat(0x3f80), 1.0f);
  EXPECT_EQ(floatToBFloat(fromBits(0x3f808000)), 0x3f80); // tie -> even
  EXPECT_EQ(floatToBFloat(fromBits(0x3f818000)), 0x3f82); // tie -> even
  EXPECT_EQ(floatToBFloat(fromBits(0x3f808001)), 0x3f81);
  EXPECT_EQ(floatToBFloat(std::numeric_limits<float>::max()), 0x7f80); // inf
  EXPECT_EQ(floatToBFloat(-std::numeric_limits<float>::infinity()), 0xff80);
  uint16_t nan = floatToBFloat(fromBits(0x7f800001)); // signalling, low bits
  EXPECT_TRUE(std::isnan(bfloatToFloat(nan)));
}

TEST(HalfFloat, BFloatRoundsToNearestEven) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) {
    float x = fromBits(any(rng));
    if (!std::isfinite(x) || std::abs(x) > 3.38e38f)
      continue;
    expectNearestEven(x, floatToBFloat(x), 0x7f7f, bfloatToFloat);
  }
  for (uint32_t b = 0; b < 0x10000; ++b) {
    float f = bfloatToFloat(static_cast<uint16_t>(b));
    if (!std::isnan(f))
      ASSERT_EQ(floatToBFloat(f), b);
  }
}

TEST(HalfFloat, BulkForms) {
  float in[] = {0.5f, -3.25f, 1000.0f};
  uint16_t h[3], bf[3];
  float out[3];
  floatsToHalves(in, h);
  halvesToFloats(h, out);
  EXPECT_EQ(out[1], -3.25f);
  floatsToBFloats(in, bf);
  bfloatsToFloats(bf, out);
  EXPECT_EQ(out[2], 1000.0f);
}

} // namespace
