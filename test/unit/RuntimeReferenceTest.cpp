//===- RuntimeReferenceTest.cpp - the oracle on hand-computed cases -------===//
//
// The float64 reference judges every kernel, so it is checked here against
// results worked out by hand, and the comparison logic against outputs
// known to be wrong (NaN never passes).
//
//===----------------------------------------------------------------------===//
#include "SpecTestUtils.h"

#include "runtime/Check.h"
#include "runtime/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <numeric>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Dense f32 buffers for a spec, filled by the test.
struct Problem {
  explicit Problem(AttentionSpec s) : spec(s), sig(signatureForSpec(s)) {
    auto size = [](llvm::ArrayRef<int64_t> shape) {
      return std::accumulate(shape.begin(), shape.end(), int64_t(1),
                             std::multiplies<int64_t>());
    };
    q.assign(size(s.queryShape()), 0.0f);
    k.assign(size(s.keyShape()), 0.0f);
    v.assign(size(s.valueShape()), 0.0f);
    out.assign(size(s.outputShape()), 0.0f);
    lse.assign(s.batch * s.numHeads * s.queryLen, 0.0f);
    lengths.assign(s.batch, static_cast<int32_t>(s.kvLen));
    args.query = BufferRef::contiguous(q.data(), DType::F32, s.queryShape());
    args.key = BufferRef::contiguous(k.data(), DType::F32, s.keyShape());
    args.value = BufferRef::contiguous(v.data(), DType::F32, s.valueShape());
    args.output =
        BufferRef::contiguous(out.data(), DType::F32, s.outputShape());
    if (s.returnLse)
      args.lse = BufferRef::contiguous(lse.data(), DType::F32,
                                       {s.batch, s.numHeads, s.queryLen});
    if (s.withKvLengths)
      args.kvLengths =
          BufferRef::contiguous(lengths.data(), DType::I32, {s.batch});
  }

  ReferenceResult run() {
    auto r = referenceAttention(sig, args, 2);
    EXPECT_TRUE(static_cast<bool>(r)) << llvm::toString(r.takeError());
    return r ? *r : ReferenceResult();
  }

  AttentionSpec spec;
  KernelSignature sig;
  std::vector<float> q, k, v, out, lse;
  std::vector<int32_t> lengths;
  AttentionArgs args;
};

/// Batch 1, f32, with lse: the hand-checked cases.
AttentionSpec small(int64_t hq, int64_t hkv, int64_t sq, int64_t skv,
                    int64_t d) {
  return attn_test::makeSpec(1, hq, hkv, sq, skv, d, ElementType::F32,
                             Layout::BHSD, /*lse=*/true);
}

/// q = 0: every visible key has weight 1/n, so out is the mean of V and
/// lse = log(n).
TEST(Reference, ZeroQueryAveragesValues) {
  Problem p(small(1, 1, 1, 4, 2));
  for (int j = 0; j < 4; ++j)
    p.v[j * 2] = float(j), p.v[j * 2 + 1] = 10.0f;
  ReferenceResult r = p.run();
  EXPECT_DOUBLE_EQ(r.output[0], 1.5);
  EXPECT_DOUBLE_EQ(r.output[1], 10.0);
  EXPECT_DOUBLE_EQ(r.lse[0], std::log(4.0));
}

/// Two keys, logits 0 and s: weights 1/(1+e^s), e^s/(1+e^s).
TEST(Reference, TwoKeysByHand) {
  Problem p(small(1, 1, 1, 2, 1));
  p.spec.scale = 1.0f;
  p.sig = signatureForSpec(p.spec);
  p.q[0] = 2.0f;
  p.k[0] = 0.0f, p.k[1] = 1.0f; // logits 0, 2
  p.v[0] = 1.0f, p.v[1] = -1.0f;
  ReferenceResult r = p.run();
  double w1 = std::exp(2.0) / (1 + std::exp(2.0));
  EXPECT_NEAR(r.output[0], (1 - w1) - w1, 1e-15);
  EXPECT_NEAR(r.lse[0], std::log(1 + std::exp(2.0)), 1e-15);
}

TEST(Reference, DefaultScaleIsInverseSqrtD) {
  Problem p(small(1, 1, 1, 2, 4));
  std::fill(p.q.begin(), p.q.end(), 1.0f);
  for (int c = 0; c < 4; ++c)
    p.k[4 + c] = 1.0f; // logits 0 and 4 * (1/sqrt(4)) = 2
  ReferenceResult r = p.run();
  EXPECT_NEAR(r.lse[0], std::log(1 + std::exp(2.0)), 1e-7);
}

TEST(Reference, SoftcapBoundsLogits) {
  Problem p(small(1, 1, 1, 1, 1));
  p.spec.scale = 1.0f;
  p.spec.softcap = 5.0f;
  p.sig = signatureForSpec(p.spec);
  p.q[0] = 100.0f;
  p.k[0] = 1.0f;
  ReferenceResult r = p.run();
  // One key: lse is its (capped) logit.
  EXPECT_NEAR(r.lse[0], 5.0 * std::tanh(100.0 / 5.0), 1e-12);
}

