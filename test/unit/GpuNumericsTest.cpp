//===- GpuNumericsTest.cpp - attn-to-nvvm kernels vs float64 --------------===//
//
// attn.attention through the attn-to-nvvm pipeline on the CPU tests' shape
// matrix (prefill, masks, decode, lse, softcap) and with data-dependent
// masks and modifier regions (compileMlir), for sm_90 (mma.sync) and
// sm_90a (wgmma), against the float64 reference: f16 within 2e-3, bf16
// within 1.6e-2 (runtime/Check.h), NaN never passes. Without a device
// every case still compiles, then skips (binary attn-gpu-tests,
// GpuRuntimeTest.cpp says more).
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtils.h"
#include "SpecTestUtils.h"

#include <cmath>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

ElementType f16 = ElementType::F16, bf16 = ElementType::BF16;

//===----------------------------------------------------------------------===//
// attn.attention through the attn-to-nvvm pipeline: the CPU shape matrix
//===----------------------------------------------------------------------===//

struct Case {
  std::string name;
  AttentionSpec spec;
  std::vector<int32_t> kvLengths; ///< empty: random in [0, Skv]
};

std::ostream &operator<<(std::ostream &os, const Case &c) {
  return os << c.spec.key();
}

std::vector<Case> gpuCases() {
  std::vector<Case> cases;
  auto add = [&](std::string name, AttentionSpec s,
                 std::vector<int32_t> lengths = {}) {
    cases.push_back({std::move(name), s, std::move(lengths)});
  };
  // Prefill: head dims 64/80/128, lengths off multiples of 64, Hq:Hkv
  // 1:1, 4:1, 7:1, 32:1, both dtypes.
  add("mha_s65_d64_f16", makeSpec(2, 4, 4, 65, 65, 64, f16));
  add("gqa4_s1000_d128_bf16", makeSpec(1, 8, 2, 1000, 1000, 128, bf16));
  add("gqa7_s63_d80_f16", makeSpec(1, 7, 1, 63, 63, 80, f16));
  add("mqa32_s130_d128_bf16", makeSpec(1, 32, 1, 130, 130, 128, bf16));
  add("gqa4_sq7_skv1000_d64_bf16", makeSpec(2, 4, 1, 7, 1000, 64, bf16));
  add("mha_s4096_d128_bf16", makeSpec(1, 2, 2, 4096, 4096, 128, bf16));
  {
    AttentionSpec s = makeSpec(1, 4, 4, 128, 128, 128, f16);
    s.layout = Layout::BSHD;
    add("mha_bshd_s128_d128_f16", s);
  }
  // Masks.
  for (ElementType t : {f16, bf16}) {
    const char *ts = t == f16 ? "f16" : "bf16";
    AttentionSpec causal = makeSpec(2, 8, 2, 300, 300, 128, t);
    causal.mask.causal = true;
    add(std::string("causal_s300_d128_") + ts, causal);
    AttentionSpec offset = makeSpec(1, 4, 1, 65, 200, 64, t);
    offset.mask.causal = true;
    offset.mask.qOffset = 135;
    add(std::string("causal_offset_d64_") + ts, offset);
    AttentionSpec window = makeSpec(1, 7, 1, 257, 257, 80, t);
    window.mask.causal = true;
    window.mask.windowLeft = 63;
    window.mask.windowRight = 0;
    add(std::string("sliding_window_d80_") + ts, window);
  }
  // Decode: Sq 1..4, long and ragged KV, all head ratios.
  {
    AttentionSpec s = makeSpec(4, 32, 8, 1, 4096, 128, bf16);
    s.withKvLengths = true;
    add("decode_gqa4_kv4096_ragged_bf16", s, {4096, 1, 0, 3001});
  }
  {
    AttentionSpec s = makeSpec(3, 32, 1, 4, 1000, 128, f16);
    s.withKvLengths = true;
    add("decode_mqa32_sq4_ragged_f16", s);
  }
  add("decode_gqa7_sq2_kv777_d80_bf16", makeSpec(2, 7, 1, 2, 777, 80, bf16));
  add("decode_mha_sq3_kv65_d64_f16", makeSpec(4, 4, 4, 3, 65, 64, f16));
  {
    AttentionSpec s = makeSpec(2, 32, 8, 1, 32768, 128, bf16);
    s.withKvLengths = true;
    add("decode_gqa4_kv32768_ragged_bf16", s, {32768, 20001});
  }
  {
    AttentionSpec s = makeSpec(2, 32, 32, 4, 32768, 64, f16);
    s.mask.causal = true;
    s.mask.qOffset = 32768 - 4;
    add("decode_causal_sq4_kv32768_d64_f16", s);
  }
  // The lse result and softcapping: prefill (rows stored from registers),
  // split decode (combine kernel) with empty rows.
  {
    AttentionSpec s =
        makeSpec(2, 8, 2, 200, 200, 128, bf16, Layout::BHSD, /*lse=*/true);
    s.mask.causal = true;
    s.softcap = 20.0f;
    add("lse_softcap_causal_s200_d128_bf16", s);
  }
  {
    AttentionSpec s =
        makeSpec(3, 32, 8, 1, 5000, 128, bf16, Layout::BHSD, /*lse=*/true);
    s.withKvLengths = true;
    add("decode_lse_split_ragged_bf16", s, {5000, 0, 1777});
  }
  return cases;
}

