//===- KvCachePagedTest.cpp - PagedKvCache bookkeeping --------------------===//
#include "KvCacheTestUtils.h"

#include <map>
#include <set>

using namespace kv_test;

namespace {

std::vector<int32_t> pagesOf(const kv::PagedKvCache &c, SeqId id) {
  auto pages = get(c.pagesOf(id));
  return std::vector<int32_t>(pages.begin(), pages.end());
}

TEST(KvCachePaged, CreateRejectsBadConfigs) {
  kv::PagedKvCacheConfig good;
  good.numPages = 8;
  good.pageSize = 16;
  good.maxPagesPerSeq = 4;
  good.maxSequences = 2;
  ASSERT_TRUE(ok(kv::PagedKvCache::create(good).takeError()));

  auto bad = [&](auto edit, const char *expected) {
    kv::PagedKvCacheConfig c = good;
    edit(c);
    std::string msg = errorOf(kv::PagedKvCache::create(c));
    EXPECT_NE(msg.find(expected), std::string::npos) << msg;
  };
  bad([](auto &c) { c.numPages = 0; }, "numPages must be in [1, 2^31)");
  bad([](auto &c) { c.pageSize = -1; }, "pageSize");
  bad([](auto &c) { c.maxPagesPerSeq = 0; }, "maxPagesPerSeq");
  bad([](auto &c) { c.maxSequences = 0; }, "maxSequences");
  bad([](auto &c) { c.numKvHeads = 0; }, "numKvHeads");
  bad([](auto &c) { c.headDim = 0; }, "headDim");
  bad([](auto &c) { c.numPages = int64_t(1) << 32; }, "numPages");
  bad(
      [](auto &c) {
        c.maxPagesPerSeq = 1 << 20;
        c.pageSize = 1 << 12;
      },
      "maxPagesPerSeq * pageSize");
  bad(
      [](auto &c) {
        c.numPages = 1 << 30;
        c.pageSize = 1 << 20;
        c.headDim = 1 << 20;
      },
      "too large");
}

TEST(KvCachePaged, GeometryAndBuffers) {
  auto c = makePaged(/*numPages=*/10, /*pageSize=*/4, /*maxPagesPerSeq=*/3,
                     /*maxSequences=*/5, /*hkv=*/2, /*d=*/8, /*dv=*/6,
                     ElementType::BF16);
  EXPECT_TRUE(c->isPaged());
  EXPECT_EQ(c->maxSequenceLength(), 12);
  EXPECT_EQ(c->valueDim(), 6);
  EXPECT_EQ(c->keyCache().shape, (llvm::SmallVector<int64_t, 4>{10, 4, 2, 8}));
  EXPECT_EQ(c->valueCache().shape,
            (llvm::SmallVector<int64_t, 4>{10, 4, 2, 6}));
  EXPECT_EQ(c->keyCache().dtype, rt::DType::BF16);
  EXPECT_EQ(c->blockTable().shape, (llvm::SmallVector<int64_t, 4>{5, 3}));
  EXPECT_EQ(c->blockTable().dtype, rt::DType::I32);
  EXPECT_EQ(c->lengths().shape, (llvm::SmallVector<int64_t, 4>{5}));
  EXPECT_EQ(c->numFreePages(), 10);
  // Pools start zeroed: a row never written reads 0, not garbage.
  for (uint8_t b : bytesOf(c->keyCache()))
    ASSERT_EQ(b, 0);
}

TEST(KvCachePaged, AddSequencesTakesLowestFreeSlot) {
  auto c = makePaged(8, 4, 2, 3);
  SeqId a = get(c->addSequence()), b = get(c->addSequence()),
        d = get(c->addSequence());
  EXPECT_EQ(a.slot, 0);
  EXPECT_EQ(b.slot, 1);
  EXPECT_EQ(d.slot, 2);
  EXPECT_EQ(c->numSequences(), 3);
  ASSERT_TRUE(ok(c->freeSequence(b)));
  SeqId e = get(c->addSequence());
  EXPECT_EQ(e.slot, 1);
  EXPECT_NE(e.generation, b.generation) << "a reused slot needs a new id";
  EXPECT_FALSE(c->contains(b));
  EXPECT_TRUE(c->contains(e));
  EXPECT_EQ(c->sequences(), (std::vector<SeqId>{a, e, d}));
}

TEST(KvCachePaged, ReserveAllocatesWholePagesAtBoundaries) {
  auto c = makePaged(/*numPages=*/16, /*pageSize=*/16, /*maxPagesPerSeq=*/8,
                     /*maxSequences=*/2);
  SeqId s = get(c->addSequence());
  EXPECT_EQ(get(c->capacity(s)), 0);
  ASSERT_TRUE(ok(c->reserve(s, 1)));
  EXPECT_EQ(get(c->capacity(s)), 16);
  EXPECT_EQ(get(c->length(s)), 0) << "reserve does not change the length";
  ASSERT_TRUE(ok(c->reserve(s, 16)));
  EXPECT_EQ(pagesOf(*c, s).size(), 1u) << "16 rows fit in one page";
  ASSERT_TRUE(ok(c->reserve(s, 17)));
  EXPECT_EQ(pagesOf(*c, s).size(), 2u);
  // extend counts rows; a step that crosses a page boundary takes one page.
  ASSERT_TRUE(ok(c->extend(s, 15)));
  EXPECT_EQ(pagesOf(*c, s).size(), 2u);
  ASSERT_TRUE(ok(c->extend(s, 2))); // 15 -> 17: crosses into page 2
  EXPECT_EQ(get(c->length(s)), 17);
  EXPECT_EQ(pagesOf(*c, s).size(), 2u);
  ASSERT_TRUE(ok(c->extend(s, 16))); // 17 -> 33: page 3
  EXPECT_EQ(pagesOf(*c, s), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(c->numFreePages(), 13);
}

TEST(KvCachePaged, PageSizeOneTakesAPagePerToken) {
  auto c = makePaged(/*numPages=*/6, /*pageSize=*/1, /*maxPagesPerSeq=*/6,
                     /*maxSequences=*/2);
  SeqId a = get(c->addSequence()), b = get(c->addSequence());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ok(c->extend(a, 1)));
    ASSERT_TRUE(ok(c->extend(b, 1)));
  }
  // Interleaved growth interleaves pages.
  EXPECT_EQ(pagesOf(*c, a), (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(pagesOf(*c, b), (std::vector<int32_t>{1, 3, 5}));
  EXPECT_EQ(c->numFreePages(), 0);
  ASSERT_TRUE(ok(c->truncate(a, 1)));
  EXPECT_EQ(pagesOf(*c, a), (std::vector<int32_t>{0}));
  EXPECT_EQ(c->numFreePages(), 2);
}

TEST(KvCachePaged, BlockTableRowsArePagesPaddedWithZero) {
  auto c = makePaged(12, 4, 4, 3);
  SeqId a = get(c->addSequence()), b = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(a, 9))); // 3 pages
  ASSERT_TRUE(ok(c->extend(b, 4))); // 1 page
  std::vector<int32_t> table = intsOf(c->blockTable());
  EXPECT_EQ(table, (std::vector<int32_t>{0, 1, 2, 0, //
                                         3, 0, 0, 0, //
                                         0, 0, 0, 0}));
  EXPECT_EQ(intsOf(c->lengths()), (std::vector<int32_t>{9, 4, 0}));
}