/// Causal row 0 sees only key 0; an empty kv_length row sees nothing.
TEST(Reference, CausalAndEmptyRows) {
  AttentionSpec s = small(1, 1, 3, 3, 1);
  s.batch = 2;
  s.mask.causal = true;
  s.withKvLengths = true;
  Problem p(s);
  p.lengths[1] = 0; // buffers point into the vectors: no reallocation
  for (int j = 0; j < 6; ++j)
    p.v[j] = float(j + 1);
  ReferenceResult r = p.run();
  EXPECT_DOUBLE_EQ(r.output[0], 1.0); // b0 q0: only v0
  EXPECT_DOUBLE_EQ(r.output[1], 1.5); // b0 q1: mean of v0, v1
  EXPECT_DOUBLE_EQ(r.lse[0], 0.0);    // log(1)
  for (int q = 0; q < 3; ++q) {       // b1: nothing visible
    EXPECT_EQ(r.output[3 + q], 0.0);
    EXPECT_EQ(r.lse[3 + q], -kInf);
  }
}

/// Query head h reads K/V head h / (Hq / Hkv).
TEST(Reference, GqaHeadMapping) {
  Problem p(small(4, 2, 1, 1, 1));
  p.v[0] = 1.0f; // kv head 0
  p.v[1] = 2.0f; // kv head 1
  ReferenceResult r = p.run();
  EXPECT_EQ(r.output, (std::vector<double>{1, 1, 2, 2}));
}

/// The same logical data in bhsd and bshd gives the same results.
TEST(Reference, LayoutsAgree) {
  AttentionSpec s = small(2, 1, 3, 5, 2);
  s.mask.causal = true;
  Problem a(s);
  s.layout = Layout::BSHD;
  Problem b(s);
  auto fill = [](std::vector<float> &bhsd, std::vector<float> &bshd, int64_t h,
                 int64_t n, int64_t d, float base) {
    for (int64_t hh = 0; hh < h; ++hh)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < d; ++c) {
          float x = std::sin(base + float(hh * 31 + i * 7 + c));
          bhsd[(hh * n + i) * d + c] = x;
          bshd[(i * h + hh) * d + c] = x;
        }
  };
  fill(a.q, b.q, 2, 3, 2, 0.1f);
  fill(a.k, b.k, 1, 5, 2, 0.7f);
  fill(a.v, b.v, 1, 5, 2, 1.3f);
  ReferenceResult ra = a.run(), rb = b.run();
  EXPECT_EQ(ra.output, rb.output);
  EXPECT_EQ(ra.lse, rb.lse);
}

/// Structured masks follow MaskSpec::allows with q_offset applied.
TEST(Reference, MaskOffsetAndWindow) {
  AttentionSpec s = small(1, 1, 1, 8, 1);
  s.mask.causal = true;
  s.mask.qOffset = 5;    // the query sits at position 5
  s.mask.windowLeft = 1; // sees keys 4 and 5
  s.mask.windowRight = 0;
  Problem p(s);
  for (int j = 0; j < 8; ++j)
    p.v[j] = float(j);
  ReferenceResult r = p.run();
  EXPECT_DOUBLE_EQ(r.output[0], 4.5);
  EXPECT_DOUBLE_EQ(r.lse[0], std::log(2.0));
}

//===----------------------------------------------------------------------===//
// checkAgainstReference
//===----------------------------------------------------------------------===//

struct CheckFixture : ::testing::Test {
  CheckFixture() : p(small(1, 1, 2, 2, 1)) {
    ref.output = {0.5, -0.25};
    ref.lse = {1.0, -kInf};
    p.out[0] = 0.5f, p.out[1] = -0.25f;
    p.lse[0] = 1.0f, p.lse[1] = -std::numeric_limits<float>::infinity();
  }
  CheckReport check() {
    return checkAgainstReference(p.sig, p.args, ref, toleranceFor(DType::F32));
  }
  Problem p;
  ReferenceResult ref;
};

TEST_F(CheckFixture, ExactPasses) { EXPECT_TRUE(check().passed); }

TEST_F(CheckFixture, NanNeverPasses) {
  p.out[1] = std::nanf("");
  CheckReport r = check();
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.badValues, 1);
  EXPECT_NE(r.firstFailure.find("output[0, 0, 1, 0] = nan"), std::string::npos)
      << r.firstFailure;
}

TEST_F(CheckFixture, InfinityNeverPasses) {
  p.out[0] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(check().passed);
}

TEST_F(CheckFixture, ErrorPastToleranceFails) {
  p.out[0] = 0.5f + 2e-5f; // rel err 4e-5 > 2e-5
  CheckReport r = check();
  EXPECT_FALSE(r.passed);
  EXPECT_NEAR(r.maxRelError, 4e-5, 1e-6);
  p.out[0] = 0.5f + 5e-6f;
  EXPECT_TRUE(check().passed);
}

TEST_F(CheckFixture, LseMustBeMinusInfWhereNothingIsVisible) {
  p.lse[1] = 0.0f;
  EXPECT_FALSE(check().passed);
  p.lse[1] = std::nanf("");
  EXPECT_FALSE(check().passed);
}

TEST_F(CheckFixture, AllZeroReferenceDemandsZeros) {
  ref.output = {0.0, 0.0};
  p.out[0] = 0.0f, p.out[1] = 1e-30f;
  EXPECT_FALSE(check().passed);
  p.out[1] = 0.0f;
  EXPECT_TRUE(check().passed);
}

TEST(Tolerance, PerDtype) {
  EXPECT_EQ(toleranceFor(DType::F32).output, 2e-5);
  EXPECT_EQ(toleranceFor(DType::F16).output, 2e-3);
  EXPECT_EQ(toleranceFor(DType::BF16).output, 1.6e-2);
}

} // namespace
