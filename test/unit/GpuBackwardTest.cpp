//===- GpuBackwardTest.cpp - the CUDA backward vs the float64 one ---------===//
//
// Runtime::compileBackward(spec, Target::Cuda) (attn-gpu-backward): each
// case compiles the GPU forward (with lse) and the GPU backward, runs the
// forward on fresh random inputs (time-based seed, printed; ATTN_TEST_SEED=N
// reproduces), feeds its output and lse with a random dO to the backward
// and compares dQ, dK, dV with referenceAttentionBackward under
// runtime/CheckBackward.h's tolerances (normwise relative):
//
//   f16 3e-3, bf16 2e-2; NaN or inf never passes.
//
// Gradient buffers start as NaN (HostBuffers), so an element the kernels
// never write fails. Odd lengths (not multiples of the 64-key blocks or
// the Q tiles), head dims 32, 64, 80, 96, 128, Hq:Hkv 1:1, 4:1, 7:1, causal
// (with q_offset) and full masks, kv_lengths with an empty sequence (its
// rows see nothing: dQ exactly 0), both layouts, f16 and bf16. Compiling
// needs no device, so the plan and the refused options are checked in CI;
// the numerics skip without a GPU.
//
//===----------------------------------------------------------------------===//
#include "BackwardTestUtils.h"
#include "GpuTestUtils.h"
#include "SpecTestUtils.h"

#include "runtime/HalfFloat.h"

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

struct Case {
  std::string name;
  AttentionSpec spec;
  std::vector<int32_t> lengths;
  /// CompileOptions::gpuBwdTileKeys / gpuBwdTileRows (0: the default).
  int64_t tileKeys = 0, tileRows = 0;
};

AttentionSpec gradSpec(int64_t b, int64_t hq, int64_t hkv, int64_t sq,
                       int64_t skv, int64_t d, ElementType t, bool causal,
                       int64_t qOffset = 0, Layout layout = Layout::BHSD) {
  AttentionSpec s = makeSpec(b, hq, hkv, sq, skv, d, t, layout);
  s.mask.causal = causal;
  s.mask.qOffset = qOffset;
  return s;
}

std::vector<Case> cases() {
  ElementType bf16 = ElementType::BF16, f16 = ElementType::F16;
  std::vector<Case> c = {
      {"mha_s65_d64_full_bf16", gradSpec(1, 2, 2, 65, 65, 64, bf16, false)},
      {"mha_s65_d64_full_f16", gradSpec(1, 2, 2, 65, 65, 64, f16, false)},
      {"mha_s200_d128_causal_f16", gradSpec(1, 2, 2, 200, 200, 128, f16, true)},
      {"mha_s200_d128_causal_bf16",
       gradSpec(2, 2, 2, 200, 200, 128, bf16, true)},
      {"gqa4_s130_d128_causal_bf16",
       gradSpec(1, 8, 2, 130, 130, 128, bf16, true)},
      {"gqa4_s77_d128_full_f16", gradSpec(1, 8, 2, 77, 77, 128, f16, false)},
      {"gqa7_s63_d64_full_f16", gradSpec(1, 7, 1, 63, 63, 64, f16, false)},
      {"gqa7_s100_d64_causal_bf16",
       gradSpec(2, 14, 2, 100, 100, 64, bf16, true)},
      {"mha_bshd_s100_d128_causal_bf16",
       gradSpec(1, 4, 4, 100, 100, 128, bf16, true, 0, Layout::BSHD)},
      {"gqa4_bshd_s90_d64_full_f16",
       gradSpec(2, 8, 2, 90, 90, 64, f16, false, 0, Layout::BSHD)},
      {"causal_offset_sq50_kv130_d64_f16",
       gradSpec(1, 4, 2, 50, 130, 64, f16, true, 80)},
      {"d32_s70_causal_bf16", gradSpec(1, 2, 1, 70, 70, 32, bf16, true)},
      {"d96_s90_full_f16", gradSpec(1, 4, 1, 90, 90, 96, f16, false)},
      {"d80_s45_causal_f16", gradSpec(1, 2, 2, 45, 45, 80, f16, true)},
      {"short_s1_kv7_d64_f16", gradSpec(1, 2, 2, 1, 7, 64, f16, false)},
  };
  AttentionSpec ragged = gradSpec(3, 4, 2, 21, 90, 64, f16, true, 69);
  ragged.withKvLengths = true;
  c.push_back({"ragged_empty_causal_offset_f16", ragged, {90, 0, 37}});
  AttentionSpec raggedFull = gradSpec(2, 8, 2, 70, 150, 128, bf16, false);
  raggedFull.withKvLengths = true;
  c.push_back({"ragged_full_d128_bf16", raggedFull, {150, 63}});
  // 128-key blocks (8 warps) and 64-row tiles: the faster tiles on the H200
  // (docs/performance.md), on odd sizes, GQA, causal, ragged.
  for (auto [name, spec, lengths] :
       {std::tuple{"gqa4_s130_d128_causal_bf16",
                   gradSpec(1, 8, 2, 130, 130, 128, bf16, true),
                   std::vector<int32_t>{}},
        std::tuple{"gqa7_s100_d64_full_f16",
                   gradSpec(1, 7, 1, 100, 100, 64, f16, false),
                   std::vector<int32_t>{}},
        std::tuple{"mha_bshd_s200_d96_causal_f16",
                   gradSpec(1, 2, 2, 200, 200, 96, f16, true, 0, Layout::BSHD),
                   std::vector<int32_t>{}},
        std::tuple{"ragged_full_d128_bf16", raggedFull,
                   std::vector<int32_t>{150, 63}}})
    for (int64_t rows : {32, 64})
      c.push_back({std::string(name) + "_k128_r" + std::to_string(rows), spec,
                   lengths, 128, rows});
  return c;
}

