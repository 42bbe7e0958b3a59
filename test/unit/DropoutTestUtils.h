//===- DropoutTestUtils.h - reading a dropout mask back from a kernel -*- C++
//-*-===//
//
// The mask probe shared by the CPU and GPU dropout tests: with q = 0 every
// logit is 0, so each weight is 1/n, and V = e_(k mod Dv) · 2^(k / Dv)
// makes output column c the binary number of the keep bits of keys c,
// c + Dv, ... of its row. Decoded, those bits must equal philox::keep for
// every (b, h, q, k): the contract every kernel meets, whatever its tiles,
// threads, splits or target.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_UNIT_DROPOUTTESTUTILS_H
#define ATTN_TEST_UNIT_DROPOUTTESTUTILS_H

#include "RuntimeTestUtils.h"

#include "common/Philox.h"
#include "runtime/AttentionArgs.h"
#include "runtime/HalfFloat.h"
#include "runtime/HostBuffers.h"
#include "runtime/Runtime.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace attn_test {

inline void setDropoutState(mlir::attn::rt::HostBuffers &buffers, int64_t seed,
                            int64_t offset) {
  ASSERT_TRUE(buffers.args().dropoutState.has_value());
  const mlir::attn::rt::BufferRef &state = *buffers.args().dropoutState;
  auto *data = static_cast<char *>(state.data);
  int64_t stride = state.effectiveStrides()[0];
  std::memcpy(data, &seed, 8);
  std::memcpy(data + stride * 8, &offset, 8);
}

/// Element type size and conversions of the probe's f32 / f16 buffers (f16
/// holds 11 bits: keep Skv / Dv <= 8 there, <= 16 with f32).
inline void storeProbe(void *base, int64_t i, bool f32, float x) {
  if (f32)
    static_cast<float *>(base)[i] = x;
  else
    static_cast<uint16_t *>(base)[i] = mlir::attn::rt::floatToHalf(x);
}
inline double loadProbe(const void *base, int64_t i, bool f32) {
  if (f32)
    return static_cast<const float *>(base)[i];
  return mlir::attn::rt::halfToFloat(static_cast<const uint16_t *>(base)[i]);
}

/// Writes q = 0 and the value encoding of the file comment into `args`.
inline void fillMaskProbe(const mlir::attn::AttentionSpec &s,
                          const mlir::attn::rt::AttentionArgs &args) {
  bool f32 = s.dtype == mlir::attn::ElementType::F32;
  std::memset(args.query.data, 0, args.query.numElements() * (f32 ? 4 : 2));
  int64_t dv = s.effectiveValueDim();
  auto vs = args.value.effectiveStrides();
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.numKvHeads; ++h)
      for (int64_t k = 0; k < s.kvLen; ++k)
        for (int64_t c = 0; c < dv; ++c)
          storeProbe(args.value.data,
                     b * vs[0] + h * vs[1] + k * vs[2] + c * vs[3], f32,
                     c == k % dv ? static_cast<float>(int64_t(1) << (k / dv))
                                 : 0.f);
}

/// The keep bits read from the output of a probe run: [B, Hq, Sq, Skv] in
/// logical order, 1 for kept.
inline std::vector<uint8_t>
decodeMaskProbe(const mlir::attn::AttentionSpec &s,
                const mlir::attn::rt::AttentionArgs &args) {
  bool f32 = s.dtype == mlir::attn::ElementType::F32;
  int64_t dv = s.effectiveValueDim();
  auto os = args.output.effectiveStrides();
  double scale = s.kvLen * (1 - *s.dropout);
  std::vector<uint8_t> bits(s.batch * s.numHeads * s.queryLen * s.kvLen, 0);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.numHeads; ++h)
      for (int64_t q = 0; q < s.queryLen; ++q)
        for (int64_t c = 0; c < dv; ++c) {
          double o =
              loadProbe(args.output.data,
                        b * os[0] + h * os[1] + q * os[2] + c * os[3], f32);
          auto word = static_cast<int64_t>(std::llround(o * scale));
          for (int64_t k = c; k < s.kvLen; k += dv)
            bits[((b * s.numHeads + h) * s.queryLen + q) * s.kvLen + k] =
                (word >> (k / dv)) & 1;
        }
  return bits;
}

/// philox::keep for the same weights.
inline std::vector<uint8_t> philoxMask(const mlir::attn::AttentionSpec &s,
                                       int64_t seed, int64_t offset) {
  namespace philox = mlir::attn::philox;
  std::vector<uint8_t> bits;
  uint32_t t = philox::dropThreshold(*s.dropout);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.numHeads; ++h)
      for (int64_t q = 0; q < s.queryLen; ++q)
        for (int64_t k = 0; k < s.kvLen; ++k)
          bits.push_back(philox::keep(
              {static_cast<uint64_t>(seed), static_cast<uint32_t>(offset),
               uint32_t(b), uint32_t(h), uint32_t(s.numHeads), uint32_t(q),
               uint32_t(k)},
              t));
  return bits;
}

inline int64_t mismatches(const std::vector<uint8_t> &a,
                          const std::vector<uint8_t> &b) {
  if (a.size() != b.size())
    return -1;
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    n += a[i] != b[i];
  return n;
}

/// Runs `zero` (dropout rate 0) and `plain` (no dropout) on the same inputs
/// and expects bit-identical outputs and lse.
inline void expectSameBits(const mlir::attn::rt::KernelRef &plain,
                           const mlir::attn::rt::KernelRef &zero,
                           uint64_t seed) {
  using namespace mlir::attn::rt;
  HostBuffers with(zero->signature(), FillOptions{seed});
  AttentionArgs args = with.args();
  ASSERT_TRUE(ok(zero->run(args)));
  int64_t outBytes = args.output.numElements() * dtypeBytes(args.output.dtype);
  int64_t lseBytes = args.lse->numElements() * 4;
  std::vector<char> out(outBytes), lse(lseBytes);
  std::memcpy(out.data(), args.output.data, outBytes);
  std::memcpy(lse.data(), args.lse->data, lseBytes);
  with.resetOutputs();
  args.dropoutState.reset();
  ASSERT_TRUE(ok(plain->run(args)));
  EXPECT_EQ(std::memcmp(out.data(), args.output.data, outBytes), 0);
  EXPECT_EQ(std::memcmp(lse.data(), args.lse->data, lseBytes), 0);
}

} // namespace attn_test

#endif
