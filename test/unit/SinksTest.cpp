//===- SinksTest.cpp - attention sinks: reference, binding, spec ----------===//
//
// attn.attention's `sinks` operand ([Hq] f32 logits in every row's softmax
// denominator, no value row). The compiled kernels are checked against the
// float64 reference in RuntimeNumericsTest.cpp (the Sinks/ cases); here the
// reference itself is checked against an identity that needs no sink code:
// with a sink s, out' = out * Z / (Z + e^s) and lse' = log(e^lse + e^s),
// where out, lse and Z = e^lse come from the same rows without sinks. Then
// the buffer binding errors and the spec shorthand.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"
#include "SpecTestUtils.h"

#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

#include <cmath>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::errorOf;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::specOf;
using attn_test::testSeed;

namespace {

/// The reference with sinks against the same rows without them.
TEST(SinksReference, MatchesTheSinkIdentity) {
  AttentionSpec s = specOf("gqa:b=2,hq=4,hkv=2,sq=9,skv=21,d=16,dv=8,causal,"
                           "offset=12,window=5:-1,ragged,lse,sinks");
  KernelSignature with = signatureForSpec(s);
  HostBuffers buffers(with, FillOptions{testSeed()});
  buffers.setKvLengths({0, 21}); // batch 0 sees nothing
  AttentionSpec plainSpec = s;
  plainSpec.withSinks = false;
  AttentionArgs plainArgs = buffers.args();
  plainArgs.sinks.reset();
  auto a = referenceAttention(with, buffers.args());
  auto b = referenceAttention(signatureForSpec(plainSpec), plainArgs);
  ASSERT_TRUE(a && b);
  const BufferRef &sinks = *buffers.args().sinks;
  int64_t dv = s.effectiveValueDim();
  for (int64_t r = 0; r < s.batch * s.numHeads * s.queryLen; ++r) {
    int64_t h = (r / s.queryLen) % s.numHeads;
    double sink = loadAsDouble(sinks, h * sinks.effectiveStrides()[0]);
    double lse = b->lse[r];
    double keep = std::isinf(lse) ? 0 : 1 / (1 + std::exp(sink - lse));
    double want =
        std::isinf(lse) ? sink : std::log(std::exp(lse) + std::exp(sink));
    EXPECT_NEAR(a->lse[r], want, 1e-12) << "row " << r;
    for (int64_t c = 0; c < dv; ++c)
      EXPECT_NEAR(a->output[r * dv + c], b->output[r * dv + c] * keep, 1e-12);
  }
}

TEST(SinksBinding, WrongSizeOrMissingBufferNamesTheOperand) {
  AttentionSpec s = specOf("gqa:hq=8,hkv=2,sq=5,skv=7,d=16,sinks");
  auto kernel = sharedRuntime().compile(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  HostBuffers buffers((*kernel)->signature(), FillOptions{1});
  AttentionArgs args = buffers.args();
  float small[4] = {};
  args.sinks = BufferRef::contiguous(small, DType::F32, {4});
  EXPECT_EQ(errorOf((*kernel)->run(args)),
            "sinks: shape [4] but the kernel expects [8]");
  std::vector<uint16_t> halves(8);
  args.sinks = BufferRef::contiguous(halves.data(), DType::BF16, {8});
  EXPECT_EQ(errorOf((*kernel)->run(args)),
            "sinks: dtype bf16 but the kernel expects f32");
  args.sinks.reset();
  EXPECT_EQ(errorOf((*kernel)->run(args)),
            "sinks: missing; the kernel needs this buffer");

  AttentionSpec plainSpec = s;
  plainSpec.withSinks = false;
  std::vector<float> sinks(8);
  EXPECT_EQ(attn_test::runErrorWith(
                plainSpec, ArgRole::Sinks,
                BufferRef::contiguous(sinks.data(), DType::F32, {8})),
            "sinks: given, but the kernel takes no such buffer");
}

TEST(SinksSpec, ShorthandAndKeyRoundTrip) {
  std::string error;
  auto spec = parseSpecShorthand("gqa:hq=8,hkv=2,s=64,d=64,sinks", error);
  ASSERT_TRUE(spec.has_value()) << error;
  EXPECT_TRUE(spec->withSinks);
  EXPECT_NE(spec->key().find(",sinks"), std::string::npos);
  auto again = parseSpecShorthand(spec->key(), error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(*again, *spec);
  KernelSignature sig = signatureForSpec(*spec);
  const ArgInfo *sinks = sig.find(ArgRole::Sinks);
  ASSERT_NE(sinks, nullptr);
  EXPECT_EQ(sinks->dtype, DType::F32);
  EXPECT_EQ(sinks->shape, (llvm::SmallVector<int64_t, 4>{8}));
  EXPECT_FALSE(parseSpecShorthand("gqa:sinks=maybe", error).has_value());
  EXPECT_NE(error.find("sinks"), std::string::npos) << error;
}

} // namespace
