//===- DropoutTest.cpp - dropout on the attention weights (CPU) -----------===//
//
// attn.attention's dropout_p with its [seed, offset] state. Three kinds of
// check:
//
// - the compiled kernels against the float64 reference, which regenerates
//   the Philox stream of common/Philox.h: tolerances of runtime/Check.h
//   (f32 2e-5, f16 2e-3, bf16 1.6e-2 normwise; lse 2e-5, the lse being
//   the undropped one), over odd lengths, d 40/64/96, GQA 1:1/4:1/7:1,
//   causal + window, ragged batches, bshd, decode with KV splits;
// - the mask itself, read back from a kernel bit for bit: with q = 0 every
//   logit is 0, so each weight is 1/n, and V = e_(k mod Dv) · 2^(k / Dv)
//   makes output column c the binary number of the keep bits of keys
//   c, c + Dv, ... of its row. Those bits must equal philox::keep for
//   every (b, h, q, k), whatever the tile sizes, thread count, split count
//   or run-time sizes: the contract a GPU kernel must meet too;
// - keep rates within 5 sigma of the binomial mean over ~1e6 weights, p = 0
//   bit-identical to the kernel without dropout, seed and offset changing
//   the mask, and the error paths.
//
//===----------------------------------------------------------------------===//
#include "DropoutTestUtils.h"
#include "ReferenceTestUtils.h"
#include "RuntimeTestUtils.h"

#include "common/Philox.h"
#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

#include <cmath>
#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::decodeMaskProbe;
using attn_test::errorOf;
using attn_test::expectSameBits;
using attn_test::fillMaskProbe;
using attn_test::mismatches;
using attn_test::ok;
using attn_test::philoxMask;
using attn_test::runErrorWith;
using attn_test::setDropoutState;
using attn_test::sharedRuntime;
using attn_test::specOf;
using attn_test::testSeed;

