//===- RuntimeNumericsTest.cpp - compiled kernels vs the float64 reference ===//
//
// Every case compiles a kernel through the full attn-to-cpu pipeline, runs
// it on fresh random inputs (time-based seed, printed on failure;
// ATTN_TEST_SEED=N reproduces) and compares output and lse with
// runtime/Reference.cpp under the tolerances of runtime/Check.h:
//
//   f32 2e-5, f16 2e-3, bf16 1.6e-2 (normwise relative output error),
//   lse 2e-5 relative to max(1, |lse|); NaN or inf never passes.
//
// Outputs start as NaN and buffers carry NaN guard zones and may carry row
// padding, so an element the kernel never writes, a read past a row, or a
// write anywhere but the output elements all fail. Cases are many small shapes
// rather than a few big ones: compile time (~0.2 s per kernel) dominates on two
// cores.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"
#include "SpecTestUtils.h"

#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::testSeed;

namespace {

struct Case {
  std::string name;
  AttentionSpec spec;
  CompileOptions options;
  int64_t rowPadding = 0;
  double inputStd = 1.0;
  std::vector<int32_t> kvLengths; ///< empty: random in [0, Skv]
};

std::ostream &operator<<(std::ostream &os, const Case &c) {
  return os << c.spec.key();
}

ElementType f32 = ElementType::F32, f16 = ElementType::F16,
            bf16 = ElementType::BF16;
Layout bhsd = Layout::BHSD, bshd = Layout::BSHD;

/// The numerics cases check the lse result too.
AttentionSpec make(int64_t b, int64_t hq, int64_t hkv, int64_t sq, int64_t skv,
                   int64_t d, ElementType dtype, Layout layout) {
  return attn_test::makeSpec(b, hq, hkv, sq, skv, d, dtype, layout,
                             /*lse=*/true);
}

/// "b1_hq4_hkv1_sq65_skv65_d64_f32_bhsd" plus a suffix.
std::string baseName(const AttentionSpec &s) {
  return "b" + std::to_string(s.batch) + "_hq" + std::to_string(s.numHeads) +
         "_hkv" + std::to_string(s.numKvHeads) + "_sq" +
         std::to_string(s.queryLen) + "_skv" + std::to_string(s.kvLen) + "_d" +
         std::to_string(s.headDim) + "_" + stringifyElementType(s.dtype) +
         (s.layout == Layout::BHSD ? "_bhsd" : "_bshd");
}

Case plain(AttentionSpec s, int64_t padding = 0) {
  Case c;
  c.name = baseName(s) + (padding ? "_padded" : "");
  c.spec = s;
  c.rowPadding = padding;
  return c;
}

/// Sequence lengths 1, 7, 63, 64, 65, 1000 on both sides, head dims 64, 80,
/// 128, every dtype, both layouts and head ratios 1:1, 4:1, 7:1, 32:1 in a
/// rotation that keeps the float64 reference cheap.
std::vector<Case> shapeCases() {
  return {
      plain(make(1, 2, 2, 1, 1, 64, f32, bhsd)),
      plain(make(1, 4, 1, 7, 7, 80, f16, bshd), 8),
      plain(make(1, 7, 1, 63, 63, 128, bf16, bhsd)),
      plain(make(1, 32, 1, 64, 64, 64, f32, bshd)),
      plain(make(2, 2, 2, 65, 65, 80, bf16, bhsd), 3),
      plain(make(1, 1, 1, 1000, 1000, 128, f32, bhsd)),
      plain(make(1, 4, 1, 1000, 1000, 64, bf16, bshd)),
      plain(make(1, 32, 1, 1, 1000, 128, f16, bhsd)),
      plain(make(1, 7, 1, 1, 63, 80, f32, bshd), 5),
      plain(make(2, 4, 1, 1, 64, 64, bf16, bhsd)),
      plain(make(1, 4, 1, 1, 65, 128, f32, bhsd)),
      plain(make(1, 2, 2, 1, 7, 64, f16, bhsd)),
      plain(make(1, 4, 1, 7, 1, 64, f32, bhsd)),
      plain(make(1, 2, 2, 65, 1, 128, bf16, bshd)),
      plain(make(1, 7, 1, 1000, 1, 80, f32, bhsd)),
      plain(make(1, 2, 2, 7, 65, 128, f16, bhsd), 16),
      plain(make(1, 32, 1, 65, 7, 64, f32, bshd)),
      plain(make(1, 4, 1, 63, 1000, 80, f32, bhsd)),
      plain(make(1, 7, 1, 1000, 64, 64, f16, bshd)),
      plain(make(1, 4, 1, 64, 63, 128, bf16, bhsd)),
      plain(make(2, 2, 2, 1000, 65, 128, f32, bhsd)),
  };
}

/// Every mask kind for every dtype (130 rows: three 64-wide KV tiles, the
/// last partial).
std::vector<Case> maskCases() {
  std::vector<Case> cases;
  struct Kind {
    const char *name;
    void (*apply)(Case &);
  };
  const Kind kinds[] = {
      {"none", [](Case &) {}},
      {"causal", [](Case &c) { c.spec.mask.causal = true; }},
      {"causal_offset",
       [](Case &c) {
         // Chunked prefill: 65 new queries after a 135-token prefix.
         c.spec.queryLen = 65;
         c.spec.kvLen = 200;
         c.spec.mask.causal = true;
         c.spec.mask.qOffset = 135;
       }},
      {"sliding_window",
       [](Case &c) {
         c.spec.mask.causal = true;
         c.spec.mask.windowLeft = 31;
         c.spec.mask.windowRight = 0;
       }},
      {"window_dilation",
       [](Case &c) {
         c.spec.mask.windowLeft = 40;
         c.spec.mask.windowRight = 40;
         c.spec.mask.dilation = 3;
       }},
      {"global_tokens",
       [](Case &c) {
         c.spec.mask.windowLeft = 16;
         c.spec.mask.windowRight = 16;
         c.spec.mask.globalTokens = 4;
       }},
      {"softcap",
       [](Case &c) {
         c.spec.mask.causal = true;
         c.spec.softcap = 5.0f;
         c.inputStd = 2.0; // logits well past the cap
       }},
      {"ragged",
       [](Case &c) {
         c.spec.batch = 4;
         c.spec.withKvLengths = true;
         c.kvLengths = {0, 130, 1, 77};
       }},
  };
  ElementType dtypes[] = {f32, f16, bf16};
  int64_t dims[] = {64, 80, 128};
  int i = 0;
  for (const Kind &kind : kinds)
    for (int t = 0; t < 3; ++t, ++i) {
      Case c;
      c.spec = make(1, 4, 2, 130, 130, dims[t], dtypes[t], i % 2 ? bshd : bhsd);
      kind.apply(c);
      c.rowPadding = i % 3 == 0 ? 4 : 0;
      c.name = std::string(kind.name) + "_" + baseName(c.spec);
      cases.push_back(c);
    }
  return cases;
}

/// Mask corners: rows that see nothing, masks combined, odd ratios.
std::vector<Case> edgeCases() {
  std::vector<Case> cases;
  auto add = [&](const char *name, Case c) {
    c.name = std::string(name) + "_" + baseName(c.spec);
    cases.push_back(c);
  };
  {
    // Diagonal only, more queries than keys: rows 40..69 see nothing and
    // must give 0 and lse = -inf.
    Case c = plain(make(1, 2, 1, 70, 40, 64, f32, bhsd));
    c.spec.mask.windowLeft = 0;
    c.spec.mask.windowRight = 0;
    add("empty_rows", c);
  }
  {
    Case c = plain(make(3, 4, 1, 33, 50, 64, bf16, bshd));
    c.spec.withKvLengths = true;
    c.kvLengths = {0, 0, 0};
    add("all_lengths_zero", c);
  }
  {
    Case c = plain(make(2, 8, 2, 90, 90, 80, f16, bhsd));
    c.spec.mask.causal = true;
    c.spec.withKvLengths = true;
    c.kvLengths = {45, 90};
    add("causal_ragged", c);
  }
  {
    Case c = plain(make(1, 4, 4, 100, 100, 64, f32, bshd), 2);
    c.spec.mask.causal = true;
    c.spec.mask.windowLeft = 8;
    c.spec.mask.windowRight = 0;
    c.spec.mask.globalTokens = 4;
    add("causal_window_global", c);
  }
  {
    Case c = plain(make(1, 2, 1, 100, 100, 128, f32, bhsd));
    c.spec.mask.causal = true;
    c.spec.mask.dilation = 2;
    add("causal_dilation", c);
  }
  {
    Case c = plain(make(1, 4, 1, 100, 50, 64, f32, bhsd));
    c.spec.mask.causal = true;
    add("causal_more_queries", c);
  }
  {
    Case c = plain(make(1, 4, 2, 70, 70, 64, f32, bhsd));
    c.spec.scale = 0.3f;
    c.spec.softcap = 2.5f;
    c.inputStd = 3.0;
    add("scale_softcap", c);
  }
  {
    Case c = plain(make(1, 4, 1, 70, 70, 64, bf16, bhsd));
    c.spec.valueDim = 128;
    add("value_dim", c);
  }
  // Head ratios 1:1, 4:1, 7:1, 32:1, with and without causal masking.
  for (auto [hq, hkv] : {std::pair{8, 8}, {8, 2}, {7, 1}, {32, 1}}) {
    Case c = plain(make(1, hq, hkv, 63, 63, 64, f32, bhsd));
    c.spec.mask.causal = true;
    add("ratio_causal", c);
    add("ratio", plain(make(1, hq, hkv, 63, 63, 64, bf16, bshd)));
  }
  // Other tilings of the same problem.
  for (auto [rows, kv] : {std::pair{16, 32}, {128, 128}, {1, 16}}) {
    Case c = plain(make(1, 4, 2, 100, 150, 64, f32, bhsd));
    c.spec.mask.causal = true;
    c.spec.mask.qOffset = 50;
    c.options.tileRows = rows;
    c.options.tileKv = kv;
    add(("tiles" + std::to_string(rows) + "x" + std::to_string(kv)).c_str(), c);
  }
  return cases;
}

/// Code for an AVX2 CPU (x86-64-v3) even on AVX-512 hosts: 8-lane vectors,
/// and f32 -> bf16 conversions through the runtime's __truncsfbf2 (Debian
/// 12's libgcc has none; without it bf16 kernels failed to link on AVX2).
std::vector<Case> avx2Cases() {
  std::vector<Case> cases;
  for (ElementType t : {bf16, f16, f32}) {
    Case c = plain(make(1, 4, 2, 70, 90, 64, t, bhsd));
    c.spec.mask.causal = true;
    c.spec.mask.qOffset = 20;
    c.options.cpu = "x86-64-v3";
    c.options.vectorWidth = 8;
    c.name = "avx2_" + baseName(c.spec);
    cases.push_back(c);
  }
  return cases;
}

/// A few 4096-long cases whose reference stays cheap.
std::vector<Case> longCases() {
  std::vector<Case> cases;
  {
    Case c = plain(make(2, 32, 8, 1, 4096, 128, bf16, bhsd));
    c.spec.withKvLengths = true;
    c.kvLengths = {4096, 1234};
    c.name = "decode_" + baseName(c.spec);
    cases.push_back(c);
  }
  {
    Case c = plain(make(1, 1, 1, 4096, 4096, 64, f32, bhsd));
    c.spec.mask.causal = true;
    c.spec.mask.windowLeft = 255;
    c.spec.mask.windowRight = 0;
    c.name = "window_" + baseName(c.spec);
    cases.push_back(c);
  }
  {
    Case c = plain(make(1, 2, 1, 4096, 4096, 64, f16, bshd));
    c.spec.mask.causal = true;
    c.name = "causal_" + baseName(c.spec);
    cases.push_back(c);
  }
  {
    // 2048 cheap work items with large scratch: this overflowed the stack
    // when one kernel call ran a whole chunk of items (scratch allocas were
    // only released on return).
    Case c = plain(make(1, 32, 8, 4096, 4096, 128, f32, bhsd));
    c.spec.mask.causal = true;
    c.spec.mask.windowLeft = 63;
    c.spec.mask.windowRight = 0;
    c.name = "many_items_" + baseName(c.spec);
    cases.push_back(c);
  }
  return cases;
}

/// Attention sinks (gpt-oss: [Hq] f32 logits in every row's denominator):
/// sliding windows, GQA 1:1 / 4:1 / 7:1, D != Dv, ragged lengths with an
/// empty row (out 0, lse = the sink), and decode shapes whose KV range is
/// split (the sink must count once, not once per split).
std::vector<Case> sinkCases() {
  std::vector<Case> cases;
  auto add = [&](const char *name, AttentionSpec s, int64_t dv,
                 double std = 1.0, std::vector<int32_t> lengths = {}) {
    s.withSinks = true;
    s.valueDim = dv == s.headDim ? 0 : dv;
    Case c = plain(s);
    c.name = std::string("sinks_") + name + "_" + baseName(s);
    c.inputStd = std;
    c.kvLengths = std::move(lengths);
    cases.push_back(c);
  };
  for (ElementType t : {f32, bf16}) {
    AttentionSpec s = make(2, 8, 2, 77, 93, 40, t, bhsd);
    s.mask.causal = true;
    s.mask.qOffset = 16;
    s.mask.windowLeft = 17;
    add("window", s, 24);
  }
  {
    AttentionSpec s = make(1, 7, 1, 65, 130, 64, bf16, bhsd);
    s.mask.causal = true;
    s.mask.qOffset = 65;
    add("causal", s, 80);
  }
  add("full_std3", make(1, 3, 3, 50, 71, 48, f32, bshd), 48, /*std=*/3.0);
  {
    AttentionSpec s = make(3, 4, 1, 33, 70, 32, f32, bhsd);
    s.withKvLengths = true;
    s.mask.windowLeft = 9;
    s.mask.windowRight = 3;
    add("ragged_window", s, 32, 1.0, {0, 70, 41});
  }
  for (ElementType t : {f32, bf16}) {
    AttentionSpec s = make(1, 8, 2, 1, 3001, 64, t, bhsd);
    s.withKvLengths = true;
    add("decode_splits", s, 64, 1.0, {2999});
  }
  {
    AttentionSpec s = make(1, 7, 1, 1, 2500, 128, f32, bhsd);
    s.mask.causal = true;
    s.mask.qOffset = 2499;
    s.mask.windowLeft = 700;
    add("decode_window", s, 64);
  }
  return cases;
}

class Numerics : public ::testing::TestWithParam<Case> {};

TEST_P(Numerics, MatchesReference) {
  const Case &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("spec " + c.spec.key() + ", seed " + std::to_string(seed) +
               " (rerun with ATTN_TEST_SEED=" + std::to_string(seed) + ")");
  auto kernel = sharedRuntime().compile(c.spec, Target::Cpu, c.options);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  const KernelSignature &sig = (*kernel)->signature();

  FillOptions fill;
  fill.seed = seed;
  fill.inputStd = c.inputStd;
  fill.rowPadding = c.rowPadding;
  HostBuffers buffers(sig, fill);
  if (!c.kvLengths.empty())
    buffers.setKvLengths(c.kvLengths);
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));

  auto ref = referenceAttention(sig, buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  CheckReport report = checkAgainstReference(
      sig, buffers.args(), *ref, toleranceFor(dtypeOf(c.spec.dtype)));
  EXPECT_TRUE(report.passed) << report.summary();
  EXPECT_EQ(buffers.strayWrites(), "");
}

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Shapes, Numerics, ::testing::ValuesIn(shapeCases()),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Masks, Numerics, ::testing::ValuesIn(maskCases()),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Edges, Numerics, ::testing::ValuesIn(edgeCases()),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Long, Numerics, ::testing::ValuesIn(longCases()),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Avx2, Numerics, ::testing::ValuesIn(avx2Cases()),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Sinks, Numerics, ::testing::ValuesIn(sinkCases()),
                         caseName);

/// Work items are independent, so the thread count cannot change a bit.
TEST(NumericsThreads, ResultIndependentOfThreadCount) {
  AttentionSpec s = make(2, 8, 2, 200, 300, 64, f32, bhsd);
  s.mask.causal = true;
  s.mask.qOffset = 100;
  auto kernel = sharedRuntime().compile(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  HostBuffers buffers((*kernel)->signature(), FillOptions{testSeed()});
  const BufferRef &out = buffers.args().output;
  size_t bytes = out.numElements() * 4;
  std::vector<char> reference(bytes);
  ThreadPool one(1);
  ASSERT_TRUE(ok((*kernel)->run(buffers.args(), one)));
  std::memcpy(reference.data(), out.data, bytes);
  for (unsigned threads : {2u, 3u, 8u}) {
    ThreadPool pool(threads);
    buffers.resetOutputs();
    ASSERT_TRUE(ok((*kernel)->run(buffers.args(), pool)));
    EXPECT_EQ(std::memcmp(reference.data(), out.data, bytes), 0)
        << threads << " threads";
  }
}

} // namespace
