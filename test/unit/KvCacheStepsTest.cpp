//===- KvCacheStepsTest.cpp - compiled append/decode steps ----------------===//
//
// The compiled attn.cache_append / attn.cache_attention kernels against the
// float64 reference, through the step API a serving engine uses. Appends
// are copies and must match bit for bit; attention must pass the runtime's
// tolerance rule (runtime/Check.h).
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/Check.h"

#include <cmath>
#include <limits>

using namespace kv_test;

namespace {

/// Output of a decode step as doubles, plus its lse.
struct Decoded {
  HostTensor out, lse;
};

/// Normwise output error and lse error of `got` against `want`.
void expectClose(const Decoded &got, const Decoded &want, rt::DType dtype) {
  expectCloseTo(got.out, want.out, &got.lse, &want.lse, dtype);
}

struct StepCase {
  const char *name;
  bool paged;
  int64_t pageSize;
  ElementType dtype;
  int64_t hq, hkv, d, sq;
  kv::CacheAttentionOptions options;
  int64_t kvSplits = 0; ///< 0: the cost model (no splits at this size)
  PageLayout layout = PageLayout::NHD;
  /// Rows per sequence; > 96 adds long prefills, so that decode reads full
  /// KV tiles (in place, no pack) as well as partial ones.
  int64_t maxLen = 96;
  int64_t dv = 0;     ///< 0: d
  bool sinks = false; ///< random [Hq] attention-sink logits
};

/// Short names in test listings (gtest prints unknown params as bytes).
void PrintTo(const StepCase &c, std::ostream *os) { *os << c.name; }

class KvCacheSteps : public ::testing::TestWithParam<StepCase> {};

/// Two identical caches, one driven by the compiled kernels and one by the
/// reference, through prefill chunks and decode steps over a ragged batch
/// (lengths 0 and 1 included, appends crossing pages).
TEST_P(KvCacheSteps, CompiledMatchesReference) {
  const StepCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t n = 4, maxLen = p.maxLen, dv = p.dv ? p.dv : p.d;
  auto make = [&]() -> std::unique_ptr<kv::KvCache> {
    if (p.paged)
      return makePaged(n * maxLen / p.pageSize, p.pageSize, maxLen / p.pageSize,
                       n, p.hkv, p.d, dv, p.dtype, p.layout);
    return makeContiguous(n, maxLen, p.hkv, p.d, dv, p.dtype);
  };
  auto compiledCache = make(), referenceCache = make();
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(compiledCache->addSequence()));
    ASSERT_EQ(get(referenceCache->addSequence()), ids.back());
  }
  kv::StepOptions options;
  options.compile.kvSplits = p.kvSplits;
  kv::KvStepper compiled(*compiledCache, sharedRuntime(), options);
  kv::KvStepper reference = referenceStepper(*referenceCache);
  rt::DType t = dtypeOf(p.dtype);
  HostTensor sinkLogits(rt::DType::F32, {p.hq});
  sinkLogits.fillRandom(rng);
  const rt::BufferRef *sinks = p.sinks ? &sinkLogits.ref : nullptr;

  auto append = [&](int64_t snew, std::vector<int32_t> counts) {
    HostTensor k(t, {n, p.hkv, snew, p.d}), v(t, {n, p.hkv, snew, dv});
    k.fillRandom(rng);
    v.fillRandom(rng);
    ASSERT_TRUE(ok(compiled.appendStep(ids, k.ref, v.ref, counts)));
    ASSERT_TRUE(ok(reference.appendStep(ids, k.ref, v.ref, counts)));
    ASSERT_TRUE(CacheSnapshot::of(*compiledCache) ==
                CacheSnapshot::of(*referenceCache))
        << "the compiled append differs from the reference";
  };
  auto decode = [&] {
    HostTensor q(t, {n, p.hq, p.sq, p.d});
    q.fillRandom(rng);
    Decoded got{HostTensor(t, {n, p.hq, p.sq, dv}),
                HostTensor(rt::DType::F32, {n, p.hq, p.sq})};
    Decoded want = got;
    got.out.fill(std::nan("")); // every element must be written
    got.lse.fill(std::nan(""));
    ASSERT_TRUE(ok(compiled.decodeStep(ids, q.ref, got.out.ref, p.options,
                                       &got.lse.ref, sinks)));
    ASSERT_TRUE(ok(reference.decodeStep(ids, q.ref, want.out.ref, p.options,
                                        &want.lse.ref, sinks)));
    expectClose(got, want, t);
  };

  // Prefill: ragged chunks; sequence 0 stays empty for a while, sequence 1
  // gets one token.
  append(/*snew=*/20, {0, 1, 20, 17});
  decode();
  append(20, {0, 0, 20, 20});
  decode();
  // Decode steps: every sequence grows by one, crossing page boundaries.
  for (int step = 0; step < 4; ++step) {
    append(1, {});
    decode();
  }
  EXPECT_EQ(intsOf(compiledCache->lengths()),
            (std::vector<int32_t>{4, 5, 44, 41}));
  // One append kernel (its batch and chunk length are run-time sizes: 20
  // and 1 rows alike) and one attention kernel: the loop reused them.
  EXPECT_EQ(compiled.kernels().stats().compiles, 2);
  if (maxLen <= 96)
    return;
  // Long sequences: several full 64-key tiles (read in place) and a partial
  // last one, one sequence still empty after the first chunk.
  append(100, {100, 37, 100, 0});
  decode();
  append(100, {100, 100, 0, 100});
  decode();
  for (int step = 0; step < 2; ++step) {
    append(1, {});
    decode();
  }
  EXPECT_EQ(intsOf(compiledCache->lengths()),
            (std::vector<int32_t>{206, 144, 146, 143}));
}

