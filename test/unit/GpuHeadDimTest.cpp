//===- GpuHeadDimTest.cpp - every head dim of the GPU kernels vs float64 --===//
//
// The flash kernels at every multiple of 8 from 32 to 256 (m16n8k8 steps
// for odd multiples of 8, one m tile per warp above 128), at head dims
// that are not multiples of 8 (zero-padded in shared memory) and with
// dv != d (DeepSeek prefill d = 192, dv = 128), on sm_90 (mma.sync) and
// sm_90a (wgmma where the shape allows), against the float64 reference on
// fresh random inputs: f16 within 2e-3, bf16 within 1.6e-2 (toleranceFor,
// runtime/Check.h), NaN never passes. Lengths are off the tile sizes;
// Hq:Hkv 1:1, 4:1 and 7:1, causal and full, f16 and bf16 rotate over the
// dims. Without a device every case still compiles, then skips.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtils.h"
#include "SpecTestUtils.h"

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

struct DimCase {
  std::string name;
  AttentionSpec spec;
  bool runTimeSizes = true;
};

std::ostream &operator<<(std::ostream &os, const DimCase &c) {
  return os << c.spec.key();
}

std::vector<DimCase> headDimCases() {
  std::vector<DimCase> cases;
  auto add = [&](std::string name, AttentionSpec s, bool runTimeSizes = true) {
    cases.push_back({std::move(name), s, runTimeSizes});
  };
  // Prefill at every multiple of 8: the head ratio, mask, dtype and
  // length rotate with the dim.
  const int64_t ratios[][2] = {{4, 4}, {8, 2}, {7, 1}};
  const int64_t lengths[] = {77, 130, 200, 257};
  for (int64_t d = 32, i = 0; d <= 256; d += 8, ++i) {
    auto [hq, hkv] = std::pair{ratios[i % 3][0], ratios[i % 3][1]};
    ElementType t = i % 2 ? ElementType::BF16 : ElementType::F16;
    int64_t s = lengths[i % 4];
    AttentionSpec spec = makeSpec(1, hq, hkv, s, s, d, t);
    spec.mask.causal = i % 4 < 2;
    add("prefill_d" + std::to_string(d) + (spec.mask.causal ? "_causal" : "") +
            (t == ElementType::BF16 ? "_bf16" : "_f16"),
        spec);
  }
  // Decode-sized groups (key warps, split KV and the combine kernel).
  for (int64_t d : {40, 72, 136, 192, 256}) {
    AttentionSpec spec = makeSpec(2, 32, 8, 1, 3001, d, ElementType::BF16);
    spec.withKvLengths = true;
    add("decode_d" + std::to_string(d) + "_bf16", spec);
    add("decode_d" + std::to_string(d) + "_static_bf16", spec,
        /*runTimeSizes=*/false);
  }
  // d = 256 as the peers run it (causal GQA 2:1), specialised sizes.
  {
    AttentionSpec spec = makeSpec(1, 4, 2, 1000, 1000, 256, ElementType::BF16);
    spec.mask.causal = true;
    add("prefill_d256_gqa2_static_bf16", spec, /*runTimeSizes=*/false);
  }
  // Odd head dims: zero-padded to 64 / 112.
  for (int64_t d : {59, 111}) {
    AttentionSpec causal = makeSpec(1, 8, 2, 130, 130, d, ElementType::BF16);
    causal.mask.causal = true;
    add("odd_d" + std::to_string(d) + "_causal_bf16", causal);
    add("odd_d" + std::to_string(d) + "_f16",
        makeSpec(1, 7, 1, 77, 200, d, ElementType::F16));
    AttentionSpec decode = makeSpec(2, 8, 8, 1, 1500, d, ElementType::F16);
    add("odd_d" + std::to_string(d) + "_decode_static_f16", decode,
        /*runTimeSizes=*/false);
  }
  // dv != d: DeepSeek prefill (192 / 128), and smaller mixes.
  {
    AttentionSpec s = makeSpec(1, 16, 16, 300, 300, 192, ElementType::BF16);
    s.valueDim = 128;
    s.mask.causal = true;
    add("dv128_d192_causal_bf16", s);
    add("dv128_d192_causal_static_bf16", s, /*runTimeSizes=*/false);
    AttentionSpec g = makeSpec(1, 8, 2, 130, 130, 192, ElementType::F16);
    g.valueDim = 128;
    add("dv128_d192_gqa4_f16", g);
    AttentionSpec d = makeSpec(2, 32, 8, 1, 3001, 192, ElementType::BF16);
    d.valueDim = 128;
    add("dv128_d192_decode_static_bf16", d, /*runTimeSizes=*/false);
    AttentionSpec small = makeSpec(1, 7, 1, 100, 100, 64, ElementType::F16);
    small.valueDim = 40;
    small.mask.causal = true;
    add("dv40_d64_causal_f16", small);
    AttentionSpec odd = makeSpec(1, 4, 4, 77, 77, 48, ElementType::BF16);
    odd.valueDim = 59;
    add("dv59_d48_bf16", odd);
  }
  return cases;
}

void checkDimCase(const DimCase &c, const std::string &chip) {
  if (chip == "sm_90a" && deviceLacksSm90a())
    GTEST_SKIP() << kNeedsSm90a;
  CompileOptions options;
  options.gpuChip = chip;
  options.runTimeSizes = c.runTimeSizes;
  auto kernel = sharedRuntime().compile(c.spec, Target::Cuda, options);
  ASSERT_TRUE(static_cast<bool>(kernel))
      << c.spec.key() << ": " << llvm::toString(kernel.takeError());
  EXPECT_FALSE((*kernel)->gpuBinary().empty());
  SKIP_WITHOUT_DEVICE();
  runAndCheck(*kernel, testSeed());
}

class GpuHeadDim : public ::testing::TestWithParam<DimCase> {};

TEST_P(GpuHeadDim, MatchesReferenceSm90) { checkDimCase(GetParam(), "sm_90"); }

TEST_P(GpuHeadDim, MatchesReferenceSm90a) {
  checkDimCase(GetParam(), "sm_90a");
}

INSTANTIATE_TEST_SUITE_P(Dims, GpuHeadDim, ::testing::ValuesIn(headDimCases()),
                         [](const auto &info) { return info.param.name; });

// Past what the kernels hold: a located error naming the supported range
// (multi-latent attention decode, d = 576, dv = 512).
TEST(GpuHeadDimLimits, MlaDecodeIsRefusedWithTheRange) {
  AttentionSpec s = makeSpec(1, 128, 1, 1, 1024, 576, ElementType::BF16);
  s.valueDim = 512;
  CompileOptions options;
  options.gpuChip = "sm_90";
  auto kernel = sharedRuntime().compile(s, Target::Cuda, options);
  ASSERT_FALSE(static_cast<bool>(kernel));
  std::string e = llvm::toString(kernel.takeError());
  EXPECT_NE(e.find("head dim 576 is not supported on the GPU (1 to 256"),
            std::string::npos)
      << e;
}

} // namespace
