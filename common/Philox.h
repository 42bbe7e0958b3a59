//===- Philox.h - Philox4x32-10 and the dropout keep bit -------*- C++ -*-===//
//
// The one definition of attn's dropout random stream (issue 13, part 2).
// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2,
// 3", SC'11) is counter based: the random words of an element are a pure
// function of (key, counter), so every kernel -- CPU or GPU, any tiling,
// any split, any thread count -- regenerates the same mask bit for bit by
// computing the counter of the element it touches. docs/convert.md
// ("Philox") states the mapping of (seed, offset, batch, head, query, key)
// onto the counter and key words; kernels must follow it exactly.
//
// Header-only and dependency-free (no LLVM, no MLIR) on purpose: passes/
// emit the same arithmetic as IR, runtime/ and the float64 references call
// it directly, and a CUDA kernel can include it as host/device code.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COMMON_PHILOX_H
#define ATTN_COMMON_PHILOX_H

#include <array>
#include <cstdint>

namespace mlir::attn::philox {

using Counter = std::array<uint32_t, 4>;
using Key = std::array<uint32_t, 2>;

/// Random123's Philox4x32 constants: the round multipliers and the Weyl
/// key increments (golden ratio and sqrt(3) - 1).
inline constexpr uint32_t kMul0 = 0xD2511F53u;
inline constexpr uint32_t kMul1 = 0xCD9E8D57u;
inline constexpr uint32_t kWeyl0 = 0x9E3779B9u;
inline constexpr uint32_t kWeyl1 = 0xBB67AE85u;
inline constexpr int kRounds = 10;

/// One Philox round: two 32x32->64 products, their halves xor-ed with the
/// other words and the key, and a word permutation.
constexpr Counter round(const Counter &c, const Key &k) {
  uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
  uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
  uint32_t hi0 = static_cast<uint32_t>(p0 >> 32),
           lo0 = static_cast<uint32_t>(p0);
  uint32_t hi1 = static_cast<uint32_t>(p1 >> 32),
           lo1 = static_cast<uint32_t>(p1);
  return {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
}

/// Philox4x32-10: ten rounds, the key bumped by the Weyl constants between
/// rounds (wrapping).
constexpr Counter philox4x32_10(Counter c, Key k) {
  for (int r = 0; r < kRounds; ++r) {
    if (r > 0) {
      k[0] += kWeyl0;
      k[1] += kWeyl1;
    }
    c = round(c, k);
  }
  return c;
}

/// Where one attention-weight element sits in the stream (see
/// docs/convert.md): the key is the 64-bit seed; the counter is
/// (keyIndex / 4, query, batch * numHeads + head, offset), and the element
/// reads output word keyIndex % 4. Four consecutive keys of a row share one
/// Philox call, which is how kernels vectorise it.
struct Element {
  uint64_t seed = 0;
  uint32_t offset = 0;
  uint32_t batch = 0, head = 0, numHeads = 1;
  uint32_t query = 0, key = 0;
};

constexpr Key keyOf(uint64_t seed) {
  return {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
}

constexpr Counter counterOf(const Element &e) {
  return {e.key >> 2, e.query, e.batch * e.numHeads + e.head, e.offset};
}

/// The 32-bit random word of one element.
constexpr uint32_t word(const Element &e) {
  return philox4x32_10(counterOf(e), keyOf(e.seed))[e.key & 3u];
}

/// The drop threshold of probability p (0 <= p < 1): a word below it is
/// dropped, so P(keep) = (2^32 - threshold) / 2^32, which is 1 - p to
/// within 2^-32. p = 0 gives 0: every element is kept.
constexpr uint32_t dropThreshold(double p) {
  if (!(p > 0.0))
    return 0;
  double t = p * 4294967296.0;
  return t >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(t);
}

/// True when the element survives dropout with threshold `threshold`.
constexpr bool keep(uint32_t randomWord, uint32_t threshold) {
  return randomWord >= threshold;
}
constexpr bool keep(const Element &e, uint32_t threshold) {
  return keep(word(e), threshold);
}

} // namespace mlir::attn::philox

#endif
