//===- BackwardNumericsTest.cpp - compiled backward vs the float64 one ----===//
//
// Every case compiles the forward (with lse) and the backward of a spec,
// runs the forward on fresh random inputs (time-based seed, printed;
// ATTN_TEST_SEED=N reproduces), feeds its output and lse with a random dO
// to the backward, and compares dQ, dK, dV with referenceAttentionBackward
// (runtime/ReferenceBackward.h, itself checked by finite differences) under
// runtime/CheckBackward.h's tolerances (normwise relative):
//
//   f32 5e-5, f16 3e-3, bf16 2e-2; NaN or inf never passes.
//
// Gradient buffers start as NaN (HostBuffers), so an element the kernel
// never writes fails. Odd lengths (not tile multiples), head dims 40, 64,
// 80, 96, 128, Hq:Hkv 1:1, 4:1, 7:1, masks, softcap, dv != d, both layouts.
//
//===----------------------------------------------------------------------===//
#include "BackwardTestUtils.h"
#include "RuntimeTestUtils.h"
#include "SpecTestUtils.h"

#include "runtime/CheckBackward.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"
#include "runtime/ReferenceBackward.h"

#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::errorOf;
using attn_test::makeSpec;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::testSeed;

namespace {

/// Buffers of the backward's signature with O and lse from the forward
/// kernel on the same inputs.
struct BackwardRun {
  BackwardRun(const AttentionSpec &spec, uint64_t seed,
              std::vector<int32_t> lengths = {})
      : sig(signatureForBackwardSpec(spec)),
        host(sig, {.seed = seed, .rowPadding = 3}) {
    if (!lengths.empty())
      host.setKvLengths(lengths);
    AttentionSpec fwd = spec;
    fwd.returnLse = true;
    auto forward = sharedRuntime().compile(fwd);
    if (!forward) {
      ADD_FAILURE() << llvm::toString(forward.takeError());
      return;
    }
    // The forward writes the backward's output and lse inputs.
    ready = ok((*forward)->run(forwardArgsOf(host.args())));
  }

  /// Runs the backward kernel and checks it; false on a failure.
  bool runAndCheck(const CompileOptions &options = {}) {
    if (!ready)
      return false;
    auto kernel =
        sharedRuntime().compileBackward(sig.spec, Target::Cpu, options);
    if (!kernel) {
      ADD_FAILURE() << llvm::toString(kernel.takeError());
      return false;
    }
    if (!ok((*kernel)->run(host.args())))
      return false;
    return attn_test::gradientsMatchReference(sig, host.args());
  }

  KernelSignature sig;
  HostBuffers host;
  bool ready = false;
};

void check(const AttentionSpec &spec, std::vector<int32_t> lengths = {},
           const CompileOptions &options = {}) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed) + " " + spec.key());
  BackwardRun run(spec, seed, std::move(lengths));
  run.runAndCheck(options);
}

TEST(BackwardNumerics, F32MhaOddLengths) {
  check(makeSpec(2, 3, 3, 37, 45, 64));
}

TEST(BackwardNumerics, F32HeadDims) {
  for (int64_t d : {40, 80, 96, 128})
    check(makeSpec(1, 2, 2, 33, 70, d));
}

TEST(BackwardNumerics, F32GqaRatios) {
  check(makeSpec(1, 8, 2, 29, 67, 64)); // 4:1
  check(makeSpec(2, 7, 1, 19, 41, 64)); // 7:1 (MQA)
}

TEST(BackwardNumerics, F32CausalOffset) {
  AttentionSpec s = makeSpec(1, 4, 2, 50, 130, 64);
  s.mask.causal = true;
  s.mask.qOffset = 80;
  check(s);
}

TEST(BackwardNumerics, F32CausalSquare) {
  AttentionSpec s = makeSpec(1, 2, 1, 200, 200, 64);
  s.mask.causal = true;
  check(s);
}

TEST(BackwardNumerics, F32SlidingWindowGlobalTokens) {
  AttentionSpec s = makeSpec(1, 4, 4, 150, 150, 64);
  s.mask.causal = true;
  s.mask.windowLeft = 40;
  check(s);
  s.mask.globalTokens = 3;
  s.mask.dilation = 2;
  check(s);
}