kv::CacheAttentionOptions causal(int64_t windowLeft = -1) {
  kv::CacheAttentionOptions o;
  o.mask.causal = true;
  o.mask.windowLeft = windowLeft;
  return o;
}

kv::CacheAttentionOptions softcapped() {
  kv::CacheAttentionOptions o = causal();
  o.softcap = 10.0f;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Caches, KvCacheSteps,
    ::testing::Values(
        StepCase{"PagedGqaF32", true, 16, ElementType::F32, 8, 2, 64, 1,
                 causal()},
        StepCase{"PagedPage1Bf16", true, 1, ElementType::BF16, 4, 2, 32, 1,
                 causal()},
        StepCase{"PagedMqaWindowF16", true, 16, ElementType::F16, 4, 1, 64, 1,
                 causal(7)},
        StepCase{"PagedChunkSoftcap", true, 16, ElementType::F32, 4, 2, 32, 2,
                 softcapped()},
        StepCase{"ContiguousGqaF32", false, 0, ElementType::F32, 8, 2, 64, 1,
                 causal()},
        StepCase{"ContiguousBf16NoMask",
                 false,
                 0,
                 ElementType::BF16,
                 2,
                 2,
                 32,
                 1,
                 {}},
        // Flash-decoding: KV splits merged by the last split to finish.
        StepCase{"PagedSplitsGqaF32", true, 16, ElementType::F32, 8, 2, 64, 1,
                 causal(), 3},
        StepCase{"ContiguousSplitsWindowBf16", false, 0, ElementType::BF16, 4,
                 1, 32, 1, causal(30), 4},
        // Head-major pages ([P, Hkv, page_size, D]).
        StepCase{"HndGqaF32", true, 16, ElementType::F32, 8, 2, 64, 1, causal(),
                 0, PageLayout::HND, 256},
        StepCase{"HndPage128Bf16", true, 128, ElementType::BF16, 8, 2, 64, 1,
                 causal(), 0, PageLayout::HND, 256},
        StepCase{"HndPage1Bf16", true, 1, ElementType::BF16, 4, 2, 32, 1,
                 causal(), 0, PageLayout::HND},
        StepCase{"HndChunkSoftcapF16", true, 16, ElementType::F16, 4, 2, 32, 2,
                 softcapped(), 0, PageLayout::HND, 256},
        StepCase{"HndSplitsWindowF32", true, 16, ElementType::F32, 8, 2, 64, 1,
                 causal(70), 3, PageLayout::HND, 256},
        StepCase{"HndMhaF32", true, 32, ElementType::F32, 2, 2, 32, 1, causal(),
                 0, PageLayout::HND, 256},
        StepCase{"HndMqaGroup8Bf16",
                 true,
                 16,
                 ElementType::BF16,
                 8,
                 1,
                 128,
                 1,
                 {},
                 0,
                 PageLayout::HND,
                 256},
        // The NHD layout and contiguous caches over full tiles too.
        StepCase{"NhdLongGqaBf16", true, 16, ElementType::BF16, 8, 2, 64, 1,
                 causal(), 0, PageLayout::NHD, 256},
        StepCase{"NhdLongSplitsF32", true, 64, ElementType::F32, 4, 1, 64, 3,
                 causal(), 2, PageLayout::NHD, 256},
        StepCase{"ContiguousLongGqaF32", false, 0, ElementType::F32, 8, 2, 128,
                 1, causal(), 0, PageLayout::NHD, 256},
        // Attention sinks (gpt-oss): with sliding windows, KV splits (the
        // sink counts once over all splits), GQA 1:1 / 4:1 / 7:1, D != Dv.
        StepCase{"SinksPagedWindowGqa4F32", true, 16, ElementType::F32, 8, 2,
                 64, 1, causal(100), 0, PageLayout::NHD, 256, 48, true},
        StepCase{"SinksPagedSplitsGqa7Bf16", true, 16, ElementType::BF16, 7, 1,
                 64, 1, causal(), 3, PageLayout::NHD, 256, 0, true},
        StepCase{"SinksHndWindowSplitsF32", true, 16, ElementType::F32, 4, 1,
                 32, 1, causal(60), 4, PageLayout::HND, 256, 0, true},
        StepCase{"SinksContiguousMhaChunkBf16", false, 0, ElementType::BF16, 2,
                 2, 32, 3, causal(40), 0, PageLayout::NHD, 256, 16, true},
        StepCase{"SinksContiguousSplitsGqa4F32", false, 0, ElementType::F32, 8,
                 2, 32, 1, causal(), 3, PageLayout::NHD, 96, 0, true}),
    [](const auto &info) { return std::string(info.param.name); });