TEST(KvCachePaged, TruncateFreesPagesNoLongerNeeded) {
  auto c = makePaged(/*numPages=*/8, /*pageSize=*/16, 8, 2);
  SeqId s = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(s, 50))); // 4 pages
  EXPECT_EQ(c->numFreePages(), 4);
  ASSERT_TRUE(ok(c->truncate(s, 33))); // 3 pages still needed
  EXPECT_EQ(c->numFreePages(), 5);
  ASSERT_TRUE(ok(c->truncate(s, 32))); // exactly 2 pages
  EXPECT_EQ(c->numFreePages(), 6);
  EXPECT_EQ(get(c->length(s)), 32);
  ASSERT_TRUE(ok(c->truncate(s, 32))); // no-op
  EXPECT_EQ(c->numFreePages(), 6);
  ASSERT_TRUE(ok(c->truncate(s, 0)));
  EXPECT_EQ(c->numFreePages(), 8);
  EXPECT_EQ(get(c->capacity(s)), 0);
  EXPECT_EQ(intsOf(c->blockTable()), std::vector<int32_t>(16, 0));
}

TEST(KvCachePaged, TruncateKeepsReservedPagesOnlyUpToTheNewLength) {
  auto c = makePaged(8, 4, 8, 1);
  SeqId s = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(s, 5)));
  ASSERT_TRUE(ok(c->reserve(s, 20))); // capacity for 25 rows: 7 pages
  EXPECT_EQ(get(c->capacity(s)), 28);
  ASSERT_TRUE(ok(c->truncate(s, 5)));
  EXPECT_EQ(get(c->capacity(s)), 8);
}

