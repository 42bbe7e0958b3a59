//===- RuntimeAmxTest.cpp - bf16 prefill on AMX vs the float64 reference --===//
//
// bf16 prefill kernels compiled with CompileOptions::bf16Matmul "amx" (Q·Kᵀ
// and P·V as AMX tile products, P rounded to bf16) and "fma" (the f32
// kernel's code on widened inputs), each checked against
// runtime/Reference.cpp under runtime/Check.h's bf16 tolerance: 1.6e-2
// normwise relative output error, lse 2e-5 relative to max(1, |lse|); NaN
// never passes. Rounding P to bf16 adds at most 2^-9 relative per
// probability (the sum stays f32), far inside the tolerance: measured
// errors are printed per case. The AMX cases skip on a CPU without
// AMX-BF16 (or an OS that does not grant the tile state). Fresh random
// inputs per run (ATTN_TEST_SEED=N reproduces).
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"
#include "SpecTestUtils.h"

#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"
#include "runtime/Target.h"

#include <cstdio>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::testSeed;

namespace {

struct AmxCase {
  std::string name;
  AttentionSpec spec;
  bool amxApplies = true; ///< false: sizes AMX does not take (FMA code)
};

std::ostream &operator<<(std::ostream &os, const AmxCase &c) {
  return os << c.spec.key();
}

/// Head dims 40/64/96/128, odd lengths (a partial last KV tile, padded
/// query rows), causal and sliding windows, GQA 1:1, 4:1 and 7:1, both
/// layouts.
std::vector<AmxCase> amxCases() {
  std::vector<AmxCase> cases;
  auto add = [&](const char *name, int64_t hq, int64_t hkv, int64_t s,
                 int64_t d, Layout layout, void (*mask)(AttentionSpec &)) {
    AttentionSpec spec = attn_test::makeSpec(1, hq, hkv, s, s, d,
                                             ElementType::BF16, layout, true);
    mask(spec);
    cases.push_back({name, spec});
  };
  auto none = [](AttentionSpec &) {};
  auto causal = [](AttentionSpec &s) { s.mask.causal = true; };
  auto window = [](AttentionSpec &s) {
    s.mask.causal = true;
    s.mask.windowLeft = 37;
  };
  add("mha_d64_s1", 2, 2, 1, 64, Layout::BHSD, none);
  cases.back().amxApplies = false; // one query row per head: FMA code
  add("mha_d40_s77", 2, 2, 77, 40, Layout::BHSD, none);
  add("mha_d64_s130_causal", 2, 2, 130, 64, Layout::BSHD, causal);
  add("gqa4_d96_s129_causal", 8, 2, 129, 96, Layout::BHSD, causal);
  add("gqa4_d128_s200_window", 4, 1, 200, 128, Layout::BSHD, window);
  add("gqa7_d64_s65_causal", 7, 1, 65, 64, Layout::BHSD, causal);
  add("gqa7_d128_s97", 7, 1, 97, 128, Layout::BHSD, none);
  add("mha_d40_s257_window", 1, 1, 257, 40, Layout::BSHD, window);
  return cases;
}

KernelRef compileWith(const AttentionSpec &spec, const char *mode) {
  CompileOptions options;
  options.bf16Matmul = mode;
  auto kernel = sharedRuntime().compile(spec, Target::Cpu, options);
  EXPECT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  return kernel ? std::move(*kernel) : KernelRef();
}

/// Runs `kernel` on `buffers` (outputs reset to NaN first) and checks it.
CheckReport runChecked(const Kernel &kernel, HostBuffers &buffers) {
  buffers.resetOutputs();
  EXPECT_TRUE(ok(kernel.run(buffers.args())));
  auto ref = referenceAttention(kernel.signature(), buffers.args());
  EXPECT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  if (!ref)
    return {};
  EXPECT_EQ(buffers.strayWrites(), "");
  return checkAgainstReference(kernel.signature(), buffers.args(), *ref,
                               toleranceFor(DType::BF16));
}

/// The bytes of the output and lse.
std::string resultBytes(const AttentionArgs &args) {
  std::string bytes;
  auto add = [&](const BufferRef &buf) {
    bytes.append(static_cast<const char *>(buf.data),
                 buf.numElements() * dtypeBytes(buf.dtype));
  };
  add(args.output);
  if (args.lse)
    add(*args.lse);
  return bytes;
}

class AmxNumerics : public ::testing::TestWithParam<AmxCase> {};

TEST_P(AmxNumerics, BothPathsMatchReference) {
  const AmxCase &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("spec " + c.spec.key() + ", seed " + std::to_string(seed) +
               " (rerun with ATTN_TEST_SEED=" + std::to_string(seed) + ")");
  KernelRef fmaKernel = compileWith(c.spec, "fma");
  ASSERT_TRUE(fmaKernel);
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers(fmaKernel->signature(), fill);
  CheckReport fma = runChecked(*fmaKernel, buffers);
  EXPECT_TRUE(fma.passed) << "fma: " << fma.summary();
  if (resolveBf16Matmul("auto", "") != "amx")
    GTEST_SKIP() << "no AMX-BF16 here (or no tile state from the OS)";
  std::string fmaBytes = resultBytes(buffers.args());
  KernelRef amxKernel = compileWith(c.spec, "amx");
  ASSERT_TRUE(amxKernel);
  CheckReport amx = runChecked(*amxKernel, buffers);
  EXPECT_TRUE(amx.passed) << "amx: " << amx.summary();
  std::printf("%s: fma %s; amx %s\n", c.name.c_str(), fma.summary().c_str(),
              amx.summary().c_str());
  // The same inputs through the two paths: other summation orders and P
  // rounded to bf16 change low bits somewhere, so equal results would mean
  // the AMX code never ran.
  if (c.amxApplies)
    EXPECT_TRUE(resultBytes(buffers.args()) != fmaBytes)
        << "amx and fma results are bit-identical";
}

INSTANTIATE_TEST_SUITE_P(Bf16, AmxNumerics, ::testing::ValuesIn(amxCases()),
                         [](const ::testing::TestParamInfo<AmxCase> &info) {
                           return info.param.name;
                         });

TEST(AmxOptions, BadValueIsAnError) {
  CompileOptions options;
  options.bf16Matmul = "vnni";
  std::string err = attn_test::errorOf(sharedRuntime().compile(
      attn_test::makeSpec(1, 1, 1, 16, 16, 64, ElementType::BF16), Target::Cpu,
      options));
  EXPECT_NE(err.find("bf16-matmul must be auto, amx or fma"), std::string::npos)
      << err;
}

TEST(AmxOptions, AmxOnACpuWithoutItIsAnError) {
  CompileOptions options;
  options.bf16Matmul = "amx";
  options.cpu = "x86-64-v3";
  std::string err = attn_test::errorOf(sharedRuntime().compile(
      attn_test::makeSpec(1, 1, 1, 16, 16, 64, ElementType::BF16), Target::Cpu,
      options));
  EXPECT_NE(err.find("needs a target CPU with AMX-BF16; CPU 'x86-64-v3'"),
            std::string::npos)
      << err;
}

TEST(AmxOptions, AutoPicksFmaForACpuWithoutAmx) {
  EXPECT_EQ(resolveBf16Matmul("auto", "x86-64-v3"), "fma");
  EXPECT_EQ(resolveBf16Matmul("fma", ""), "fma");
}

} // namespace