TEST(BackwardNumerics, F32SoftcapScaleValueDim) {
  AttentionSpec s = makeSpec(1, 4, 2, 45, 77, 64);
  s.valueDim = 48;
  s.softcap = 5.0f;
  s.scale = 0.3f;
  check(s);
}

TEST(BackwardNumerics, F32BshdRaggedFullyMaskedRows) {
  AttentionSpec s = makeSpec(3, 4, 2, 21, 90, 64);
  s.layout = Layout::BSHD;
  s.withKvLengths = true;
  s.mask.causal = true;
  s.mask.qOffset = 69;
  // Batch 1 sees nothing: its dQ must be exactly 0 (checked below; the
  // normwise rule alone would allow small values there).
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  BackwardRun run(s, seed, {90, 0, 37});
  ASSERT_TRUE(run.runAndCheck());
  const BufferRef &dq = *run.host.args().gradQuery;
  auto st = dq.effectiveStrides();
  for (int64_t q = 0; q < s.queryLen; ++q)
    for (int64_t h = 0; h < s.numHeads; ++h)
      for (int64_t c = 0; c < s.headDim; ++c)
        ASSERT_EQ(loadAsDouble(dq, st[0] + q * st[1] + h * st[2] + c), 0.0);
}

TEST(BackwardNumerics, F16AndBf16) {
  for (ElementType t : {ElementType::F16, ElementType::BF16}) {
    AttentionSpec s = makeSpec(1, 8, 2, 61, 61, 64, t);
    s.mask.causal = true;
    check(s);
    AttentionSpec w = makeSpec(2, 4, 4, 33, 97, 80, t);
    w.mask.windowLeft = 20;
    w.mask.windowRight = 5;
    w.softcap = 20.0f;
    check(w);
  }
}

// Dropout: the backward regenerates the forward's Philox keep mask; the
// reference applies it independently (common/Philox.h's scalar form), so a
// kernel that ignored or misplaced the mask in dV or dP fails here.
TEST(BackwardNumerics, DropoutF32) {
  AttentionSpec gqa = makeSpec(1, 8, 2, 61, 83, 64); // 4:1, odd lengths
  gqa.mask.causal = true;
  gqa.dropout = 0.25;
  check(gqa);
  AttentionSpec mqa = makeSpec(2, 7, 1, 19, 45, 80); // 7:1, dv != d
  mqa.valueDim = 48;
  mqa.dropout = 0.5;
  mqa.softcap = 10.0f;
  check(mqa);
  AttentionSpec ragged = makeSpec(3, 4, 2, 21, 90, 64);
  ragged.layout = Layout::BSHD;
  ragged.withKvLengths = true;
  ragged.mask.windowLeft = 30;
  ragged.dropout = 0.1;
  check(ragged, {90, 0, 37});
}

TEST(BackwardNumerics, DropoutF16AndBf16) {
  for (ElementType t : {ElementType::F16, ElementType::BF16}) {
    AttentionSpec s = makeSpec(1, 8, 2, 61, 61, 64, t);
    s.mask.causal = true;
    s.dropout = 0.2;
    check(s);
  }
}

/// dropout_p = 0 lowers to the kernel without dropout: gradients equal to
/// the bit.
TEST(BackwardNumerics, DropoutRateZeroIsBitIdenticalToNoDropout) {
  AttentionSpec plain = makeSpec(1, 4, 2, 45, 70, 64), zero = plain;
  plain.mask.causal = zero.mask.causal = true;
  zero.dropout = 0.0;
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  BackwardRun run(zero, seed);
  ASSERT_TRUE(run.runAndCheck());
  const AttentionArgs &a = run.host.args();
  std::vector<std::string> grads;
  auto bytesOf = [](const BufferRef &buf) {
    const char *p = static_cast<const char *>(buf.data);
    return std::string(p, p + buf.numElements() * dtypeBytes(buf.dtype));
  };
  for (const BufferRef *g : {&*a.gradQuery, &*a.gradKey, &*a.gradValue})
    grads.push_back(bytesOf(*g));
  auto kernel = sharedRuntime().compileBackward(plain);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  run.host.resetOutputs();
  AttentionArgs withoutState = a;
  withoutState.dropoutState.reset();
  ASSERT_TRUE(ok((*kernel)->run(withoutState)));
  EXPECT_EQ(bytesOf(*a.gradQuery), grads[0]);
  EXPECT_EQ(bytesOf(*a.gradKey), grads[1]);
  EXPECT_EQ(bytesOf(*a.gradValue), grads[2]);
}

