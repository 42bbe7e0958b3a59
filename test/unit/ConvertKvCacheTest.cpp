//===- ConvertKvCacheTest.cpp - pooling a live KV cache's heads -----------===//
//
// Caches filled through the float64 reference steps (ragged appends, freed
// and reused slots, scattered pages) are pooled to G heads; decode attention
// over the pooled cache must equal decode attention over a cache that was
// filled with the group means directly.
//
//===----------------------------------------------------------------------===//

#include "runtime/convert/KvCacheConvert.h"
#include "test/unit/KvCacheTestUtils.h"

#include <map>

using namespace kv_test;
namespace convert = mlir::attn::convert;

namespace {

struct CacheKind {
  bool paged;
  PageLayout layout;
  ElementType dtype;
};

constexpr int64_t kHeads = 4, kD = 8, kDv = 6, kQueryHeads = 8;

std::unique_ptr<kv::KvCache> makeCache(const CacheKind &k, int64_t heads) {
  if (k.paged) {
    kv::PagedKvCacheConfig c;
    c.numPages = 24;
    c.pageSize = 4;
    c.maxPagesPerSeq = 5;
    c.maxSequences = 4;
    c.numKvHeads = heads;
    c.headDim = kD;
    c.valueDim = kDv;
    c.dtype = k.dtype;
    c.pageLayout = k.layout;
    return get(kv::PagedKvCache::create(c));
  }
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = 4;
  c.maxSeqLen = 20;
  c.numKvHeads = heads;
  c.headDim = kD;
  c.valueDim = kDv;
  c.dtype = k.dtype;
  return get(kv::ContiguousKvCache::create(c));
}

/// The rows each sequence received, [s][h][e] as the dtype holds them.
using Rows = std::vector<std::vector<std::vector<double>>>;
struct Recorded {
  Rows k, v;
};

/// Appends `n` random rows to `id` and records them.
void append(kv::KvStepper &steps, SeqId id, int64_t n, ElementType t,
            std::mt19937_64 &rng, Recorded &rec) {
  HostTensor k(dtypeOf(t), {1, kHeads, n, kD}),
      v(dtypeOf(t), {1, kHeads, n, kDv});
  k.fillRandom(rng);
  v.fillRandom(rng);
  ASSERT_TRUE(ok(steps.appendStep({id}, k.ref, v.ref)));
  for (int64_t s = 0; s < n; ++s) {
    rec.k.emplace_back(kHeads);
    rec.v.emplace_back(kHeads);
    for (int64_t h = 0; h < kHeads; ++h) {
      for (int64_t e = 0; e < kD; ++e)
        rec.k.back()[h].push_back(k.at((h * n + s) * kD + e));
      for (int64_t e = 0; e < kDv; ++e)
        rec.v.back()[h].push_back(v.at((h * n + s) * kDv + e));
    }
  }
}

/// [1, heads, S, dim] of the group means of `rows`.
HostTensor groupMeans(const Rows &rows, int64_t groups, int64_t dim,
                      ElementType t) {
  int64_t s = rows.size(), per = kHeads / groups;
  HostTensor out(dtypeOf(t), {1, groups, s, dim});
  for (int64_t i = 0; i < s; ++i)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t e = 0; e < dim; ++e) {
        double sum = 0;
        for (int64_t j = 0; j < per; ++j)
          sum += rows[i][g * per + j][e];
        out.set((g * s + i) * dim + e, sum / per);
      }
  return out;
}

double tolerance(ElementType t) {
  // The two caches hold the same means, each rounded once to the dtype by a
  // different routine: they may differ by an ulp in rare ties.
  switch (t) {
  case ElementType::F32:
    return 1e-6;
  case ElementType::F16:
    return 2e-3;
  case ElementType::BF16:
    return 1.6e-2;
  }
  return 0;
}

