//===- BenchUtil.cpp - timing and ceilings shared by the benchmarks -------===//
#include "bench/BenchUtil.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace attn::bench {

double medianMs(const std::function<void()> &fn, int reps, int warmup) {
  for (int i = 0; i < warmup; ++i)
    fn();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void setBlasThreads(int threads) { openblas_set_num_threads(threads); }

double sgemmGflops(int n, int threads) {
  setBlasThreads(threads);
  std::vector<float> a(size_t(n) * n), b(a.size()), c(a.size());
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = nd(rng);
    b[i] = nd(rng);
  }
  double ms = medianMs(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                    a.data(), n, b.data(), n, 0.0f, c.data(), n);
      },
      5);
  return 2.0 * n * n * double(n) / ms / 1e6;
}

double copyGBps(int64_t bytes, int threads) {
  std::vector<char> src(bytes, 1), dst(bytes, 2);
  auto copy = [&] {
    std::vector<std::thread> pool;
    int64_t chunk = bytes / threads;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        std::memcpy(dst.data() + t * chunk, src.data() + t * chunk, chunk);
      });
    for (auto &th : pool)
      th.join();
  };
  double ms = medianMs(copy, 7);
  return 2.0 * double(bytes) / ms / 1e6;
}

} // namespace attn::bench