/// Compiles `c` for `chip` (empty: the runtime's default) and, on a device,
/// checks it against the float64 reference.
void checkCase(const Case &c, const std::string &chip,
               bool runTimeSizes = true) {
  CompileOptions options;
  options.gpuChip = chip;
  options.runTimeSizes = runTimeSizes;
  auto kernel = sharedRuntime().compile(c.spec, Target::Cuda, options);
  if (!kernel) {
    std::string e = llvm::toString(kernel.takeError());
    if (e.find(kPassMissing) != std::string::npos)
      GTEST_SKIP() << "attn-gpu-flash is not built yet";
    FAIL() << c.spec.key() << ": " << e;
  }
  EXPECT_FALSE((*kernel)->gpuBinary().empty());
  SKIP_WITHOUT_DEVICE();
  runAndCheck(*kernel, testSeed(), c.kvLengths);
}

// The portable kernels (mma.sync, sm_90 PTX: any device from sm_90 up).
class GpuNumerics : public ::testing::TestWithParam<Case> {};

TEST_P(GpuNumerics, MatchesReference) { checkCase(GetParam(), "sm_90"); }

INSTANTIATE_TEST_SUITE_P(Matrix, GpuNumerics, ::testing::ValuesIn(gpuCases()),
                         [](const auto &info) { return info.param.name; });

// sm_90a: prefill-sized groups with head dims 64 and 128 run the wgmma
// kernels, the rest the same mma.sync kernels; arch-specific code only
// loads on a compute capability 9.0 device.
class GpuNumericsSm90a : public ::testing::TestWithParam<Case> {};

TEST_P(GpuNumericsSm90a, MatchesReference) {
  if (deviceLacksSm90a())
    GTEST_SKIP() << kNeedsSm90a;
  checkCase(GetParam(), "sm_90a");
}

// The default kernels above take run-time sizes (one per kernel kind);
// the kernels specialised to each case's sizes (CompileOptions::
// runTimeSizes = false: constant grids, split-KV decode) on the same
// matrix.
TEST_P(GpuNumericsSm90a, StaticSizesMatchReference) {
  if (deviceLacksSm90a())
    GTEST_SKIP() << kNeedsSm90a;
  checkCase(GetParam(), "sm_90a", /*runTimeSizes=*/false);
}

INSTANTIATE_TEST_SUITE_P(Matrix, GpuNumericsSm90a,
                         ::testing::ValuesIn(gpuCases()),
                         [](const auto &info) { return info.param.name; });

} // namespace

//===----------------------------------------------------------------------===//
// Data-dependent masks and modifier regions (compileMlir), both chips
//===----------------------------------------------------------------------===//