/// The serving loop of docs/kv-cache.md, as written there.
TEST(KvCacheStepsApi, ServingEngineSketch) {
  using namespace mlir::attn;
  rt::Runtime &runtime = sharedRuntime();
  auto cache = cantFail(kv::PagedKvCache::create({.numPages = 64,
                                                  .pageSize = 16,
                                                  .maxPagesPerSeq = 8,
                                                  .maxSequences = 4,
                                                  .numKvHeads = 2,
                                                  .headDim = 32,
                                                  .dtype = ElementType::F32}));
  kv::SeqId a = cantFail(cache->addSequence()),
            b = cantFail(cache->addSequence());
  kv::KvStepper steps(*cache, runtime);
  HostTensor k(rt::DType::F32, {2, 2, 1, 32}),
      v = k, q(rt::DType::F32, {2, 8, 1, 32}), out = q;
  std::mt19937_64 rng(testSeed());
  for (int step = 0; step < 3; ++step) {
    k.fillRandom(rng);
    v.fillRandom(rng);
    q.fillRandom(rng);
    ASSERT_TRUE(ok(steps.appendStep({a, b}, k.ref, v.ref)));
    ASSERT_TRUE(ok(
        steps.decodeStep({a, b}, q.ref, out.ref, {.mask = {.causal = true}})));
  }
  EXPECT_EQ(get(cache->length(a)), 3);
  EXPECT_EQ(get(cache->length(b)), 3);
  auto stats = steps.kernels().stats();
  EXPECT_EQ(stats.compiles, 2) << "one append and one decode kernel";
  EXPECT_EQ(stats.hits, 0) << "the stepper remembers its kernels";

  // Another stepper sharing the kernel cache compiles nothing.
  auto other = cantFail(kv::PagedKvCache::create({.numPages = 64,
                                                  .pageSize = 16,
                                                  .maxPagesPerSeq = 8,
                                                  .maxSequences = 4,
                                                  .numKvHeads = 2,
                                                  .headDim = 32,
                                                  .dtype = ElementType::F32}));
  kv::SeqId c = cantFail(other->addSequence()),
            d = cantFail(other->addSequence());
  std::shared_ptr<kv::CacheKernels> shared(&steps.kernels(),
                                           [](kv::CacheKernels *) {});
  kv::KvStepper more(*other, runtime, {}, shared);
  ASSERT_TRUE(ok(more.appendStep({c, d}, k.ref, v.ref)));
  EXPECT_EQ(steps.kernels().stats().compiles, 2);
  EXPECT_EQ(steps.kernels().stats().hits, 1);
}