void checkPooling(const CacheKind &kind, int64_t groups, uint64_t seed) {
  SCOPED_TRACE(std::string(kind.paged ? "paged" : "contiguous") + " dtype " +
               std::to_string(int(kind.dtype)) +
               " G=" + std::to_string(groups) +
               " ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto src = makeCache(kind, kHeads);
  kv::KvStepper steps = referenceStepper(*src);
  std::map<int32_t, Recorded> rec; // by slot
  SeqId a = get(src->addSequence()), b = get(src->addSequence()),
        c = get(src->addSequence());
  append(steps, a, 9, kind.dtype, rng, rec[a.slot]);
  append(steps, b, 5, kind.dtype, rng, rec[b.slot]);
  append(steps, c, 7, kind.dtype, rng, rec[c.slot]);
  append(steps, a, 3, kind.dtype, rng, rec[a.slot]);
  // Slot 1 reused (generation 1, pages from the free list), slot 0 freed:
  // the pooled cache must keep slots 1 and 2 with their lengths.
  ASSERT_TRUE(ok(src->freeSequence(b)));
  rec.erase(b.slot);
  SeqId d = get(src->addSequence());
  ASSERT_EQ(d.slot, b.slot);
  append(steps, d, 6, kind.dtype, rng, rec[d.slot]);
  append(steps, c, 4, kind.dtype, rng, rec[c.slot]);
  ASSERT_TRUE(ok(src->freeSequence(a)));
  rec.erase(a.slot);
  CacheSnapshot before = CacheSnapshot::of(*src);

  convert::PooledKvCache pooled = get(convert::poolKvHeads(*src, groups));
  ASSERT_TRUE(pooled.cache);
  EXPECT_TRUE(CacheSnapshot::of(*src) == before) << "source changed";
  EXPECT_EQ(pooled.cache->numKvHeads(), groups);
  EXPECT_EQ(pooled.cache->isPaged(), kind.paged);
  ASSERT_EQ(pooled.ids.size(), 2u);
  EXPECT_EQ(pooled.cache->numSequences(), 2);

  kv::KvStepper pooledSteps = referenceStepper(*pooled.cache);
  for (auto [oldId, newId] : pooled.ids) {
    EXPECT_EQ(oldId.slot, newId.slot);
    EXPECT_EQ(get(src->length(oldId)), get(pooled.cache->length(newId)));
    // The same sequence built from the group means directly.
    auto want = makeCache(kind, groups);
    kv::KvStepper wantSteps = referenceStepper(*want);
    SeqId w = get(want->addSequence());
    const Recorded &r = rec.at(oldId.slot);
    HostTensor k = groupMeans(r.k, groups, kD, kind.dtype);
    HostTensor v = groupMeans(r.v, groups, kDv, kind.dtype);
    ASSERT_TRUE(ok(wantSteps.appendStep({w}, k.ref, v.ref)));

    HostTensor q(dtypeOf(kind.dtype), {1, kQueryHeads, 1, kD});
    q.fillRandom(rng);
    HostTensor got(dtypeOf(kind.dtype), {1, kQueryHeads, 1, kDv}),
        ref(dtypeOf(kind.dtype), {1, kQueryHeads, 1, kDv}),
        orig(dtypeOf(kind.dtype), {1, kQueryHeads, 1, kDv});
    ASSERT_TRUE(ok(pooledSteps.decodeStep({newId}, q.ref, got.ref)));
    ASSERT_TRUE(ok(wantSteps.decodeStep({w}, q.ref, ref.ref)));
    ASSERT_TRUE(ok(steps.decodeStep({oldId}, q.ref, orig.ref)));
    for (int64_t i = 0; i < got.size(); ++i) {
      ASSERT_FALSE(std::isnan(got.at(i)));
      ASSERT_NEAR(got.at(i), ref.at(i), tolerance(kind.dtype)) << "out " << i;
    }
    // G = H copies: the same attention as the source, bit for bit.
    if (groups == kHeads)
      EXPECT_EQ(got.bytes, orig.bytes);
    if (kind.paged)
      EXPECT_EQ(get(llvm::cast<kv::PagedKvCache>(*pooled.cache).pagesOf(newId))
                    .size(),
                get(llvm::cast<kv::PagedKvCache>(*src).pagesOf(oldId)).size());
  }
}

TEST(KvCacheConvert, PooledCacheEqualsGroupMeanAttention) {
  uint64_t seed = testSeed();
  for (ElementType t : {ElementType::F32, ElementType::F16, ElementType::BF16})
    for (int64_t g : {1, 2, 4}) {
      checkPooling({false, PageLayout::NHD, t}, g, seed++);
      checkPooling({true, PageLayout::NHD, t}, g, seed++);
      checkPooling({true, PageLayout::HND, t}, g, seed++);
    }
}

TEST(KvCacheConvert, Errors) {
  for (bool paged : {false, true}) {
    auto src = makeCache({paged, PageLayout::NHD, ElementType::F32}, kHeads);
    EXPECT_EQ(errorOf(convert::poolKvHeads(*src, 3)),
              "KV cache conversion: 4 KV heads do not divide into 3 groups");
    EXPECT_EQ(errorOf(convert::poolKvHeads(*src, 0)),
              "KV cache conversion: groups must be positive, got 0");
    // An empty cache converts to an empty cache.
    auto empty = get(convert::poolKvHeads(*src, 2));
    EXPECT_EQ(empty.cache->numSequences(), 0);
  }
}

} // namespace