TEST(KvCachePaged, FreedPagesAreReusedFirstAndInOrder) {
  auto c = makePaged(/*numPages=*/10, /*pageSize=*/2, 10, 3);
  SeqId a = get(c->addSequence()), b = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(a, 6))); // pages 0 1 2
  ASSERT_TRUE(ok(c->extend(b, 4))); // pages 3 4
  std::vector<int32_t> aPages = pagesOf(*c, a);
  ASSERT_TRUE(ok(c->freeSequence(a)));
  EXPECT_EQ(c->numFreePages(), 8);
  SeqId d = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(d, 6)));
  EXPECT_EQ(pagesOf(*c, d), aPages) << "freed pages come back, in order";
  ASSERT_TRUE(ok(c->truncate(b, 1))); // frees page 4
  ASSERT_TRUE(ok(c->extend(d, 1)));   // takes it back
  EXPECT_EQ(pagesOf(*c, d).back(), 4);
}

TEST(KvCachePaged, SequencesNeverSharePagesUnderRandomOperations) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto c = makePaged(/*numPages=*/40, /*pageSize=*/3, /*maxPagesPerSeq=*/12,
                     /*maxSequences=*/6);
  std::vector<SeqId> live;
  std::map<int32_t, int64_t> lengths; // by slot, what we expect
  for (int step = 0; step < 2000; ++step) {
    int op = std::uniform_int_distribution<int>(0, 9)(rng);
    if (op == 0 || live.empty()) {
      if (auto id = c->addSequence()) {
        live.push_back(*id);
        lengths[id->slot] = 0;
      } else {
        llvm::consumeError(id.takeError());
        EXPECT_EQ(c->numSequences(), 6);
      }
      continue;
    }
    SeqId s =
        live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
    if (op == 1) {
      ASSERT_TRUE(ok(c->freeSequence(s)));
      live.erase(std::find(live.begin(), live.end(), s));
    } else if (op <= 3) {
      int64_t n =
          std::uniform_int_distribution<int64_t>(0, lengths[s.slot])(rng);
      ASSERT_TRUE(ok(c->truncate(s, n)));
      lengths[s.slot] = n;
    } else {
      int64_t n = std::uniform_int_distribution<int64_t>(0, 7)(rng);
      if (llvm::Error e = c->extend(s, n))
        llvm::consumeError(std::move(e)); // full or out of pages
      else
        lengths[s.slot] += n;
    }
    // Invariants: lengths as tracked, each page owned once or free, and
    // every sequence holds exactly the pages its length needs.
    std::set<int32_t> seen(c->freePages().begin(), c->freePages().end());
    ASSERT_EQ(seen.size(), c->freePages().size());
    for (SeqId id : live) {
      ASSERT_EQ(get(c->length(id)), lengths[id.slot]);
      auto pages = pagesOf(*c, id);
      ASSERT_EQ(static_cast<int64_t>(pages.size()), (lengths[id.slot] + 2) / 3);
      for (int32_t p : pages)
        ASSERT_TRUE(seen.insert(p).second) << "page " << p << " shared";
    }
    ASSERT_EQ(seen.size(), 40u);
  }
}

} // namespace
