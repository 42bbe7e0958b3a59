//===- KvCacheErrorsTest.cpp - every failure leaves the cache unchanged ---===//
//
// Each test drives one error path on a populated cache (random rows, ragged
// lengths, a freed sequence) of both kinds and checks that the error names
// the problem and that nothing observable changed: K/V bytes, lengths,
// block table, free list, live ids, capacities.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

using namespace kv_test;

namespace {

constexpr int64_t kHkv = 2, kD = 8, kDv = 4, kPageSize = 4, kMaxLen = 16;

/// A populated cache: a (5 rows), b (3 rows), and a freed sequence that
/// held 2 rows.
class ErrorsFixture {
protected:
  void build(bool paged) {
    if (paged)
      // 6 pages of 4 rows, 4 pages per sequence: sequences can outgrow the
      // pool before they reach their maximum length.
      cache = makePaged(/*numPages=*/6, kPageSize, kMaxLen / kPageSize,
                        /*maxSequences=*/3, kHkv, kD, kDv);
    else
      cache = makeContiguous(/*maxBatch=*/3, kMaxLen, kHkv, kD, kDv);
    std::mt19937_64 rng(testSeed());
    a = get(cache->addSequence());
    b = get(cache->addSequence());
    freed = get(cache->addSequence());
    HostTensor k(rt::DType::F32, {3, kHkv, 5, kD}),
        v(rt::DType::F32, {3, kHkv, 5, kDv});
    k.fillRandom(rng);
    v.fillRandom(rng);
    kv::KvStepper steps = referenceStepper(*cache);
    ASSERT_TRUE(ok(steps.appendStep({a, b, freed}, k.ref, v.ref, {5, 3, 2})));
    ASSERT_TRUE(ok(cache->freeSequence(freed)));
  }

  std::unique_ptr<kv::KvCache> cache;
  SeqId a, b, freed;
};

/// Both kinds.
class KvCacheErrors : public ErrorsFixture,
                      public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override { build(GetParam()); }
};

/// Paged caches only (pages, block tables).
class KvCachePagedErrors : public ErrorsFixture, public ::testing::Test {
protected:
  void SetUp() override { build(true); }
};

TEST_P(KvCacheErrors, AddSequenceWhenFull) {
  ASSERT_TRUE(ok(cache->addSequence().takeError()));
  expectFailsUnchanged(*cache, "all 3 sequence slots are in use",
                       [&] { return cache->addSequence().takeError(); });
}

TEST_P(KvCacheErrors, GrowingPastCapacity) {
  // a holds 5 of 16 rows.
  expectFailsUnchanged(*cache, "exceed its capacity of 16",
                       [&] { return cache->reserve(a, 12); });
  expectFailsUnchanged(*cache, "exceed its capacity of 16",
                       [&] { return cache->extend(a, 12); });
  expectFailsUnchanged(*cache, "exceed its capacity of 16", [&] {
    return cache->prepareStep({a, b}, {1, 14}).takeError();
  });
  expectFailsUnchanged(*cache, "negative token count",
                       [&] { return cache->extend(a, -1); });
}

TEST_F(KvCachePagedErrors, OutOfPages) {
  // a has 2 pages, b 1; c takes 2 more, leaving 1 of 6 free.
  SeqId c = get(cache->addSequence());
  ASSERT_TRUE(ok(cache->reserve(c, 8)));
  expectFailsUnchanged(*cache,
                       "out of pages: sequence 1#0 needs 3 more pages but "
                       "only 1 of 6 are free",
                       [&] { return cache->reserve(b, 13); });
  // c's third page would fit alone, a's third too, but not both: all or
  // nothing.
  expectFailsUnchanged(*cache, "out of pages: 2 sequences need 2 more pages",
                       [&] {
                         return cache->prepareStep({c, a}, {9, 4}).takeError();
                       });
  expectFailsUnchanged(*cache, "only 1 of 6 are free",
                       [&] { return cache->extend(a, 8); });
}

