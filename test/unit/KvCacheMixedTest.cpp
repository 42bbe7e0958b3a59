//===- KvCacheMixedTest.cpp - mixed prefill + decode batches --------------===//
//
// KvStepper::mixedStep (attn.cache_attention with packed queries and
// query_offsets): one launch over sequences bringing 0, 1, 2 (speculative),
// odd and chunk-sized query counts, against the float64 reference, and the
// packed reference against per-sequence reference decode steps. Tolerances
// are the runtime's per dtype (runtime/Check.h: f32 1e-5·|ref|max normwise,
// f16 / bf16 a few ulps of the type; lse relative). Every bad offsets
// array fails with a message naming query_offsets, the cache and the
// output untouched.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include <cmath>
#include <numeric>

using namespace kv_test;
using mlir::attn::RopeStyle;

namespace {

struct MixedCase {
  const char *name;
  bool paged;
  int64_t pageSize;
  PageLayout layout;
  ElementType dtype;
  int64_t hq, hkv, d, dv;
  kv::CacheAttentionOptions options;
  int64_t chunk;      ///< the prefill chunk of the steps
  bool sinks = false; ///< random [Hq] sink logits
  bool rope = false;  ///< NeoX RoPE on keys (append) and queries
};

void PrintTo(const MixedCase &c, std::ostream *os) { *os << c.name; }

/// cos/sin tables [maxPos, d / 2] (NeoX, base 10000), f32.
struct Tables {
  HostTensor cos, sin;
  Tables(int64_t maxPos, int64_t d)
      : cos(rt::DType::F32, {maxPos, d / 2}),
        sin(rt::DType::F32, {maxPos, d / 2}) {
    for (int64_t p = 0; p < maxPos; ++p)
      for (int64_t i = 0; i < d / 2; ++i) {
        double angle = p * std::pow(10000.0, -2.0 * i / d);
        cos.set(p * (d / 2) + i, std::cos(angle));
        sin.set(p * (d / 2) + i, std::sin(angle));
      }
  }
};

class KvCacheMixed : public ::testing::TestWithParam<MixedCase> {};

/// A compiled and a reference stepper over identical caches through ragged
/// prefill and mixed steps: every step appends each sequence's new tokens
/// (newLengths = its query count), then one mixedStep attends over the
/// whole batch. The compiled output and lse must pass the tolerance
/// against the float64 reference; every row must be written.
TEST_P(KvCacheMixed, CompiledMatchesReference) {
  const MixedCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t n = 5, maxLen = 256;
  auto make = [&]() -> std::unique_ptr<kv::KvCache> {
    if (p.paged)
      return makePaged(n * maxLen / p.pageSize, p.pageSize, maxLen / p.pageSize,
                       n, p.hkv, p.d, p.dv, p.dtype, p.layout);
    return makeContiguous(n, maxLen, p.hkv, p.d, p.dv, p.dtype);
  };
  auto compiledCache = make(), referenceCache = make();
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(compiledCache->addSequence()));
    ASSERT_EQ(get(referenceCache->addSequence()), ids.back());
  }
  kv::KvStepper compiled(*compiledCache, sharedRuntime());
  kv::KvStepper reference = referenceStepper(*referenceCache);
  rt::DType t = dtypeOf(p.dtype);
  HostTensor sinkLogits(rt::DType::F32, {p.hq});
  sinkLogits.fillRandom(rng);
  const rt::BufferRef *sinks = p.sinks ? &sinkLogits.ref : nullptr;
  Tables tables(maxLen, p.d);
  kv::RotaryEmbedding ropeTables{RopeStyle::NeoX, tables.cos.ref,
                                 tables.sin.ref};
  const kv::RotaryEmbedding *rope = p.rope ? &ropeTables : nullptr;

  auto append = [&](std::vector<int32_t> counts) {
    int64_t snew = *std::max_element(counts.begin(), counts.end());
    HostTensor k(t, {n, p.hkv, snew, p.d}), v(t, {n, p.hkv, snew, p.dv});
    k.fillRandom(rng);
    v.fillRandom(rng);
    ASSERT_TRUE(ok(compiled.appendStep(ids, k.ref, v.ref, counts, rope)));
    ASSERT_TRUE(ok(reference.appendStep(ids, k.ref, v.ref, counts, rope)));
  };
  auto mixed = [&](std::vector<int32_t> counts) {
    append(counts);
    std::vector<int32_t> offsets = queryOffsetsOf(counts);
    int64_t rows = offsets.back();
    HostTensor q(t, {rows, p.hq, p.d});
    q.fillRandom(rng);
    HostTensor out(t, {rows, p.hq, p.dv}), lse(rt::DType::F32, {rows, p.hq});
    HostTensor wantOut = out, wantLse = lse;
    out.fill(std::nan("")); // every row must be written
    lse.fill(std::nan(""));
    ASSERT_TRUE(ok(compiled.mixedStep(ids, q.ref, offsets, out.ref, p.options,
                                      &lse.ref, sinks, rope)));
    ASSERT_TRUE(ok(reference.mixedStep(ids, q.ref, offsets, wantOut.ref,
                                       p.options, &wantLse.ref, sinks, rope)));
    expectCloseTo(out, wantOut, &lse, &wantLse, t);
  };

  // History: sequence 0 stays empty, 1 holds one token, the others more.
  append({0, 1, 7, 70, 33});
  // Query counts 0 (idle), 1 (decode), 2 (speculative), odd and a chunk,
  // in changing places; an empty sequence starting with a chunk.
  mixed({0, 1, 13, static_cast<int32_t>(p.chunk), 1});
  mixed({static_cast<int32_t>(p.chunk), 2, 1, 1, 0});
  mixed({1, 1, 1, 1, 1});
  mixed({3, 0, static_cast<int32_t>(p.chunk), 1, 17});
  // One append kernel and one mixed kernel, whatever the composition.
  EXPECT_EQ(compiled.kernels().stats().compiles, 2);
}