namespace {

/// Compiles `text` for the GPU (`chip`), runs it on fresh random inputs
/// and checks it against the float64 reference for `refSig` (default: the
/// kernel's own signature, which carries bool_mask and segment ids).
void checkMlirOnGpu(const std::string &text, const std::string &chip,
                    std::optional<KernelSignature> refSig = std::nullopt) {
  if (chip == "sm_90a" && deviceLacksSm90a())
    GTEST_SKIP() << kNeedsSm90a;
  CompileOptions options;
  options.gpuChip = chip;
  auto kernel = sharedRuntime().compileMlir(text, Target::Cuda, options);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  SKIP_WITHOUT_DEVICE();
  uint64_t seed = testSeed();
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers((*kernel)->signature(), fill);
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
  const KernelSignature &sig = (*kernel)->signature();
  auto ref = referenceAttention(refSig ? *refSig : sig, buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  CheckReport report = checkAgainstReference(
      sig, buffers.args(), *ref, toleranceFor(dtypeOf(sig.spec.dtype)));
  EXPECT_TRUE(report.passed) << chip << ", seed " << seed << ": "
                             << report.summary() << " " << report.firstFailure;
  EXPECT_EQ(buffers.strayWrites(), "");
}

class GpuCustomMasks : public ::testing::TestWithParam<const char *> {};

// GQA 4:1, d = 128, 130 queries (520 rows: prefill blocks, wgmma on
// sm_90a), a per-batch mask broadcast over heads, ragged lengths.
TEST_P(GpuCustomMasks, BoolMaskAndLengthsBf16) {
  checkMlirOnGpu(R"mlir(
func.func @f(%q: tensor<2x8x130x128xbf16>, %k: tensor<2x2x200x128xbf16>,
             %v: tensor<2x2x200x128xbf16>, %m: tensor<2x1x130x200xi1>,
             %len: tensor<2xi32>)
    -> (tensor<2x8x130x128xbf16>, tensor<2x8x130xf32>) {
  %o, %lse = attn.attention %q, %k, %v bool_mask(%m : tensor<2x1x130x200xi1>)
      kv_lengths(%len : tensor<2xi32>)
      : tensor<2x8x130x128xbf16>, tensor<2x2x200x128xbf16>,
        tensor<2x2x200x128xbf16>
      -> tensor<2x8x130x128xbf16>, tensor<2x8x130xf32>
  return %o, %lse : tensor<2x8x130x128xbf16>, tensor<2x8x130xf32>
}
)mlir",
                 GetParam());
}

// Packed sequences: segment ids with a causal mask, bshd, f16, d = 64.
TEST_P(GpuCustomMasks, SegmentIdsCausalBshdF16) {
  checkMlirOnGpu(R"mlir(
func.func @f(%q: tensor<2x150x4x64xf16>, %k: tensor<2x150x2x64xf16>,
             %v: tensor<2x150x2x64xf16>, %qs: tensor<2x150xi32>,
             %ks: tensor<2x150xi32>) -> tensor<2x150x4x64xf16> {
  %o = attn.attention %q, %k, %v
      segment_ids(%qs, %ks : tensor<2x150xi32>, tensor<2x150xi32>)
      {layout = #attn.layout<bshd>, mask = #attn.mask<causal = true>}
      : tensor<2x150x4x64xf16>, tensor<2x150x2x64xf16>, tensor<2x150x2x64xf16>
      -> tensor<2x150x4x64xf16>
  return %o : tensor<2x150x4x64xf16>
}
)mlir",
                 GetParam());
}

// score_mod scaling by a captured constant = scale 0.5 / sqrt(D); mask_mod
// `kv <= q` = causal. Reference: the equivalent plain spec.
TEST_P(GpuCustomMasks, ScoreModAndMaskModBf16) {
  std::string text = R"mlir(
func.func @f(%q: tensor<1x8x100x128xbf16>, %k: tensor<1x2x100x128xbf16>,
             %v: tensor<1x2x100x128xbf16>)
    -> (tensor<1x8x100x128xbf16>, tensor<1x8x100xf32>) {
  %half = arith.constant 0.5 : f32
  %o, %lse = attn.attention %q, %k, %v score_mod {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      %r = arith.mulf %s, %half : f32
      attn.yield %r : f32
    } mask_mod {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %c = arith.cmpi ule, %j, %i : index
      attn.yield %c : i1
    } : tensor<1x8x100x128xbf16>, tensor<1x2x100x128xbf16>,
        tensor<1x2x100x128xbf16>
      -> tensor<1x8x100x128xbf16>, tensor<1x8x100xf32>
  return %o, %lse : tensor<1x8x100x128xbf16>, tensor<1x8x100xf32>
}
)mlir";
  AttentionSpec s;
  s.numHeads = 8;
  s.numKvHeads = 2;
  s.queryLen = s.kvLen = 100;
  s.headDim = 128;
  s.dtype = ElementType::BF16;
  s.scale = 0.5f / std::sqrt(128.0f);
  s.mask.causal = true;
  s.returnLse = true;
  checkMlirOnGpu(text, GetParam(), signatureForSpec(s));
}

INSTANTIATE_TEST_SUITE_P(Chips, GpuCustomMasks,
                         ::testing::Values("sm_90", "sm_90a"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

} // namespace
