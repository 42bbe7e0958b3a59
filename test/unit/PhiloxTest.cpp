//===- PhiloxTest.cpp - Philox4x32-10 and the dropout keep bit ------------===//
//
// Known answers from Random123's kat_vectors (Salmon et al., SC'11), the
// counter mapping of docs/convert.md, and keep rates within a binomial
// bound.
//
//===----------------------------------------------------------------------===//

#include "common/Philox.h"

#include "gtest/gtest.h"

#include <cmath>
#include <set>

using namespace mlir::attn::philox;

namespace {

TEST(Philox, KnownAnswers) {
  struct Kat {
    Counter counter;
    Key key;
    Counter expected;
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat &k : kats)
    EXPECT_EQ(philox4x32_10(k.counter, k.key), k.expected);
  // constexpr: kernels' host-side constants can be computed at compile time.
  static_assert(philox4x32_10({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5u);
}

TEST(Philox, ElementMapping) {
  Element e{/*seed=*/0x0123456789abcdefull,
            /*offset=*/7,
            /*batch=*/2,
            /*head=*/3,
            /*numHeads=*/5,
            /*query=*/11,
            /*key=*/42};
  EXPECT_EQ(keyOf(e.seed), (Key{0x89abcdef, 0x01234567}));
  EXPECT_EQ(counterOf(e), (Counter{42 / 4, 11, 2 * 5 + 3, 7}));
  // Four consecutive keys read the four words of one block.
  Counter block = philox4x32_10(counterOf(e), keyOf(e.seed));
  for (uint32_t k = 40; k < 44; ++k) {
    Element ek = e;
    ek.key = k;
    EXPECT_EQ(word(ek), block[k % 4]);
  }
}

TEST(Philox, ElementsDrawDistinctWords) {
  // Over a small (batch, head, query, key, offset) box, a 32-bit collision
  // between distinct elements is possible but rare: count them against the
  // birthday bound instead of requiring none.
  std::set<uint32_t> words;
  int64_t n = 0;
  for (uint32_t b = 0; b < 3; ++b)
    for (uint32_t h = 0; h < 4; ++h)
      for (uint32_t q = 0; q < 9; ++q)
        for (uint32_t k = 0; k < 37; ++k)
          for (uint32_t off = 0; off < 2; ++off, ++n)
            words.insert(word({1234, off, b, h, 4, q, k}));
  // Expected collisions n^2 / 2^33 ~ 0.0014 for n = 7992.
  EXPECT_GE(static_cast<int64_t>(words.size()), n - 2);
  // A different seed gives a different stream.
  EXPECT_NE(word({1, 0, 0, 0, 1, 0, 0}), word({2, 0, 0, 0, 1, 0, 0}));
}

TEST(Philox, Threshold) {
  EXPECT_EQ(dropThreshold(0.0), 0u);
  EXPECT_EQ(dropThreshold(-0.5), 0u);
  EXPECT_EQ(dropThreshold(0.5), 0x80000000u);
  EXPECT_EQ(dropThreshold(0.25), 0x40000000u);
  EXPECT_EQ(dropThreshold(1.0 - 1e-12), 0xFFFFFFFFu);
  // p = 0 keeps every element, whatever its word.
  EXPECT_TRUE(keep(0u, dropThreshold(0.0)));
  EXPECT_TRUE(keep(0xFFFFFFFFu, dropThreshold(0.9)));
  EXPECT_FALSE(keep(0u, dropThreshold(0.1)));
}

TEST(Philox, KeepRateWithinBinomialBound) {
  // Keep counts of n Bernoulli(1 - p) draws: |count - n(1-p)| <= 6 sigma
  // (a false failure has probability ~2e-9 per rate), for an odd-sized
  // [B, H, Sq, Sk] box so that partial Philox blocks are exercised.
  const uint32_t B = 2, H = 3, Sq = 37, Sk = 131;
  for (double p : {0.0, 0.1, 0.5, 0.9}) {
    uint32_t t = dropThreshold(p);
    int64_t kept = 0, n = 0;
    for (uint32_t b = 0; b < B; ++b)
      for (uint32_t h = 0; h < H; ++h)
        for (uint32_t q = 0; q < Sq; ++q)
          for (uint32_t k = 0; k < Sk; ++k, ++n)
            kept += keep({0x5eed, 3, b, h, H, q, k}, t);
    double mean = n * (1 - p), sigma = std::sqrt(n * p * (1 - p));
    EXPECT_LE(std::fabs(kept - mean), 6 * sigma + 1e-9)
        << "p = " << p << ": kept " << kept << " of " << n;
  }
}

} // namespace