kv::CacheAttentionOptions softcapped() {
  kv::CacheAttentionOptions o = causalAttention();
  o.softcap = 5.0f;
  o.scale = 0.3f;
  return o;
}

using ET = ElementType;
constexpr PageLayout NHD = PageLayout::NHD, HND = PageLayout::HND;

INSTANTIATE_TEST_SUITE_P(
    Mixed, KvCacheMixed,
    ::testing::Values(
        MixedCase{"PagedNhdF32Gqa4", true, 16, NHD, ET::F32, 8, 2, 64, 64,
                  causalAttention(), 32},
        MixedCase{"PagedHndBf16Gqa7D96", true, 16, HND, ET::BF16, 7, 1, 96, 96,
                  causalAttention(), 32},
        MixedCase{"ContiguousF16Gqa4D40Softcap", false, 0, NHD, ET::F16, 8, 2,
                  40, 40, softcapped(), 19},
        MixedCase{"PagedNhdBf16MhaSinks", true, 16, NHD, ET::BF16, 2, 2, 128,
                  128, causalAttention(), 70, /*sinks=*/true},
        MixedCase{"PagedHndF32Gqa7D40Page4Window", true, 4, HND, ET::F32, 14, 2,
                  40, 24, causalAttention(20), 32},
        MixedCase{"ContiguousBf16Gqa4Rope", false, 0, NHD, ET::BF16, 4, 1, 64,
                  64, causalAttention(), 32, false,
                  /*rope=*/true},
        MixedCase{"PagedNhdF16Gqa4NoMask", true, 32, NHD, ET::F16, 8, 2, 64, 64,
                  kv::CacheAttentionOptions{}, 32}),
    [](const ::testing::TestParamInfo<MixedCase> &i) {
      return std::string(i.param.name);
    });

