//===- RuntimeThreadPoolTest.cpp - dynamic work-item scheduling -----------===//
#include "runtime/ThreadPool.h"

#include "gtest/gtest.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace mlir::attn::rt;

namespace {

/// Every item of [0, n) is visited exactly once, for sizes around the
/// chunking boundaries.
TEST(ThreadPool, CoversEveryItemOnce) {
  for (unsigned threads : {1u, 2u, 5u}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.numThreads(), threads);
    for (int64_t n : {0, 1, 2, 7, 64, 65, 1000, 4097})
      for (int64_t chunk : {0, 1, 3, 64}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallelFor(n, chunk, [&](int64_t begin, int64_t end) {
          ASSERT_LE(0, begin);
          ASSERT_LT(begin, end);
          ASSERT_LE(end, n);
          for (int64_t i = begin; i < end; ++i)
            hits[i].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[i].load(), 1)
              << "item " << i << " of " << n << ", chunk " << chunk << ", "
              << threads << " threads";
      }
  }
}

TEST(ThreadPool, DefaultUsesHardwareThreads) {
  ThreadPool pool;
  EXPECT_EQ(pool.numThreads(),
            std::max(1u, std::thread::hardware_concurrency()));
}

/// Uneven items (as with causal masks) still spread over all threads.
TEST(ThreadPool, BalancesUnevenWork) {
  ThreadPool pool(4);
  std::mutex mutex;
  std::set<std::thread::id> seen;
  pool.parallelFor(256, 1, [&](int64_t begin, int64_t) {
    // Later items cost more, like the last query blocks of a causal mask.
    std::this_thread::sleep_for(std::chrono::microseconds(20 * begin));
    std::lock_guard<std::mutex> lock(mutex);
    seen.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(seen.size(), 4u);
}

/// Calls from several threads at once are serialised, none is lost.
TEST(ThreadPool, ConcurrentCallers) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 50; ++rep)
        pool.parallelFor(100, 0,
                         [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
    });
  for (std::thread &t : callers)
    t.join();
  EXPECT_EQ(total.load(), 4 * 50 * 100);
}

TEST(ThreadPool, DefaultChunkIsSmall) {
  EXPECT_EQ(ThreadPool::defaultChunk(10, 8), 1);
  EXPECT_EQ(ThreadPool::defaultChunk(3200, 2), 100);
}

} // namespace