TEST_P(KvCacheErrors, FreedSequence) {
  for (auto &[name, op] :
       std::vector<std::pair<const char *, std::function<llvm::Error()>>>{
           {"length", [&] { return cache->length(freed).takeError(); }},
           {"capacity", [&] { return cache->capacity(freed).takeError(); }},
           {"reserve", [&] { return cache->reserve(freed, 1); }},
           {"extend", [&] { return cache->extend(freed, 1); }},
           {"truncate", [&] { return cache->truncate(freed, 0); }},
           {"freeSequence", [&] { return cache->freeSequence(freed); }},
           {"prepareStep",
            [&] {
              return cache->prepareStep({a, freed}, 1).takeError();
            }},
       }) {
    SCOPED_TRACE(name);
    expectFailsUnchanged(*cache, std::string(name) + ": sequence 2#0 was freed",
                         op);
  }
  // The slot is reused by a new sequence; the old id stays dead.
  SeqId reborn = get(cache->addSequence());
  EXPECT_EQ(reborn.slot, freed.slot);
  expectFailsUnchanged(*cache, "was freed",
                       [&] { return cache->extend(freed, 1); });
}

TEST_P(KvCacheErrors, UnknownSequence) {
  for (SeqId bogus : {SeqId{3, 0}, SeqId{-1, 0}, SeqId{0, 7}, SeqId{}}) {
    SCOPED_TRACE(kv::toString(bogus));
    expectFailsUnchanged(*cache, "unknown sequence",
                         [&] { return cache->extend(bogus, 1); });
    expectFailsUnchanged(*cache, "unknown sequence",
                         [&] { return cache->freeSequence(bogus); });
  }
}

TEST_P(KvCacheErrors, TruncateBeyondLength) {
  expectFailsUnchanged(*cache, "cannot truncate to 6",
                       [&] { return cache->truncate(a, 6); });
  expectFailsUnchanged(*cache, "cannot truncate to -1",
                       [&] { return cache->truncate(a, -1); });
}

TEST_P(KvCacheErrors, MalformedBatches) {
  expectFailsUnchanged(*cache, "empty batch",
                       [&] { return cache->prepareStep({}, 1).takeError(); });
  expectFailsUnchanged(*cache, "appears twice", [&] {
    return cache->prepareStep({a, a}, 1).takeError();
  });
  expectFailsUnchanged(*cache, "1 token counts for 2 sequences", [&] {
    return cache->prepareStep({a, b}, llvm::ArrayRef<int32_t>{1}).takeError();
  });
  std::vector<SeqId> many(4, a);
  expectFailsUnchanged(*cache, "exceeds the cache's 3 slots",
                       [&] { return cache->prepareStep(many, 1).takeError(); });
}

TEST_P(KvCacheErrors, AppendShapeAndTypeMismatch) {
  kv::KvStepper steps = referenceStepper(*cache);
  auto tensor = [](rt::DType t, llvm::ArrayRef<int64_t> shape) {
    return HostTensor(t, shape);
  };
  HostTensor k = tensor(rt::DType::F32, {2, kHkv, 1, kD}),
             v = tensor(rt::DType::F32, {2, kHkv, 1, kDv});
  struct Case {
    const char *expected;
    HostTensor key, value;
    std::vector<int32_t> newLengths;
  };
  std::vector<Case> cases = {
      {"key has shape [2, 3, 1, 8]",
       tensor(rt::DType::F32, {2, 3, 1, kD}),
       v,
       {}},
      {"key has shape [2, 2, 1, 7]",
       tensor(rt::DType::F32, {2, kHkv, 1, 7}),
       v,
       {}},
      {"key has shape [1, 2, 1, 8]",
       tensor(rt::DType::F32, {1, kHkv, 1, kD}),
       v,
       {}},
      {"key has element type bf16, expected f32",
       tensor(rt::DType::BF16, {2, kHkv, 1, kD}),
       v,
       {}},
      {"value has shape [2, 2, 1, 8]",
       k,
       tensor(rt::DType::F32, {2, kHkv, 1, kD}),
       {}},
      {"value has shape [2, 2, 2, 4]",
       k,
       tensor(rt::DType::F32, {2, kHkv, 2, kDv}),
       {}},
      {"value has element type i32",
       k,
       tensor(rt::DType::I32, {2, kHkv, 1, kDv}),
       {}},
      {"newLengths[1] = 2 is outside [0, Snew = 1]", k, v, {1, 2}},
      {"3 new lengths for 2 sequences", k, v, {1, 1, 1}},
  };
  for (Case &c : cases) {
    SCOPED_TRACE(c.expected);
    expectFailsUnchanged(*cache, c.expected, [&] {
      return steps.appendStep({a, b}, c.key.ref, c.value.ref, c.newLengths);
    });
  }
  // A strided key whose rows are not contiguous cannot feed the kernels.
  HostTensor wide = tensor(rt::DType::F32, {2, kHkv, 1, 2 * kD});
  rt::BufferRef strided = wide.ref;
  strided.shape[3] = kD;
  strided.strides = {kHkv * 2 * kD, 2 * kD, 2 * kD, 2};
  expectFailsUnchanged(*cache, "innermost stride 2", [&] {
    return steps.appendStep({a, b}, strided, v.ref);
  });
}

