//===- GpuDropoutTest.cpp - dropout in the GPU flash kernels --------------===//
//
// attn.attention's dropout_p on CUDA, against the same definitions as the
// CPU (DropoutTest.cpp):
//
// - the kernels against the float64 reference, which regenerates the
//   Philox stream of common/Philox.h: tolerances of runtime/Check.h (f16
//   2e-3, bf16 1.6e-2 normwise; the lse is the undropped one), prefill
//   (mma.sync on sm_90; wgmma on sm_90a for d = 64 / 128 / 256), decode
//   with KV splits, odd lengths and head dims, GQA 1:1 / 4:1 / 7:1, causal
//   and windows, ragged batches with an empty sequence, bshd;
// - the mask read back bit for bit (DropoutTestUtils.h): equal to
//   philox::keep, so the GPU drops exactly the weights the CPU kernels do;
// - rate 0: bit-identical to the kernel without dropout.
//
// Every case compiles without a device (CI); the runs skip without one.
//
//===----------------------------------------------------------------------===//
#include "DropoutTestUtils.h"
#include "GpuTestUtils.h"
#include "SpecTestUtils.h"

#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

struct DropoutCase {
  const char *shorthand;
  std::vector<int32_t> kvLengths = {};
};

/// The kernel of `shorthand` for `chip` ("": the runtime's default, wgmma
/// where the shape takes it on an H100/H200).
llvm::Expected<KernelRef> compileFor(const AttentionSpec &s,
                                     const std::string &chip) {
  CompileOptions options;
  options.gpuChip = chip;
  return sharedRuntime().compile(s, Target::Cuda, options);
}

class GpuDropout : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuDropout, MatchesReference) {
  const DropoutCase cases[] = {
      {"gqa:b=2,hq=8,hkv=2,sq=200,skv=200,d=64,dtype=bf16,causal,lse,"
       "dropout=0.25"},
      {"gqa:b=1,hq=7,hkv=1,sq=130,skv=333,d=96,dtype=f16,dropout=0.5"},
      {"gqa:b=3,hq=4,hkv=1,sq=131,skv=70,d=128,dtype=bf16,layout=bshd,"
       "window=9:3,ragged,lse,dropout=0.2",
       {0, 70, 41}},
      {"gqa:b=2,hq=4,hkv=4,sq=77,skv=150,d=40,dtype=f16,causal,dropout=0.3"},
      {"gqa:b=1,hq=4,hkv=2,sq=160,skv=160,d=256,dtype=bf16,causal,"
       "dropout=0.1"},
      {"gqa:b=2,hq=32,hkv=8,sq=1,skv=5000,d=128,dtype=bf16,ragged,lse,"
       "dropout=0.1",
       {5000, 1777}},
      {"gqa:b=1,hq=8,hkv=2,sq=4,skv=3001,d=64,dtype=f16,causal,offset=2997,"
       "dropout=0.9"},
  };
  for (const DropoutCase &c : cases) {
    AttentionSpec s = specOf(c.shorthand);
    SCOPED_TRACE(std::string(c.shorthand) + " on " +
                 (GetParam().empty() ? "the default chip" : GetParam()));
    auto kernel = compileFor(s, GetParam());
    ASSERT_TRUE(static_cast<bool>(kernel))
        << llvm::toString(kernel.takeError());
    EXPECT_FALSE((*kernel)->gpuBinary().empty());
    std::string why;
    if (!device(why))
      continue;
    runAndCheck(*kernel, testSeed(), c.kvLengths);
  }
  SKIP_WITHOUT_DEVICE();
}

TEST_P(GpuDropout, MaskEqualsPhilox) {
  // f16 keeps 11 bits: Skv / Dv <= 8 keys per output column.
  const int64_t seed = 0x0123456789abcdefll, offset = 12345;
  for (const char *shorthand :
       {"gqa:b=2,hq=4,hkv=2,sq=37,skv=300,d=64,dtype=f16,dropout=0.5",
        "gqa:b=1,hq=8,hkv=2,sq=50,skv=1000,d=128,dtype=f16,dropout=0.5",
        "gqa:b=2,hq=7,hkv=1,sq=19,skv=190,d=40,dtype=f16,dropout=0.3",
        "gqa:b=2,hq=4,hkv=2,sq=1,skv=2040,d=16,dv=256,dtype=f16,"
        "dropout=0.25"}) {
    AttentionSpec s = specOf(shorthand);
    SCOPED_TRACE(std::string(shorthand) + " on " +
                 (GetParam().empty() ? "the default chip" : GetParam()));
    auto kernel = compileFor(s, GetParam());
    ASSERT_TRUE(static_cast<bool>(kernel))
        << llvm::toString(kernel.takeError());
    std::string why;
    if (!device(why))
      continue;
    HostBuffers buffers((*kernel)->signature(), FillOptions{1});
    setDropoutState(buffers, seed, offset);
    fillMaskProbe(s, buffers.args());
    ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
    EXPECT_EQ(mismatches(decodeMaskProbe(s, buffers.args()),
                         philoxMask(s, seed, offset)),
              0);
  }
  SKIP_WITHOUT_DEVICE();
}

TEST_P(GpuDropout, RateZeroIsBitIdenticalToNoDropout) {
  for (const char *shorthand :
       {"gqa:b=2,hq=8,hkv=2,sq=165,skv=130,d=64,dtype=bf16,causal,lse",
        "gqa:b=1,hq=4,hkv=1,sq=1,skv=3001,d=128,dtype=f16,lse"}) {
    AttentionSpec plain = specOf(shorthand), zero = plain;
    zero.dropout = 0.0;
    auto a = compileFor(plain, GetParam());
    auto b = compileFor(zero, GetParam());
    ASSERT_TRUE(a && b) << shorthand;
    std::string why;
    if (!device(why))
      continue;
    SCOPED_TRACE(shorthand);
    expectSameBits(*a, *b, testSeed());
  }
  SKIP_WITHOUT_DEVICE();
}

INSTANTIATE_TEST_SUITE_P(Chips, GpuDropout,
                         ::testing::Values(std::string("sm_90"),
                                           std::string("")),
                         [](const ::testing::TestParamInfo<std::string> &i) {
                           return i.param.empty() ? std::string("DefaultChip")
                                                  : i.param;
                         });

} // namespace