/// The packed reference agrees with the [B, Hq, Sq, D] reference run one
/// sequence at a time (Sq = the sequence's query count): the oracle of the
/// compiled tests is itself checked against the older one.
TEST(KvCacheMixedReference, MatchesPerSequenceDecode) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t n = 4, hq = 6, hkv = 2, d = 16;
  auto cache = makePaged(64, 4, 16, n, hkv, d, d, ET::F32);
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i)
    ids.push_back(get(cache->addSequence()));
  kv::KvStepper steps = referenceStepper(*cache);
  std::vector<int32_t> counts = {5, 0, 1, 9};
  HostTensor k(rt::DType::F32, {n, hkv, 20, d}), v = k;
  k.fillRandom(rng);
  v.fillRandom(rng);
  ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, v.ref, {20, 3, 1, 12})));
  std::vector<int32_t> offsets = queryOffsetsOf(counts);
  HostTensor q(rt::DType::F32, {offsets.back(), hq, d});
  q.fillRandom(rng);
  HostTensor out(rt::DType::F32, {offsets.back(), hq, d});
  HostTensor lse(rt::DType::F32, {offsets.back(), hq});
  ASSERT_TRUE(ok(steps.mixedStep(ids, q.ref, offsets, out.ref,
                                 causalAttention(), &lse.ref)));
  for (int64_t s = 0; s < n; ++s) {
    int64_t m = counts[s];
    if (m == 0)
      continue;
    HostTensor qs(rt::DType::F32, {1, hq, m, d}),
        os(rt::DType::F32, {1, hq, m, d});
    HostTensor ls(rt::DType::F32, {1, hq, m});
    for (int64_t i = 0; i < m; ++i)
      for (int64_t h = 0; h < hq; ++h)
        for (int64_t c = 0; c < d; ++c)
          qs.set((h * m + i) * d + c,
                 q.at(((offsets[s] + i) * hq + h) * d + c));
    ASSERT_TRUE(ok(steps.decodeStep({ids[s]}, qs.ref, os.ref, causalAttention(),
                                    &ls.ref)));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t h = 0; h < hq; ++h) {
        int64_t r = (offsets[s] + i) * hq + h;
        EXPECT_EQ(lse.at(r), ls.at(h * m + i)) << "sequence " << s;
        for (int64_t c = 0; c < d; ++c)
          EXPECT_EQ(out.at(r * d + c), os.at((h * m + i) * d + c))
              << "sequence " << s << " row " << i << " head " << h;
      }
  }
}

/// A batch whose sequences all bring no query (T = 0) runs and writes
/// nothing; an empty batch is refused as by decodeStep.
TEST(KvCacheMixedReference, EmptyBatches) {
  auto cache = makePaged(16, 4, 4, 2, 2, 16, 16, ET::F32);
  std::vector<SeqId> ids = {get(cache->addSequence()),
                            get(cache->addSequence())};
  kv::KvStepper compiled(*cache, sharedRuntime());
  HostTensor q(rt::DType::F32, {0, 4, 16}), out(rt::DType::F32, {0, 4, 16});
  std::vector<int32_t> none = {0};
  EXPECT_NE(
      errorOf(compiled.mixedStep({}, q.ref, none, out.ref)).find("empty batch"),
      std::string::npos);
  std::vector<int32_t> zeros = {0, 0, 0};
  EXPECT_TRUE(ok(compiled.mixedStep(ids, q.ref, zeros, out.ref)));
}

