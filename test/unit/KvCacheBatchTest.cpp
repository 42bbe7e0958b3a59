//===- KvCacheBatchTest.cpp - step batches: lengths, block tables ---------===//
#include "KvCacheTestUtils.h"

using namespace kv_test;

namespace {

TEST(KvCacheBatch, RaggedLengthsBeforeAndAfter) {
  auto c = makePaged(/*numPages=*/16, /*pageSize=*/16, 4, 4);
  SeqId a = get(c->addSequence()), b = get(c->addSequence()),
        d = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(b, 1)));
  ASSERT_TRUE(ok(c->extend(d, 17)));
  // Batch order differs from slot order on purpose.
  const kv::KvBatch *batch = get(c->prepareStep({d, a, b}, {3, 1, 0}));
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->size(), 3);
  EXPECT_EQ(intsOf(batch->lengthsBefore), (std::vector<int32_t>{17, 0, 1}));
  EXPECT_EQ(intsOf(batch->lengthsAfter), (std::vector<int32_t>{20, 1, 1}));
  EXPECT_EQ(intsOf(batch->newLengths), (std::vector<int32_t>{3, 1, 0}));
  // Reserved but not counted until commit.
  EXPECT_EQ(get(c->length(a)), 0);
  EXPECT_EQ(get(c->capacity(a)), 16);
  ASSERT_TRUE(ok(c->commitStep(*batch)));
  EXPECT_EQ(get(c->length(d)), 20);
  EXPECT_EQ(get(c->length(a)), 1);
  EXPECT_EQ(get(c->length(b)), 1);
}

TEST(KvCacheBatch, BlockTableRowsFollowTheBatch) {
  auto c = makePaged(/*numPages=*/16, /*pageSize=*/4, /*maxPagesPerSeq=*/3, 4);
  SeqId a = get(c->addSequence()), b = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(a, 5))); // pages 0 1
  ASSERT_TRUE(ok(c->extend(b, 2))); // page 2
  const kv::KvBatch *batch = get(c->prepareStep({b, a}, {3, 0}));
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(batch->blockTable.has_value());
  EXPECT_EQ(batch->blockTable->shape, (llvm::SmallVector<int64_t, 4>{2, 3}));
  // b grew to 5 rows: a second page (3). Padding is 0.
  EXPECT_EQ(intsOf(*batch->blockTable), (std::vector<int32_t>{2, 3, 0, //
                                                              0, 1, 0}));
  EXPECT_EQ(batch->keyCache.data, c->keyCache().data) << "paged: whole pools";
  kv::CacheOperands ops = batch->attentionOperands();
  EXPECT_TRUE(ops.isPaged());
  EXPECT_EQ(ops.lengths.data, batch->lengthsAfter.data);
  EXPECT_EQ(batch->appendOperands().lengths.data, batch->lengthsBefore.data);
}

TEST(KvCacheBatch, StepsReuseTheirStorage) {
  auto c = makePaged(64, 4, 16, 8);
  std::vector<SeqId> ids;
  for (int i = 0; i < 8; ++i)
    ids.push_back(get(c->addSequence()));
  const kv::KvBatch *first = get(c->prepareStep(ids, 1));
  ASSERT_NE(first, nullptr);
  void *lengths = first->lengthsBefore.data, *after = first->lengthsAfter.data,
       *table = first->blockTable->data;
  for (int step = 0; step < 20; ++step) {
    // Batches of varying size, as sequences join and finish.
    llvm::ArrayRef<SeqId> some = llvm::ArrayRef(ids).take_front(1 + step % 8);
    const kv::KvBatch *batch = get(c->prepareStep(some, 1));
    ASSERT_EQ(batch, first) << "one batch object per cache";
    EXPECT_EQ(batch->lengthsBefore.data, lengths);
    EXPECT_EQ(batch->lengthsAfter.data, after);
    EXPECT_EQ(batch->blockTable->data, table);
    ASSERT_TRUE(ok(c->commitStep(*batch)));
  }
}

TEST(KvCacheBatch, CommitNeedsAFreshBatch) {
  auto c = makePaged(8, 4, 2, 2);
  SeqId a = get(c->addSequence());
  const kv::KvBatch *batch = get(c->prepareStep({a}, 1));
  ASSERT_TRUE(ok(c->commitStep(*batch)));
  expectFailsUnchanged(*c, "stale", [&] { return c->commitStep(*batch); });

  batch = get(c->prepareStep({a}, 1));
  ASSERT_TRUE(ok(c->extend(a, 1)));
  expectFailsUnchanged(*c, "stale", [&] { return c->commitStep(*batch); });

  auto other = makePaged(8, 4, 2, 2);
  SeqId o = get(other->addSequence());
  const kv::KvBatch *foreign = get(other->prepareStep({o}, 1));
  expectFailsUnchanged(*c, "another cache",
                       [&] { return c->commitStep(*foreign); });
}

TEST(KvCacheBatch, DecodeOnlyStepKeepsLengths) {
  auto c = makeContiguous(2, 8);
  SeqId a = get(c->addSequence()), b = get(c->addSequence());
  ASSERT_TRUE(ok(c->extend(a, 3)));
  const kv::KvBatch *batch = get(c->prepareStep({a, b}));
  EXPECT_EQ(intsOf(batch->lengthsBefore), intsOf(batch->lengthsAfter));
  EXPECT_EQ(intsOf(batch->lengthsAfter), (std::vector<int32_t>{3, 0}));
}

} // namespace