TEST_P(KvCacheErrors, DecodeInputMismatch) {
  kv::KvStepper steps = referenceStepper(*cache);
  HostTensor q(rt::DType::F32, {2, 4, 1, kD}),
      o(rt::DType::F32, {2, 4, 1, kDv});
  HostTensor q3(rt::DType::F32, {2, 3, 1, kD}),
      qHalf(rt::DType::F16, {2, 4, 1, kD}),
      oWrong(rt::DType::F32, {2, 4, 1, kD}), lse(rt::DType::F32, {2, 4, 2});
  expectFailsUnchanged(*cache, "query heads (3) must be a multiple", [&] {
    return steps.decodeStep({a, b}, q3.ref, o.ref);
  });
  expectFailsUnchanged(*cache, "query has element type f16, expected f32", [&] {
    return steps.decodeStep({a, b}, qHalf.ref, o.ref);
  });
  expectFailsUnchanged(*cache, "output has shape [2, 4, 1, 8]", [&] {
    return steps.decodeStep({a, b}, q.ref, oWrong.ref);
  });
  expectFailsUnchanged(*cache, "lse has shape [2, 4, 2]", [&] {
    return steps.decodeStep({a, b}, q.ref, o.ref, {}, &lse.ref);
  });
  kv::CacheAttentionOptions offset;
  offset.mask.qOffset = 3;
  expectFailsUnchanged(*cache, "q_offset must be 0", [&] {
    return steps.decodeStep({a, b}, q.ref, o.ref, offset);
  });
  expectFailsUnchanged(*cache, "was freed", [&] {
    return steps.decodeStep({a, freed}, q.ref, o.ref);
  });
  // An output inside the key pool would corrupt the cache it reads.
  rt::BufferRef inPool = o.ref;
  inPool.data = cache->keyCache().data;
  expectFailsUnchanged(
      *cache, "decodeStep: output overlaps the key cache in memory", [&] {
        return steps.decodeStep({a, b}, q.ref, inPool);
      });
  rt::BufferRef onQuery = o.ref;
  onQuery.data = q.ref.data;
  expectFailsUnchanged(*cache, "decodeStep: output overlaps query in memory",
                       [&] {
                         return steps.decodeStep({a, b}, q.ref, onQuery);
                       });
}

TEST_F(KvCachePagedErrors, BadPageIdInUserBlockTable) {
  // A caller-built table for sequences a (5 rows: 2 pages) and b (3 rows).
  HostTensor table(rt::DType::I32, {2, 4});
  auto *pa = static_cast<kv::PagedKvCache *>(cache.get());
  auto pagesA = get(pa->pagesOf(a)), pagesB = get(pa->pagesOf(b));
  for (int i = 0; i < 2; ++i)
    table.set(i, pagesA[i]);
  table.set(4, pagesB[0]);
  HostTensor lengths(rt::DType::I32, {2});
  lengths.set(0, 5);
  lengths.set(1, 3);
  kv::CacheOperands ops{cache->keyCache(), cache->valueCache(), lengths.ref,
                        table.ref};
  HostTensor k(rt::DType::F32, {2, kHkv, 1, kD}),
      v(rt::DType::F32, {2, kHkv, 1, kDv}), q(rt::DType::F32, {2, 4, 1, kD});

  table.set(1, 6); // == numPages
  expectFailsUnchanged(
      *cache,
      "block_table[0, 1] = 6 is not a page id in "
      "[0, 6)",
      [&] { return kv::referenceCacheAppend(ops, k.ref, v.ref); });
  expectFailsUnchanged(*cache, "block_table[0, 1] = 6", [&] {
    return kv::referenceCacheAttention(ops, q.ref).takeError();
  });
  table.set(1, pagesA[1]);
  table.set(4, -1);
  expectFailsUnchanged(*cache, "block_table[1, 0] = -1", [&] {
    return kv::referenceCacheAppend(ops, k.ref, v.ref);
  });
  // Entries past the rows in use are never read, so they may hold anything.
  table.set(4, pagesB[0]);
  table.set(7, 12345);
  EXPECT_TRUE(ok(kv::referenceCacheAttention(ops, q.ref).takeError()));
  // ... until an append needs them: b's 4th row is still in page 0 of b,
  // its 5th would be in column 1.
  table.set(5, 99);
  HostTensor k2(rt::DType::F32, {2, kHkv, 2, kD}),
      v2(rt::DType::F32, {2, kHkv, 2, kDv});
  expectFailsUnchanged(*cache, "block_table[1, 1] = 99", [&] {
    return kv::referenceCacheAppend(ops, k2.ref, v2.ref);
  });
}