TEST(BackwardNumerics, OtherTiles) {
  AttentionSpec s = makeSpec(1, 4, 1, 70, 100, 64);
  s.mask.causal = true;
  s.mask.qOffset = 30;
  CompileOptions o;
  o.tileRows = 16;
  o.tileKv = 32;
  check(s, {}, o);
}

/// The dQ pass is a separate loop over query blocks and no item adds into
/// another's memory: every gradient is bit-identical run to run, whatever
/// the thread count.
TEST(BackwardNumerics, Deterministic) {
  AttentionSpec s = makeSpec(2, 8, 2, 100, 130, 64);
  s.mask.causal = true;
  s.mask.qOffset = 30;
  BackwardRun run(s, testSeed());
  ASSERT_TRUE(run.runAndCheck());
  auto kernel = sharedRuntime().compileBackward(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  auto bytes = [&](const BufferRef &buf) {
    int64_t n = 1;
    for (size_t i = 0; i < buf.shape.size(); ++i)
      n += (buf.shape[i] - 1) * buf.effectiveStrides()[i];
    const char *p = static_cast<const char *>(buf.data);
    return std::string(p, p + n * 4);
  };
  const AttentionArgs &a = run.host.args();
  std::string dq = bytes(*a.gradQuery), dk = bytes(*a.gradKey),
              dv = bytes(*a.gradValue);
  for (unsigned threads : {1u, 2u, 5u}) {
    ThreadPool pool(threads);
    run.host.resetOutputs();
    ASSERT_TRUE(ok((*kernel)->run(a, pool)));
    EXPECT_EQ(bytes(*a.gradQuery), dq) << threads << " threads";
    EXPECT_EQ(bytes(*a.gradKey), dk) << threads << " threads";
    EXPECT_EQ(bytes(*a.gradValue), dv) << threads << " threads";
  }
}

TEST(BackwardErrors, BufferChecks) {
  AttentionSpec s = makeSpec(1, 4, 2, 17, 23, 64);
  BackwardRun run(s, 1);
  ASSERT_TRUE(run.ready);
  auto kernel = sharedRuntime().compileBackward(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  AttentionArgs a = run.host.args();
  a.gradKey->shape[2] = 22;
  EXPECT_NE(errorOf((*kernel)->run(a))
                .find("grad_key: shape [1, 2, 22, 64] but the kernel expects "
                      "[1, 2, 23, 64]"),
            std::string::npos);
  a = run.host.args();
  a.gradOutput.reset();
  EXPECT_NE(errorOf((*kernel)->run(a))
                .find("grad_output: missing; the kernel needs this buffer"),
            std::string::npos);
  a = run.host.args();
  a.lse->dtype = DType::F16;
  EXPECT_NE(errorOf((*kernel)->run(a))
                .find("lse: dtype f16 but the kernel expects f32"),
            std::string::npos);
  a = run.host.args();
  a.gradValue = a.value; // writing into an input
  EXPECT_NE(errorOf((*kernel)->run(a)).find("overlaps"), std::string::npos);
  a = run.host.args();
  a.sinks = a.lse;
  EXPECT_NE(errorOf((*kernel)->run(a))
                .find("sinks: given, but the kernel takes no such buffer"),
            std::string::npos);
}

TEST(BackwardErrors, CompileChecks) {
  AttentionSpec s = makeSpec(1, 4, 2, 17, 23, 64);
  s.withSinks = true;
  EXPECT_NE(errorOf(sharedRuntime().compileBackward(s))
                .find("attention sinks have no backward yet"),
            std::string::npos);
  s.withSinks = false;
  // CUDA takes f16 / bf16 only (GpuBackwardTest has the rest).
  EXPECT_NE(errorOf(sharedRuntime().compileBackward(s, Target::Cuda))
                .find("attn-gpu-backward runs f16 and bf16 on tensor cores"),
            std::string::npos);
  s.queryLen = kDynamicSize;
  EXPECT_NE(errorOf(sharedRuntime().compileBackward(s)).find("static sizes"),
            std::string::npos);
  s.queryLen = 17;
  s.numHeads = 3;
  EXPECT_NE(errorOf(sharedRuntime().compileBackward(s))
                .find("invalid attention spec"),
            std::string::npos);
}

} // namespace
