//===- BenchUtil.h - timing and ceilings shared by the benchmarks -*- C++
//-*-===//
#ifndef ATTN_BENCH_BENCHUTIL_H
#define ATTN_BENCH_BENCHUTIL_H

#include <cstdint>
#include <functional>

namespace attn::bench {

/// Median wall time in ms of `fn` over `reps` runs after `warmup` runs.
double medianMs(const std::function<void()> &fn, int reps, int warmup = 2);

/// OpenBLAS sgemm rate (GFLOP/s) for an n³ product on `threads` threads.
double sgemmGflops(int n, int threads);

/// memcpy bandwidth (GB/s, bytes read + written) of `bytes`-sized buffers
/// copied by `threads` threads.
double copyGBps(int64_t bytes, int threads);

/// Pins OpenBLAS to `threads` threads (1 inside our own parallel loops).
void setBlasThreads(int threads);

} // namespace attn::bench

#endif