/// Every bad offsets array or buffer: an error naming the operand, the
/// cache unchanged and no output row written, on the compiled and the
/// reference backend.
TEST(KvCacheMixedErrors, BadOffsetsChangeNothing) {
  for (bool useReference : {false, true}) {
    SCOPED_TRACE(useReference ? "reference" : "compiled");
    auto cache = makePaged(32, 4, 8, 3, 2, 16, 16, ET::F32);
    std::vector<SeqId> ids;
    for (int i = 0; i < 3; ++i)
      ids.push_back(get(cache->addSequence()));
    kv::KvStepper compiled(*cache, sharedRuntime());
    kv::KvStepper reference = referenceStepper(*cache);
    kv::KvStepper &steps = useReference ? reference : compiled;
    std::mt19937_64 rng(testSeed());
    HostTensor k(rt::DType::F32, {3, 2, 4, 16}), v = k;
    k.fillRandom(rng);
    v.fillRandom(rng);
    ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, v.ref, {2, 4, 3})));
    HostTensor q(rt::DType::F32, {5, 4, 16}), out(rt::DType::F32, {5, 4, 16});
    HostTensor lse(rt::DType::F32, {5, 4});
    q.fillRandom(rng);
    out.fill(7.0);
    lse.fill(7.0);
    auto untouched = [&] {
      for (int64_t i = 0; i < out.size(); ++i)
        if (out.at(i) != 7.0)
          return false;
      for (int64_t i = 0; i < lse.size(); ++i)
        if (lse.at(i) != 7.0)
          return false;
      return true;
    };
    auto expectRefused = [&](std::vector<int32_t> offsets,
                             llvm::StringRef message,
                             const HostTensor *query = nullptr,
                             const HostTensor *output = nullptr,
                             const HostTensor *lseOut = nullptr) {
      const HostTensor &qq = query ? *query : q;
      const HostTensor &oo = output ? *output : out;
      const HostTensor &ll = lseOut ? *lseOut : lse;
      expectFailsUnchanged(*cache, message, [&] {
        return steps.mixedStep(ids, qq.ref, offsets, oo.ref, causalAttention(),
                               &ll.ref);
      });
      EXPECT_TRUE(untouched()) << message.str();
    };
    expectRefused({1, 2, 4, 5}, "mixedStep: query_offsets[0] = 1, expected 0");
    expectRefused(
        {0, 2, 1, 5},
        "mixedStep: query_offsets: sequence 1 has -1 queries ([2] = 1 "
        "< [1] = 2)");
    expectRefused({0, 3, 4, 5},
                  "mixedStep: query_offsets: sequence 0 has 3 queries but "
                  "holds 2 tokens");
    expectRefused({0, 1, 2, 4},
                  "mixedStep: query_offsets[3] = 4 but the query has 5 rows");
    expectRefused(
        {0, 2, 5},
        "mixedStep: query_offsets has shape [3], expected [4] [B + 1]");
    HostTensor badOut(rt::DType::F32, {4, 4, 16});
    expectRefused({0, 1, 2, 5},
                  "mixedStep: output has shape [4, 4, 16], "
                  "expected [5, 4, 16] [T, Hq, Dv]",
                  nullptr, &badOut);
    HostTensor badLse(rt::DType::F32, {5, 2});
    expectRefused({0, 1, 2, 5},
                  "mixedStep: lse has shape [5, 2], expected [5, 4] [T, Hq]",
                  nullptr, nullptr, &badLse);
    HostTensor rank4(rt::DType::F32, {3, 4, 1, 16});
    expectRefused({0, 1, 2, 3}, "[T, Hq, D] (packed by query_offsets)", &rank4);
    HostTensor badHeads(rt::DType::F32, {5, 3, 16});
    expectRefused({0, 1, 2, 5},
                  "mixedStep: query heads (3) must be a multiple of key/value "
                  "heads (2)",
                  &badHeads);
    // The output may not alias the query.
    expectRefused({0, 1, 2, 5}, "mixedStep: output", nullptr, &q);
  }
}

/// The raw float64 reference checks the offsets the same way (its errors
/// read "cache_attention: ...") and writes nothing.
TEST(KvCacheMixedErrors, ReferenceChecksOffsets) {
  auto cache = makeContiguous(2, 8, 1, 8);
  std::vector<SeqId> ids = {get(cache->addSequence()),
                            get(cache->addSequence())};
  ASSERT_TRUE(ok(cache->extend(ids[0], 3)));
  ASSERT_TRUE(ok(cache->extend(ids[1], 1)));
  const kv::KvBatch *batch = get(cache->prepareStep(ids, 0));
  ASSERT_NE(batch, nullptr);
  HostTensor q(rt::DType::F32, {4, 2, 8});
  auto offsetsRef = [](std::vector<int32_t> &v) {
    return rt::BufferRef::contiguous(v.data(), rt::DType::I32,
                                     {static_cast<int64_t>(v.size())});
  };
  std::vector<int32_t> good = {0, 3, 4}, tooMany = {0, 2, 4}, neg = {0, 3, 2};
  EXPECT_TRUE(static_cast<bool>(kv::referenceMixedCacheAttention(
      batch->attentionOperands(), q.ref, offsetsRef(good))));
  auto fails = [&](std::vector<int32_t> &offsets, llvm::StringRef message) {
    auto r = kv::referenceMixedCacheAttention(batch->attentionOperands(), q.ref,
                                              offsetsRef(offsets));
    ASSERT_FALSE(static_cast<bool>(r));
    std::string msg = llvm::toString(r.takeError());
    EXPECT_NE(msg.find(message.str()), std::string::npos) << msg;
  };
  fails(tooMany, "cache_attention: query_offsets: sequence 1 has 2 queries "
                 "but holds 1 tokens");
  fails(neg, "cache_attention: query_offsets: sequence 1 has -1 queries");
  std::vector<int64_t> wrongType = {0, 3, 4};
  auto bad = rt::BufferRef::contiguous(wrongType.data(), rt::DType::I64, {3});
  auto r =
      kv::referenceMixedCacheAttention(batch->attentionOperands(), q.ref, bad);
  ASSERT_FALSE(static_cast<bool>(r));
  EXPECT_NE(llvm::toString(r.takeError()).find("query_offsets"),
            std::string::npos);
}

} // namespace
