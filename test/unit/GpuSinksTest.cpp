//===- GpuSinksTest.cpp - attention sinks in the CUDA kernels -------------===//
//
// attn.attention with `sinks` ([Hq] f32 logits in every row's softmax
// denominator, no value row) compiled for Target::Cuda:
//   - without a device: specs of run-time sizes with sinks share one `?`
//     kernel (the runtime no longer specialises them), decode kernels with
//     sinks split per call like those without;
//   - on a device, against the float64 reference on fresh random inputs
//     (f16 within 2e-3, bf16 within 1.6e-2 normwise; lse within 2e-5
//     relative), with sinks mixing large (8: the sink dominates), small
//     (-3) and N(0, 1) logits: prefill (mma.sync and sm_90a wgmma) and
//     decode, causal + sliding windows, GQA 1:1, 4:1 and 7:1, head dims 64,
//     128 and 72 / 40, ragged kv_lengths with an empty sequence (its rows
//     must be exact zeros with lse = the sink), split KV (static and
//     run-time counts: the sink must count once) and unsplit
//     (kv-splits=1), static and run-time sizes.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtils.h"
#include "SpecTestUtils.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

CompileOptions gpuOptions(const std::string &chip, bool runTime,
                          int64_t kvSplits) {
  CompileOptions o;
  o.gpuChip = chip;
  o.runTimeSizes = runTime;
  o.gpuKvSplits = kvSplits;
  return o;
}

TEST(GpuSinks, RunTimeSizesShareOneKernel) {
  Runtime rt = uncachedRuntime();
  AttentionSpec base =
      specOf("gqa:b=1,hq=32,hkv=8,sq=1,skv=100,d=128,dtype=bf16,ragged,lse,"
             "sinks");
  auto small = rt.compile(base, Target::Cuda, gpuOptions("sm_90", true, 0));
  ASSERT_TRUE(static_cast<bool>(small)) << llvm::toString(small.takeError());
  auto large = rt.compile(base.withRunTimeSizes().withSizes(3, 1, 33333),
                          Target::Cuda, gpuOptions("sm_90", true, 0));
  ASSERT_TRUE(static_cast<bool>(large)) << llvm::toString(large.takeError());
  EXPECT_EQ((*small)->gpuBinary(), (*large)->gpuBinary());
  EXPECT_EQ(rt.cacheStats().compiles, 1);
  // The `?` decode kernel picks its split count per call; the combine
  // launch (which counts the sinks of split rows) is conditional on it.
  std::string plan = (*large)->gpuLaunchPlan();
  EXPECT_NE(plan.find("_combine"), std::string::npos) << plan;
}

/// Sink logits of head h: 8 (dominates the row), -3, or N(0, 1).
void setSinks(HostBuffers &buffers, int64_t heads, uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5151);
  std::normal_distribution<float> n01;
  std::vector<float> sinks;
  for (int64_t h = 0; h < heads; ++h)
    sinks.push_back(h % 3 == 0 ? 8.0f : h % 3 == 1 ? -3.0f : n01(rng));
  buffers.setSinks(sinks);
}

