//===- ThreadPool.h - work-item pool for JIT kernels -----------*- C++ -*-===//
//
// Kernels expose independent work items [0, N) and compute any sub-range
// [begin, end) on the calling thread (attn-parallel-to-runtime). This pool
// runs them with dynamic scheduling: workers grab small chunks from one
// atomic counter, so causal and windowed kernels, whose work items differ
// in cost, stay balanced without any partitioning logic in generated code.
//
// We use our own pool rather than OpenMP because Debian's LLVM 22 ships no
// libomp for the JIT to link, because JIT code that calls nothing needs no
// runtime symbols at all, and because a persistent pool costs one wake-up
// per call instead of a fork/join per kernel.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_THREADPOOL_H
#define ATTN_RUNTIME_THREADPOOL_H

#include "llvm/ADT/STLFunctionalExtras.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mlir::attn::rt {

class ThreadPool {
public:
  /// `numThreads` counts the calling thread; 0 means
  /// std::thread::hardware_concurrency().
  explicit ThreadPool(unsigned numThreads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned numThreads() const { return numWorkers + 1; }

  /// Calls `body(begin, end)` on disjoint chunks covering [0, n), from the
  /// calling thread and the workers, and returns when all are done. Chunks
  /// hold `chunk` items (0: pick a small size giving ~16 chunks per
  /// thread). Concurrent calls from different threads are serialised.
  void parallelFor(int64_t n, int64_t chunk,
                   llvm::function_ref<void(int64_t, int64_t)> body);

  /// Default chunk for `n` items on `threads` threads.
  static int64_t defaultChunk(int64_t n, unsigned threads);

private:
  void workerLoop();
  void runChunks();

  unsigned numWorkers;
  std::vector<std::thread> workers;

  std::mutex callMutex; // one parallelFor at a time

  std::mutex mutex; // guards the fields below
  std::condition_variable wake, done;
  uint64_t generation = 0;
  unsigned busyWorkers = 0;
  bool stopping = false;

  // The current job; written under `mutex` before `generation` advances.
  llvm::function_ref<void(int64_t, int64_t)> body;
  int64_t total = 0, chunkSize = 1;
  std::atomic<int64_t> next{0};
};

} // namespace mlir::attn::rt

#endif