/// A view of the first `shape.back()` channels of rows `pad` elements
/// longer: strided, unit inner stride.
HostTensor padded(rt::DType t, llvm::ArrayRef<int64_t> shape, int64_t pad,
                  std::mt19937_64 &rng) {
  llvm::SmallVector<int64_t, 4> full(shape);
  full.back() += pad;
  HostTensor h(t, full);
  h.fillRandom(rng);
  h.ref.strides = rt::rowMajorStrides(full);
  h.ref.shape.assign(shape.begin(), shape.end());
  return h;
}

TEST(KvCacheStepsApi, StridedCallerBuffers) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto compiledCache = makePaged(32, 4, 8, 2, 2, 16),
       referenceCache = makePaged(32, 4, 8, 2, 2, 16);
  std::vector<SeqId> ids = {get(compiledCache->addSequence()),
                            get(compiledCache->addSequence())};
  ASSERT_TRUE(ok(referenceCache->addSequence().takeError()));
  ASSERT_TRUE(ok(referenceCache->addSequence().takeError()));
  kv::KvStepper compiled(*compiledCache, sharedRuntime());
  kv::KvStepper reference = referenceStepper(*referenceCache);
  HostTensor k = padded(rt::DType::F32, {2, 2, 7, 16}, 3, rng),
             v = padded(rt::DType::F32, {2, 2, 7, 16}, 5, rng);
  ASSERT_TRUE(ok(compiled.appendStep(ids, k.ref, v.ref, {7, 6})));
  ASSERT_TRUE(ok(reference.appendStep(ids, k.ref, v.ref, {7, 6})));
  ASSERT_TRUE(CacheSnapshot::of(*compiledCache) ==
              CacheSnapshot::of(*referenceCache));

  HostTensor q = padded(rt::DType::F32, {2, 4, 2, 16}, 2, rng);
  HostTensor out = padded(rt::DType::F32, {2, 4, 2, 16}, 4, rng);
  HostTensor want(rt::DType::F32, {2, 4, 2, 16});
  std::vector<uint8_t> before = out.bytes;
  ASSERT_TRUE(ok(compiled.decodeStep(ids, q.ref, out.ref, causal())));
  ASSERT_TRUE(ok(reference.decodeStep(ids, q.ref, want.ref, causal())));
  auto st = out.ref.strides;
  double maxErr = 0, maxRef = 0;
  for (int64_t i = 0; i < want.size(); ++i) {
    int64_t c = i % 16, r = i / 16;
    int64_t at = (r / 8) * st[0] + (r / 2 % 4) * st[1] + (r % 2) * st[2] + c;
    maxErr = std::max(maxErr, std::abs(out.at(at) - want.at(i)));
    maxRef = std::max(maxRef, std::abs(want.at(i)));
  }
  EXPECT_LE(maxErr / maxRef, rt::toleranceFor(rt::DType::F32).output);
  // The padding after each output row is untouched.
  for (int64_t r = 0; r < 16; ++r)
    for (int64_t c = 16; c < 20; ++c)
      EXPECT_EQ(std::memcmp(&out.bytes[(r * 20 + c) * 4],
                            &before[(r * 20 + c) * 4], 4),
                0);
}

TEST(KvCacheStepsApi, CompileErrorsChangeNothing) {
  // tile-kv 48 is neither a multiple nor a divisor of the page size 32:
  // the lowering refuses, and the cache must not have moved.
  auto cache = makePaged(16, 32, 4, 2, 2, 32);
  SeqId a = get(cache->addSequence());
  kv::StepOptions options;
  options.compile.tileKv = 48;
  kv::KvStepper steps(*cache, sharedRuntime(), options);
  HostTensor k(rt::DType::F32, {1, 2, 1, 32}), v = k;
  HostTensor q(rt::DType::F32, {1, 4, 1, 32}), out = q;
  ASSERT_TRUE(ok(steps.appendStep({a}, k.ref, v.ref)));
  expectFailsUnchanged(*cache, "page size 32 must divide tile-kv (48)",
                       [&] { return steps.decodeStep({a}, q.ref, out.ref); });
}

} // namespace
