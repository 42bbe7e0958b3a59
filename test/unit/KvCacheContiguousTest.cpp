//===- KvCacheContiguousTest.cpp - ContiguousKvCache bookkeeping ----------===//
#include "KvCacheTestUtils.h"

using namespace kv_test;

namespace {

TEST(KvCacheContiguous, CreateRejectsBadConfigs) {
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = 2;
  c.maxSeqLen = 0;
  std::string msg = errorOf(kv::ContiguousKvCache::create(c));
  EXPECT_NE(msg.find("maxSeqLen must be in [1, 2^31), got 0"),
            std::string::npos)
      << msg;
  c.maxSeqLen = int64_t(1) << 31;
  msg = errorOf(kv::ContiguousKvCache::create(c));
  EXPECT_NE(msg.find("maxSeqLen"), std::string::npos) << msg;
  c.maxSeqLen = 1 << 30;
  c.maxBatch = 1 << 30;
  c.headDim = 1 << 20;
  msg = errorOf(kv::ContiguousKvCache::create(c));
  EXPECT_NE(msg.find("too large"), std::string::npos) << msg;
}

TEST(KvCacheContiguous, GeometryAndBuffers) {
  auto c = makeContiguous(/*maxBatch=*/3, /*maxSeqLen=*/16, /*hkv=*/2,
                          /*d=*/8, /*dv=*/4, ElementType::F16);
  EXPECT_FALSE(c->isPaged());
  EXPECT_EQ(c->maxSequenceLength(), 16);
  EXPECT_EQ(c->keyCache().shape, (llvm::SmallVector<int64_t, 4>{3, 2, 16, 8}));
  EXPECT_EQ(c->valueCache().shape,
            (llvm::SmallVector<int64_t, 4>{3, 2, 16, 4}));
  EXPECT_EQ(c->valueCache().dtype, rt::DType::F16);
  EXPECT_EQ(c->lengths().shape, (llvm::SmallVector<int64_t, 4>{3}));
}

TEST(KvCacheContiguous, LengthsGrowToSmaxAndShrink) {
  auto c = makeContiguous(2, 16);
  SeqId a = get(c->addSequence()), b = get(c->addSequence());
  EXPECT_EQ(get(c->capacity(a)), 16) << "a slot owns Smax rows from the start";
  ASSERT_TRUE(ok(c->reserve(a, 16)));
  EXPECT_EQ(get(c->length(a)), 0);
  ASSERT_TRUE(ok(c->extend(a, 10)));
  ASSERT_TRUE(ok(c->extend(b, 1)));
  ASSERT_TRUE(ok(c->extend(a, 6)));
  EXPECT_EQ(intsOf(c->lengths()), (std::vector<int32_t>{16, 1}));
  ASSERT_TRUE(ok(c->truncate(a, 3)));
  EXPECT_EQ(get(c->length(a)), 3);
  ASSERT_TRUE(ok(c->freeSequence(b)));
  EXPECT_EQ(intsOf(c->lengths()), (std::vector<int32_t>{3, 0}))
      << "a freed slot reads length 0";
  SeqId d = get(c->addSequence());
  EXPECT_EQ(d.slot, 1);
  EXPECT_EQ(get(c->length(d)), 0);
}

TEST(KvCacheContiguous, BatchIsAViewOfConsecutiveSlots) {
  auto c = makeContiguous(/*maxBatch=*/4, /*maxSeqLen=*/8, /*hkv=*/2,
                          /*d=*/4);
  std::vector<SeqId> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(get(c->addSequence()));
  const kv::KvBatch *batch = get(c->prepareStep({ids[1], ids[2]}, 1));
  ASSERT_NE(batch, nullptr);
  EXPECT_FALSE(batch->blockTable.has_value());
  EXPECT_EQ(batch->keyCache.shape, (llvm::SmallVector<int64_t, 4>{2, 2, 8, 4}));
  int64_t slotBytes = 2 * 8 * 4 * 4;
  EXPECT_EQ(static_cast<char *>(batch->keyCache.data),
            static_cast<char *>(c->keyCache().data) + slotBytes);
  EXPECT_EQ(static_cast<char *>(batch->valueCache.data),
            static_cast<char *>(c->valueCache().data) + slotBytes);

  std::string msg = errorOf(c->prepareStep({ids[0], ids[2]}, 1).takeError());
  EXPECT_NE(msg.find("consecutive ascending slots"), std::string::npos) << msg;
  msg = errorOf(c->prepareStep({ids[1], ids[0]}, 1).takeError());
  EXPECT_NE(msg.find("consecutive ascending slots"), std::string::npos) << msg;
}

} // namespace