/// Runs `kernel` at `spec`'s sizes on fresh buffers with `lengths` and
/// checks it against the float64 reference; rows of empty sequences must
/// be exact zeros with lse = the head's sink.
void runChecked(const KernelRef &kernel, const AttentionSpec &spec,
                uint64_t seed, llvm::ArrayRef<int32_t> lengths) {
  KernelSignature sig = signatureForSpec(spec);
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers(sig, fill);
  setSinks(buffers, spec.numHeads, seed);
  if (!lengths.empty())
    buffers.setKvLengths(lengths);
  ASSERT_TRUE(ok(kernel->run(buffers.args())));
  auto ref = referenceAttention(sig, buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  Tolerance tol = toleranceFor(dtypeOf(spec.dtype));
  CheckReport report = checkAgainstReference(sig, buffers.args(), *ref, tol);
  EXPECT_TRUE(report.passed)
      << "seed " << seed << ": " << report.summary() << " "
      << report.firstFailure << " (plan: " << kernel->gpuLaunchPlan() << ")";
  EXPECT_EQ(buffers.strayWrites(), "");
  // bhsd: sequence b's rows are [b * Hq * Sq, (b + 1) * Hq * Sq).
  const BufferRef *out = buffers.args().get(ArgRole::Output);
  const BufferRef *lse = buffers.args().get(ArgRole::Lse);
  const BufferRef &sinkBuf = *buffers.args().sinks;
  auto sinkOf = [&](int64_t h) {
    return static_cast<const float *>(sinkBuf.data)[h * sinkBuf.strides[0]];
  };
  int64_t rows = spec.numHeads * spec.queryLen, dv = spec.effectiveValueDim();
  auto *o = static_cast<const uint16_t *>(out->data);
  for (auto [b, len] : llvm::enumerate(lengths)) {
    if (len != 0)
      continue;
    for (int64_t i = 0; i < rows * dv; ++i)
      ASSERT_EQ(o[b * rows * dv + i], 0u) << "sequence " << b << " elem " << i;
    if (!lse)
      continue;
    auto *l = static_cast<const float *>(lse->data);
    for (int64_t r = 0; r < rows; ++r) {
      float sink = sinkOf(r / spec.queryLen);
      EXPECT_NEAR(l[b * rows + r], sink, 1e-5 * std::max(1.0f, std::abs(sink)))
          << "lse of empty sequence " << b << " row " << r;
    }
  }
}

struct SinkCase {
  const char *name;
  const char *spec;
  /// (batch, Sq, Skv) of the calls; ragged batches get lengths
  /// Skv, 0, Skv / 2 + 1, ...
  std::vector<std::array<int64_t, 3>> sizes;
  std::vector<const char *> chips;
};

void PrintTo(const SinkCase &c, std::ostream *os) { *os << c.name; }

std::vector<int32_t> raggedLengths(const AttentionSpec &spec, int64_t b,
                                   int64_t skv) {
  std::vector<int32_t> lengths;
  if (!spec.withKvLengths)
    return lengths;
  for (int64_t i = 0; i < b; ++i)
    lengths.push_back(int32_t(i % 3 == 0 ? skv : i % 3 == 1 ? 0 : skv / 2 + 1));
  return lengths;
}

/// Each chip: the kernel of run-time sizes (one compile for all sizes)
/// and the kernels specialised to each size, with `kvSplits`.
void checkCase(const SinkCase &c, int64_t kvSplits) {
  Runtime rt = uncachedRuntime();
  AttentionSpec base = specOf(c.spec);
  for (const char *chip : c.chips) {
    if (std::string(chip) == "sm_90a" && deviceLacksSm90a())
      continue;
    for (bool runTime : {true, false}) {
      for (auto [b, sq, skv] : c.sizes) {
        SCOPED_TRACE(std::string(c.spec) + " " + chip +
                     (runTime ? " ?" : " static") + " b=" + std::to_string(b) +
                     " sq=" + std::to_string(sq) +
                     " skv=" + std::to_string(skv) +
                     " kv-splits=" + std::to_string(kvSplits));
        AttentionSpec spec = base.withRunTimeSizes().withSizes(b, sq, skv);
        auto k =
            rt.compile(spec, Target::Cuda, gpuOptions(chip, runTime, kvSplits));
        ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
        runChecked(*k, spec, testSeed() + uint64_t(b * 131 + skv),
                   raggedLengths(spec, b, skv));
      }
    }
  }
}

std::vector<SinkCase> sinkCases() {
  return {
      // wgmma prefill on sm_90a (d = 128), mma.sync on sm_90.
      {"PrefillGqa4CausalWindowBf16",
       "gqa:b=2,hq=8,hkv=2,sq=1,skv=1,d=128,dtype=bf16,causal,window=63:0,"
       "ragged,lse,sinks",
       {{2, 200, 200}, {3, 77, 93}},
       {"sm_90", "sm_90a"}},
      {"PrefillGqa7OddDimF16",
       "gqa:b=1,hq=7,hkv=1,sq=1,skv=1,d=72,dtype=f16,causal,offset=16,lse,"
       "sinks",
       {{1, 77, 93}},
       {"sm_90"}},
      {"PrefillMhaD64F16",
       "mha:b=1,h=4,s=1,d=64,dtype=f16,window=40:40,lse,sinks",
       {{1, 130, 130}},
       {"sm_90", "sm_90a"}},
      // Decode: the KV range splits (per call with `?` sizes).
      {"DecodeGqa4Bf16",
       "gqa:b=1,hq=32,hkv=8,sq=1,skv=1,d=128,dtype=bf16,ragged,lse,sinks",
       {{1, 1, 4097}, {3, 1, 33333}, {16, 1, 999}},
       {"sm_90"}},
      {"DecodeGqa7F16",
       "gqa:b=1,hq=7,hkv=1,sq=1,skv=1,d=64,dtype=f16,window=1000:0,sinks",
       {{1, 1, 6001}, {2, 1, 777}},
       {"sm_90"}},
      {"DecodeD40Bf16",
       "gqa:b=1,hq=8,hkv=2,sq=1,skv=1,d=40,dtype=bf16,ragged,lse,sinks",
       {{3, 1, 9001}},
       {"sm_90"}},
  };
}

class GpuSinksDevice : public ::testing::TestWithParam<SinkCase> {};

TEST_P(GpuSinksDevice, SplitMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  checkCase(GetParam(), 0);
}

TEST_P(GpuSinksDevice, UnsplitMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  checkCase(GetParam(), 1);
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuSinksDevice,
                         ::testing::ValuesIn(sinkCases()),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

} // namespace
