//===- ConcurrencyStressTest.cpp - one kernel, many threads at once -------===//
//
// A compiled kernel is safe to run from any number of threads at once, each
// with its own pool: every kernel family (prefill, split-KV decode, cache
// append, paged and contiguous cache attention with and without splits)
// runs from 8 threads, and every result must equal the serial run's bit for
// bit (and hold no NaN). Split-KV kernels used to keep their partials in
// module globals: overlapping runs then mixed each other's partials.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/HostBuffers.h"
#include "runtime/ThreadPool.h"

#include <cmath>
#include <thread>

using namespace kv_test;
using mlir::attn::AttentionSpec;
using mlir::attn::parseSpecShorthand;

namespace {

constexpr int kThreads = 8;
constexpr int kRuns = 12;

/// Runs `body(thread)` on kThreads threads at once.
template <typename Fn> void onThreads(Fn body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] { body(t); });
  for (std::thread &t : threads)
    t.join();
}

bool anyNan(const rt::BufferRef &b) {
  for (int64_t i = 0; i < b.numElements(); ++i)
    if (std::isnan(rt::loadAsDouble(b, i)))
      return true;
  return false;
}

class SpecStress : public ::testing::TestWithParam<const char *> {};

/// Each thread owns its buffers (same inputs) and pool; one kernel.
TEST_P(SpecStress, ConcurrentRunsMatchSerial) {
  std::string error;
  auto spec = parseSpecShorthand(GetParam(), error);
  ASSERT_TRUE(spec) << error;
  auto kernel = get(sharedRuntime().compile(*spec));
  ASSERT_TRUE(kernel);
  rt::FillOptions fill{testSeed()};
  rt::HostBuffers serial(kernel->signature(), fill);
  {
    rt::ThreadPool pool(2);
    ASSERT_TRUE(ok(kernel->run(serial.args(), pool)));
  }
  const rt::BufferRef &want = serial.args().output;
  ASSERT_FALSE(anyNan(want));
  std::vector<uint8_t> wantBytes = bytesOf(want);

  std::vector<int> mismatches(kThreads, 0);
  onThreads([&](int t) {
    rt::HostBuffers mine(kernel->signature(), fill);
    rt::ThreadPool pool(2);
    for (int run = 0; run < kRuns; ++run) {
      mine.resetOutputs();
      if (kernel->run(mine.args(), pool) ||
          bytesOf(mine.args().output) != wantBytes)
        ++mismatches[t];
    }
  });
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(mismatches[t], 0) << "thread " << t << ": runs differing from "
                                << "the serial run, of " << kRuns;
}

// Prefill; split-KV decode (the cost model splits 8192 keys for one query
// block); ragged bf16 split decode.
INSTANTIATE_TEST_SUITE_P(
    Families, SpecStress,
    ::testing::Values("mha:b=1,h=2,s=130,d=32,causal",
                      "gqa:b=1,hq=4,hkv=1,sq=1,skv=8192,d=64",
                      "gqa:b=2,hq=8,hkv=2,sq=1,skv=3000,d=64,dtype=bf16,"
                      "ragged"));

struct CacheCase {
  const char *name;
  bool paged;
  int64_t kvSplits;
};
void PrintTo(const CacheCase &c, std::ostream *os) { *os << c.name; }

class CacheStress : public ::testing::TestWithParam<CacheCase> {};

/// Each thread fills its own cache (identical contents) with the shared
/// append kernel, then decodes repeatedly with the shared attention kernel,
/// on a runtime (pool) of its own.
TEST_P(CacheStress, ConcurrentStepsMatchSerial) {
  const CacheCase &c = GetParam();
  const int64_t n = 3, hq = 8, hkv = 2, d = 64, maxLen = 1024;
  std::mt19937_64 rng(testSeed());
  HostTensor k(rt::DType::F32, {n, hkv, 700, d}), v = k;
  HostTensor q(rt::DType::F32, {n, hq, 1, d});
  k.fillRandom(rng);
  v.fillRandom(rng);
  q.fillRandom(rng);
  std::vector<int32_t> counts = {700, 333, 1};
  auto kernels = std::make_shared<kv::CacheKernels>();
  kv::StepOptions options;
  options.compile.kvSplits = c.kvSplits;

  struct Result {
    CacheSnapshot cache;
    std::vector<uint8_t> out;
    int mismatches = 0;
  };
  auto steps = [&](Result &r, rt::Runtime &runtime, int runs) {
    std::unique_ptr<kv::KvCache> cache;
    if (c.paged)
      cache = makePaged(n * maxLen / 16, 16, maxLen / 16, n, hkv, d);
    else
      cache = makeContiguous(n, maxLen, hkv, d);
    std::vector<SeqId> ids;
    for (int64_t i = 0; i < n; ++i)
      ids.push_back(get(cache->addSequence()));
    kv::KvStepper stepper(*cache, runtime, options, kernels);
    if (!ok(stepper.appendStep(ids, k.ref, v.ref, counts)))
      return;
    r.cache = CacheSnapshot::of(*cache);
    HostTensor out(rt::DType::F32, {n, hq, 1, d});
    for (int run = 0; run < runs; ++run) {
      out.fill(std::nan(""));
      if (!ok(stepper.decodeStep(ids, q.ref, out.ref)))
        return;
      std::vector<uint8_t> bytes = bytesOf(out.ref);
      if (r.out.empty())
        r.out = bytes;
      else if (bytes != r.out)
        ++r.mismatches;
    }
    EXPECT_FALSE(anyNan(out.ref));
  };
  Result serial;
  {
    rt::Runtime runtime({/*numThreads=*/2});
    steps(serial, runtime, 1);
  }
  ASSERT_FALSE(serial.out.empty());
  std::vector<Result> results(kThreads);
  onThreads([&](int t) {
    rt::Runtime runtime({/*numThreads=*/2});
    steps(results[t], runtime, kRuns);
  });
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(results[t].cache == serial.cache) << "thread " << t;
    EXPECT_EQ(results[t].out, serial.out) << "thread " << t;
    EXPECT_EQ(results[t].mismatches, 0) << "thread " << t;
  }
  // One append and one attention kernel served every thread.
  EXPECT_EQ(kernels->stats().compiles, 2);
}

INSTANTIATE_TEST_SUITE_P(Families, CacheStress,
                         ::testing::Values(CacheCase{"paged", true, 0},
                                           CacheCase{"paged_split", true, 4},
                                           CacheCase{"contiguous", false, 0},
                                           CacheCase{"contiguous_split", false,
                                                     4}),
                         [](const auto &info) { return info.param.name; });

} // namespace