TEST_P(KvCacheErrors, RawOperandsPastCapacity) {
  HostTensor lengths(rt::DType::I32, {1});
  kv::CacheOperands ops{cache->keyCache(), cache->valueCache(), lengths.ref,
                        std::nullopt};
  HostTensor table(rt::DType::I32, {1, kMaxLen / kPageSize});
  if (GetParam())
    ops.blockTable = table.ref;
  else
    ops.keyCache.shape[0] = ops.valueCache.shape[0] = 1;
  lengths.set(0, kMaxLen + 1);
  HostTensor k(rt::DType::F32, {1, kHkv, 1, kD}),
      v(rt::DType::F32, {1, kHkv, 1, kDv});
  expectFailsUnchanged(*cache, "cache_lengths[0] = 17 is outside [0, 16]", [&] {
    return kv::referenceCacheAppend(ops, k.ref, v.ref);
  });
  lengths.set(0, kMaxLen);
  expectFailsUnchanged(*cache, "needs 17 rows but the cache holds 16", [&] {
    return kv::referenceCacheAppend(ops, k.ref, v.ref);
  });
}

/// Pools are checked against the layout the operands claim: an NHD value
/// pool next to an HND key pool is a shape error naming the HND shape, and an
/// unknown layout is refused at create.
TEST(KvCacheLayoutErrors, PoolShapesFollowTheLayout) {
  auto hnd = makePaged(/*numPages=*/6, /*pageSize=*/4, /*maxPagesPerSeq=*/3,
                       /*maxSequences=*/2, /*hkv=*/2, /*d=*/8, 0,
                       ElementType::F32, PageLayout::HND);
  auto nhd = makePaged(6, 4, 3, 2, 2, 8);
  EXPECT_EQ(hnd->keyCache().shape, (llvm::SmallVector<int64_t, 4>{6, 2, 4, 8}));
  EXPECT_EQ(nhd->keyCache().shape, (llvm::SmallVector<int64_t, 4>{6, 4, 2, 8}));
  SeqId a = get(hnd->addSequence());
  ASSERT_TRUE(ok(hnd->extend(a, 5)));
  kv::CacheOperands ops = get(hnd->prepareStep({a}, 0))->attentionOperands();
  EXPECT_EQ(ops.pageLayout, PageLayout::HND);
  ops.valueCache = nhd->valueCache();
  HostTensor q(rt::DType::F32, {1, 2, 1, 8});
  EXPECT_EQ(errorOf(kv::referenceCacheAttention(ops, q.ref).takeError()),
            "cache_attention: value_cache has shape [6, 4, 2, 8], expected "
            "[6, 2, 4, 8] [P, Hkv, page_size, Dv]");

  kv::PagedKvCacheConfig c;
  c.numPages = 4;
  c.maxPagesPerSeq = 2;
  c.maxSequences = 1;
  c.pageLayout = static_cast<PageLayout>(7);
  EXPECT_EQ(errorOf(kv::PagedKvCache::create(c).takeError()),
            "PagedKvCache: unknown page layout 7");
}

INSTANTIATE_TEST_SUITE_P(Kinds, KvCacheErrors, ::testing::Bool(),
                         [](const auto &info) {
                           return info.param ? "Paged" : "Contiguous";
                         });

} // namespace