class GpuBackward : public ::testing::TestWithParam<Case> {};

TEST_P(GpuBackward, MatchesReference) {
  const Case &c = GetParam();
  // Compiling needs no device: the plan is the three kernels.
  CompileOptions options;
  options.gpuBwdTileKeys = c.tileKeys;
  options.gpuBwdTileRows = c.tileRows;
  auto bwd = sharedRuntime().compileBackward(c.spec, Target::Cuda, options);
  ASSERT_TRUE(static_cast<bool>(bwd)) << llvm::toString(bwd.takeError());
  std::string plan = (*bwd)->gpuLaunchPlan();
  for (const char *k : {"_bwd_pre", "_bwd ", "_bwd_dq"})
    EXPECT_NE(plan.find(k), std::string::npos) << k << " in " << plan;
  if (c.tileKeys == 128)
    EXPECT_NE(plan.find("block (256, 1, 1)"), std::string::npos) << plan;
  SKIP_WITHOUT_DEVICE();
  AttentionSpec fwdSpec = c.spec;
  fwdSpec.returnLse = true;
  auto fwd = sharedRuntime().compile(fwdSpec, Target::Cuda);
  ASSERT_TRUE(static_cast<bool>(fwd)) << llvm::toString(fwd.takeError());

  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed) + " " + c.name);
  KernelSignature sig = signatureForBackwardSpec(c.spec);
  HostBuffers host(sig, {.seed = seed});
  if (!c.lengths.empty())
    host.setKvLengths(c.lengths);
  ASSERT_TRUE(ok((*fwd)->run(forwardArgsOf(host.args()))));
  host.rehashInputs(); // the forward wrote output and lse
  ASSERT_TRUE(ok((*bwd)->run(host.args())));
  ASSERT_TRUE(gradientsMatchReference(sig, host.args()));
  // A sequence without keys: every row of it has exactly zero dQ.
  const BufferRef &dq = *host.args().gradQuery;
  auto st = dq.effectiveStrides();
  for (auto [b, len] : llvm::enumerate(c.lengths)) {
    if (len != 0)
      continue;
    int64_t n = c.spec.numHeads * c.spec.queryLen * c.spec.headDim;
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(loadAsDouble(dq, int64_t(b) * st[0] + i), 0.0) << i;
  }
  EXPECT_EQ(host.strayWrites(), "");
}

INSTANTIATE_TEST_SUITE_P(Matrix, GpuBackward, ::testing::ValuesIn(cases()),
                         [](const auto &info) { return info.param.name; });

/// dK and dV come from registers in one order: bit-identical run to run
/// (dQ is summed by atomics in arrival order and may differ in its last
/// bits).
TEST(GpuBackwardRuns, DkDvBitIdentical) {
  AttentionSpec s = gradSpec(1, 8, 2, 150, 150, 128, ElementType::BF16, true);
  auto bwd = sharedRuntime().compileBackward(s, Target::Cuda);
  ASSERT_TRUE(static_cast<bool>(bwd)) << llvm::toString(bwd.takeError());
  SKIP_WITHOUT_DEVICE();
  KernelSignature sig = signatureForBackwardSpec(s);
  HostBuffers host(sig, {.seed = testSeed()});
  ASSERT_TRUE(ok((*bwd)->run(host.args())));
  auto copy = [](const BufferRef &r) {
    const auto *p = static_cast<const uint16_t *>(r.data);
    return std::vector<uint16_t>(p, p + r.numElements());
  };
  auto dk = copy(*host.args().gradKey), dv = copy(*host.args().gradValue);
  ASSERT_TRUE(ok((*bwd)->run(host.args())));
  EXPECT_EQ(dk, copy(*host.args().gradKey));
  EXPECT_EQ(dv, copy(*host.args().gradValue));
}

/// What the GPU backward does not take: an error naming the option, at
/// compile time (no device needed).
TEST(GpuBackwardErrors, RefusedOptionsAreNamed) {
  auto base = [] {
    return gradSpec(1, 4, 2, 64, 64, 64, ElementType::BF16, true);
  };
  std::vector<std::pair<AttentionSpec, std::string>> refused;
  AttentionSpec s = base();
  s.softcap = 30;
  refused.push_back({s, "softcap has no GPU backward yet"});
  s = base();
  s.mask.windowLeft = 16;
  refused.push_back({s, "a sliding window (mask window_left / window_right)"});
  s = base();
  s.mask.causal = false;
  s.mask.dilation = 2;
  refused.push_back({s, "a dilated mask (mask dilation)"});
  s = base();
  s.headDim = 72;
  refused.push_back(
      {s, "head dims that are multiples of 16 up to 128 (got 72)"});
  s = base();
  s.headDim = 256;
  refused.push_back({s, "(got 256)"});
  s = base();
  s.valueDim = 128;
  refused.push_back({s, "the head dim of V equal to that of Q and K"});
  s = base();
  s.dtype = ElementType::F32;
  refused.push_back({s, "runs f16 and bf16 on tensor cores"});
  for (auto &[spec, text] : refused) {
    std::string err =
        errorOf(sharedRuntime().compileBackward(spec, Target::Cuda));
    EXPECT_NE(err.find(text), std::string::npos) << spec.key() << ": " << err;
  }
}

} // namespace