namespace {

struct NumericsCase {
  const char *shorthand;
  std::vector<int32_t> kvLengths = {};
};

class DropoutNumerics : public ::testing::TestWithParam<NumericsCase> {};

TEST_P(DropoutNumerics, MatchesReference) {
  AttentionSpec s = specOf(GetParam().shorthand);
  uint64_t seed = testSeed();
  SCOPED_TRACE("spec " + s.key() + ", seed " + std::to_string(seed) +
               " (rerun with ATTN_TEST_SEED=" + std::to_string(seed) + ")");
  auto kernel = sharedRuntime().compile(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  const KernelSignature &sig = (*kernel)->signature();
  HostBuffers buffers(sig, FillOptions{seed});
  if (!GetParam().kvLengths.empty())
    buffers.setKvLengths(GetParam().kvLengths);
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
  attn_test::expectMatchesReference(sig, buffers);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DropoutNumerics,
    ::testing::Values(
        NumericsCase{"mha:b=2,h=3,s=77,d=64,dtype=f32,lse,dropout=0.1"},
        NumericsCase{"gqa:hq=8,hkv=2,sq=65,skv=130,d=40,dtype=f16,causal,"
                     "lse,dropout=0.5"},
        NumericsCase{"gqa:hq=7,hkv=1,sq=33,skv=93,d=96,dtype=bf16,causal,"
                     "offset=60,window=17:-1,lse,dropout=0.3"},
        NumericsCase{"gqa:b=3,hq=4,hkv=1,sq=31,skv=70,d=64,dtype=f32,"
                     "layout=bshd,window=9:3,ragged,lse,dropout=0.2",
                     {0, 70, 41}},
        NumericsCase{"gqa:b=1,hq=8,hkv=2,sq=1,skv=3001,d=64,dtype=f32,lse,"
                     "dropout=0.5"},
        NumericsCase{"gqa:b=2,hq=8,hkv=2,sq=1,skv=2050,d=96,dtype=bf16,"
                     "ragged,sinks,lse,dropout=0.9",
                     {2050, 1000}}),
    [](const ::testing::TestParamInfo<NumericsCase> &info) {
      return "case" + std::to_string(info.index);
    });

/// The keep bits of every weight of one kernel run (DropoutTestUtils.h):
/// [B, Hq, Sq, Skv] in logical order, 1 for kept. Needs an f32 spec without
/// masks and Skv / Dv <= 16 (the bits of a column stay exact in f32).
std::vector<uint8_t> maskOf(const AttentionSpec &s, const CompileOptions &opts,
                            unsigned threads, int64_t seed, int64_t offset) {
  auto kernel = sharedRuntime().compile(s, Target::Cpu, opts);
  EXPECT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  if (!kernel)
    return {};
  EXPECT_EQ(s.dtype, ElementType::F32);
  HostBuffers buffers((*kernel)->signature(), FillOptions{1});
  setDropoutState(buffers, seed, offset);
  fillMaskProbe(s, buffers.args());
  ThreadPool pool(threads);
  EXPECT_TRUE(ok((*kernel)->run(buffers.args(), pool)));
  return decodeMaskProbe(s, buffers.args());
}

TEST(DropoutMask, EqualsPhiloxForEveryTilingThreadCountAndSplit) {
  // Prefill (GQA 2:1, odd Sq) and decode (Sq = 1: two KV splits of 1024
  // keys for 4 items on a 2-core budget, more on bigger hosts).
  const int64_t seed = 0x0123456789abcdefll, offset = 12345;
  for (const char *shorthand :
       {"gqa:b=2,hq=4,hkv=2,sq=37,skv=700,d=16,dv=64,dropout=0.5",
        "gqa:b=2,hq=4,hkv=2,sq=1,skv=2040,d=16,dv=256,dropout=0.25"}) {
    AttentionSpec s = specOf(shorthand);
    std::vector<uint8_t> want = philoxMask(s, seed, offset);
    struct Variant {
      int64_t tileRows, tileKv;
      bool runTimeSizes;
      unsigned threads;
    };
    for (Variant v : {Variant{64, 64, true, 1}, Variant{16, 16, true, 2},
                      Variant{32, 128, false, 3}, Variant{8, 32, false, 1}}) {
      CompileOptions opts;
      opts.tileRows = v.tileRows;
      opts.tileKv = v.tileKv;
      opts.runTimeSizes = v.runTimeSizes;
      EXPECT_EQ(mismatches(maskOf(s, opts, v.threads, seed, offset), want), 0)
          << shorthand << " tile-rows " << v.tileRows << " tile-kv " << v.tileKv
          << " run-time sizes " << v.runTimeSizes << " threads " << v.threads;
    }
  }
}

TEST(DropoutMask, KeepRateWithinBinomialBound) {
  // 8 * 128 * 1020 = 1,044,480 weights per rate; |kept - n(1-p)| <= 5 sigma
  // (a false failure has probability ~6e-7 per rate).
  for (double p : {0.1, 0.5, 0.9}) {
    AttentionSpec s = specOf("mha:h=8,sq=128,skv=1020,d=16,dv=256");
    s.dropout = p;
    std::vector<uint8_t> bits = maskOf(s, {}, 2, 0x5eed, 7);
    ASSERT_FALSE(bits.empty());
    double n = static_cast<double>(bits.size());
    double kept = 0;
    for (uint8_t bit : bits)
      kept += bit;
    double sigma = std::sqrt(n * p * (1 - p));
    EXPECT_LE(std::fabs(kept - n * (1 - p)), 5 * sigma)
        << "p = " << p << ": kept " << kept << " of " << n;
    EXPECT_EQ(mismatches(bits, philoxMask(s, 0x5eed, 7)), 0) << "p = " << p;
  }
}

TEST(DropoutMask, SeedAndOffsetChangeTheMask) {
  AttentionSpec s = specOf("mha:h=2,sq=9,skv=200,d=16,dv=64,dropout=0.5");
  std::vector<uint8_t> base = maskOf(s, {}, 1, 1, 0);
  int64_t n = static_cast<int64_t>(base.size());
  // Independent masks at p = 1/2 differ in about half the weights.
  for (auto [seed, offset] : {std::pair<int64_t, int64_t>{2, 0}, {1, 1}}) {
    int64_t differ = mismatches(maskOf(s, {}, 1, seed, offset), base);
    EXPECT_GT(differ, n / 2 - 5 * std::sqrt(n / 4.0));
    EXPECT_LT(differ, n / 2 + 5 * std::sqrt(n / 4.0));
  }
  EXPECT_EQ(mismatches(maskOf(s, {}, 1, 1, 0), base), 0);
}

TEST(Dropout, RateZeroIsBitIdenticalToNoDropout) {
  for (const char *shorthand :
       {"gqa:b=2,hq=8,hkv=2,sq=65,skv=130,d=64,causal,lse",
        "gqa:b=1,hq=4,hkv=1,sq=1,skv=3001,d=64,dtype=bf16,lse"}) {
    AttentionSpec plain = specOf(shorthand), zero = plain;
    zero.dropout = 0.0;
    auto a = sharedRuntime().compile(plain);
    auto b = sharedRuntime().compile(zero);
    ASSERT_TRUE(a && b);
    SCOPED_TRACE(shorthand);
    expectSameBits(*a, *b, testSeed());
  }
}

TEST(Dropout, StateBindingErrorsNameTheBuffer) {
  AttentionSpec s = specOf("gqa:hq=8,hkv=2,sq=5,skv=7,d=16,dropout=0.1");
  int32_t narrow[2] = {};
  EXPECT_EQ(runErrorWith(s, ArgRole::DropoutState,
                         BufferRef::contiguous(narrow, DType::I32, {2})),
            "dropout_state: dtype i32 but the kernel expects i64");
  int64_t three[3] = {};
  EXPECT_EQ(runErrorWith(s, ArgRole::DropoutState,
                         BufferRef::contiguous(three, DType::I64, {3})),
            "dropout_state: shape [3] but the kernel expects [2]");
  auto kernel = sharedRuntime().compile(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  HostBuffers buffers((*kernel)->signature(), FillOptions{1});
  AttentionArgs args = buffers.args();
  args.dropoutState.reset();
  EXPECT_EQ(errorOf((*kernel)->run(args)),
            "dropout_state: missing; the kernel needs this buffer");

  AttentionSpec plainSpec = s;
  plainSpec.dropout.reset();
  int64_t state[2] = {1, 2};
  EXPECT_EQ(runErrorWith(plainSpec, ArgRole::DropoutState,
                         BufferRef::contiguous(state, DType::I64, {2})),
            "dropout_state: given, but the kernel takes no such buffer");
}

TEST(Dropout, SpecShorthandValidationAndBackward) {
  std::string error;
  auto s = parseSpecShorthand("gqa:hq=8,hkv=2,s=64,d=64,dropout=0.125", error);
  ASSERT_TRUE(s.has_value()) << error;
  ASSERT_TRUE(s->dropout.has_value());
  EXPECT_EQ(*s->dropout, 0.125);
  EXPECT_NE(s->key().find(",dropout=0.125"), std::string::npos) << s->key();
  auto again = parseSpecShorthand(s->key(), error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(*again, *s);
  KernelSignature sig = signatureForSpec(*s); // find() points into it
  const ArgInfo *state = sig.find(ArgRole::DropoutState);
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->dtype, DType::I64);
  EXPECT_EQ(state->shape, (llvm::SmallVector<int64_t, 4>{2}));

  for (const char *bad : {"mha:dropout=1", "mha:dropout=-0.1",
                          "mha:dropout=nan", "mha:dropout=x", "mha:dropout"}) {
    EXPECT_FALSE(parseSpecShorthand(bad, error).has_value()) << bad;
    EXPECT_NE(error.find("dropout"), std::string::npos) << bad << ": " << error;
  }
  AttentionSpec big = *s;
  big.dropout = 1.0;
  EXPECT_EQ(big.validate(), "dropout must be in [0, 1)");

  // The backward takes the forward's state too (BackwardNumerics.Dropout*
  // checks its gradients).
  KernelSignature grad = signatureForBackwardSpec(*s);
  const ArgInfo *gradState = grad.find(ArgRole::DropoutState);
  ASSERT_NE(gradState, nullptr);
  EXPECT_EQ(gradState->shape, (llvm::SmallVector<int64_t, 4>{2}));
}

} // namespace
