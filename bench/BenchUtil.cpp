//===- BenchUtil.cpp - timing and library-free ceilings of the benchmarks -===//
#include "bench/BenchUtil.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
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

double minWallMs(const std::function<void()> &fn, int reps) {
  fn();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best,
                    std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

static double cpuNowMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double minCpuMs(const std::function<void()> &fn, int reps) {
  fn();
  fn();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    double t0 = cpuNowMs();
    fn();
    times.push_back(cpuNowMs() - t0);
  }
  return *std::min_element(times.begin(), times.end());
}

VectorIsa cpuVectorIsa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return VectorIsa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return VectorIsa::Avx2;
  if (__builtin_cpu_supports("avx"))
    return VectorIsa::Avx;
  return VectorIsa::Sse;
}

const char *isaName(VectorIsa isa) {
  static const char *names[] = {"SSE", "AVX", "AVX2", "AVX-512"};
  return names[static_cast<int>(isa)];
}

namespace {

// Independent chains: more than FMA latency × FMA ports (4 × 2 on current
// x86 cores) so the pipes never wait; a register each, plus two operands.
constexpr int kChains = 24;
constexpr int64_t kFmaIters = int64_t(1) << 22;

typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));

/// acc = acc * m + a on every chain, `iters` times (one fused multiply-add
/// where the caller's target has FMA: clang contracts the expression); m < 1
/// keeps the values bounded and normal. Returns a sum so the work stays.
/// Inlined into callers compiled for the wider ISAs.
template <typename V>
__attribute__((always_inline)) inline float fmaChains(int64_t iters) {
  V acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = V{} + (1.0f + c);
  V m = V{} + 0.999f, a = V{} + 0.001f;
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = acc[c] * m + a;
  float total = 0;
  for (int c = 0; c < kChains; ++c)
    for (size_t l = 0; l < sizeof(V) / sizeof(float); ++l)
      total += acc[c][l];
  return total;
}

__attribute__((target("avx512f,fma"))) float fma512(int64_t iters) {
  return fmaChains<V16>(iters);
}
__attribute__((target("avx2,fma"))) float fma256(int64_t iters) {
  return fmaChains<V8>(iters);
}
// No FMA: a multiply and an add count as one multiply-add.
float mulAdd128(int64_t iters) { return fmaChains<V4>(iters); }

} // namespace

double fmaPeakGflops(int threads, bool cpuTime) {
  // (AVX without FMA counts as SSE: mulAdd128.)
  VectorIsa isa = cpuVectorIsa();
  int lanes = isa == VectorIsa::Avx512 ? 16 : isa == VectorIsa::Avx2 ? 8 : 4;
  auto run = [isa](int64_t iters) {
    return isa == VectorIsa::Avx512 ? fma512(iters)
           : isa == VectorIsa::Avx2 ? fma256(iters)
                                    : mulAdd128(iters);
  };
  std::vector<float> sink(threads);
  auto all = [&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sink[t] = run(kFmaIters); });
    for (auto &th : pool)
      th.join();
  };
  // A peak: the fastest of a few runs (after warm-ups that also settle
  // the wide-vector clock on CPUs that have one).
  double best =
      cpuTime ? minCpuMs(all, 5) / 1e3 / threads : medianMs(all, 1, 2) / 1e3;
  for (int r = 0; !cpuTime && r < 4; ++r)
    best = std::min(best, medianMs(all, 1, 0) / 1e3);
  if (!(sink[0] > 0)) // keeps the loops; never true for these constants
    std::fprintf(stderr, "fma peak: unexpected sum %g\n", sink[0]);
  double flops = 2.0 * lanes * kChains * double(kFmaIters) * threads;
  return flops / best / 1e9;
}

/// ms of one `fn` run: median wall time, or with `cpuTime` the least process
/// CPU time per thread (what the CPU-time kernel timings compare with).
static double streamMs(const std::function<void()> &fn, int threads,
                       bool cpuTime) {
  return cpuTime ? minCpuMs(fn, 7) / threads : medianMs(fn, 7);
}

double copyGBps(int64_t bytes, int threads, bool cpuTime) {
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
  double ms = streamMs(copy, threads, cpuTime);
  return 2.0 * double(bytes) / ms / 1e6;
}

double readGBps(int64_t bytes, int threads, bool cpuTime) {
  static std::vector<uint64_t> buf;
  buf.assign(bytes / 8, 1);
  std::vector<uint64_t> sums(threads * 8);
  auto read = [&] {
    std::vector<std::thread> pool;
    int64_t chunk = int64_t(buf.size()) / threads;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const uint64_t *p = buf.data() + t * chunk;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int64_t i = 0; i + 4 <= chunk; i += 4) {
          s0 += p[i];
          s1 += p[i + 1];
          s2 += p[i + 2];
          s3 += p[i + 3];
        }
        sums[t * 8] = s0 + s1 + s2 + s3;
      });
    for (auto &th : pool)
      th.join();
  };
  double ms = streamMs(read, threads, cpuTime);
  return double(bytes) / ms / 1e6;
}

} // namespace attn::bench
