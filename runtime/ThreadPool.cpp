//===- ThreadPool.cpp - dynamic scheduling over work items ----------------===//
#include "runtime/ThreadPool.h"

#include <algorithm>

using namespace mlir::attn::rt;

ThreadPool::ThreadPool(unsigned numThreads) {
  if (numThreads == 0)
    numThreads = std::max(1u, std::thread::hardware_concurrency());
  numWorkers = numThreads - 1;
  workers.reserve(numWorkers);
  for (unsigned i = 0; i < numWorkers; ++i)
    workers.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

int64_t ThreadPool::defaultChunk(int64_t n, unsigned threads) {
  // ~16 grabs per thread: enough to even out causal work items whose costs
  // differ by the row position, few enough that the atomic is never hot.
  return std::max<int64_t>(1, n / (int64_t(threads) * 16));
}

void ThreadPool::runChunks() {
  for (;;) {
    int64_t begin = next.fetch_add(chunkSize, std::memory_order_relaxed);
    if (begin >= total)
      return;
    body(begin, std::min(total, begin + chunkSize));
  }
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
    }
    runChunks();
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (--busyWorkers == 0)
        done.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int64_t n, int64_t chunk,
                             llvm::function_ref<void(int64_t, int64_t)> fn) {
  if (n <= 0)
    return;
  if (chunk <= 0)
    chunk = defaultChunk(n, numThreads());
  // Not worth waking anyone for a single chunk.
  if (numWorkers == 0 || n <= chunk) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex);
  {
    std::lock_guard<std::mutex> lock(mutex);
    body = fn;
    total = n;
    chunkSize = chunk;
    next.store(0, std::memory_order_relaxed);
    busyWorkers = numWorkers;
    ++generation;
  }
  wake.notify_all();
  runChunks();
  // Workers hold `body` until they check in; wait for all of them so that
  // the next job cannot overwrite it under a straggler.
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return busyWorkers == 0; });
}
