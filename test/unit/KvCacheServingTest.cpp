//===- KvCacheServingTest.cpp - continuous batching compiles once ---------===//
//
// A continuous-batching loop over a paged cache: sequences arrive with
// random prompt lengths (a chunked prefill each) and leave at random, and
// every step decodes the whole changing batch. The compiled steps run on
// kernels of run-time batch and chunk lengths, so after the first step of
// each kernel kind (append, prefill attention, decode attention) nothing
// compiles. Every output is checked against the same loop on the float64
// reference backend (tolerance of runtime/Check.h: normwise 2e-5 for f32).
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/Check.h"

#include <algorithm>
#include <cmath>

using namespace kv_test;

namespace {

constexpr int64_t kHq = 8, kHkv = 2, kD = 64;

std::unique_ptr<kv::PagedKvCache> makeCache() {
  return cantFail(kv::PagedKvCache::create({.numPages = 256,
                                            .pageSize = 16,
                                            .maxPagesPerSeq = 16,
                                            .maxSequences = 8,
                                            .numKvHeads = kHkv,
                                            .headDim = kD,
                                            .dtype = ElementType::F32}));
}

/// Normwise relative error of `got` against `want` (NaN fails).
void expectClose(const HostTensor &got, const HostTensor &want) {
  double maxRef = 0, maxErr = 0;
  for (int64_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got.at(i))) << "output[" << i << "]";
    maxRef = std::max(maxRef, std::abs(want.at(i)));
    maxErr = std::max(maxErr, std::abs(got.at(i) - want.at(i)));
  }
  EXPECT_LE(maxErr,
            rt::toleranceFor(rt::DType::F32).output * std::max(maxRef, 1e-30));
}

/// One loop over two caches: the compiled steps and the reference.
struct Loop {
  std::unique_ptr<kv::PagedKvCache> compiledCache = makeCache(),
                                    referenceCache = makeCache();
  kv::KvStepper compiled{*compiledCache, sharedRuntime()};
  kv::KvStepper reference{*referenceCache,
                          sharedRuntime(),
                          {.backend = kv::StepBackend::Reference}};
  std::vector<SeqId> live; ///< same ids in both caches
  std::mt19937_64 rng{testSeed()};

  /// Appends [n, Hkv, s, D] random rows to `ids` and attends their last s
  /// queries (causal) on both backends; compares the outputs.
  void step(llvm::ArrayRef<SeqId> ids, int64_t s) {
    int64_t n = ids.size();
    HostTensor k(rt::DType::F32, {n, kHkv, s, kD}), v = k;
    HostTensor q(rt::DType::F32, {n, kHq, s, kD});
    k.fillRandom(rng);
    v.fillRandom(rng);
    q.fillRandom(rng);
    HostTensor out = q, want = q;
    out.fill(NAN);
    kv::CacheAttentionOptions causal{.mask = {.causal = true}};
    ASSERT_TRUE(ok(compiled.appendStep(ids, k.ref, v.ref)));
    ASSERT_TRUE(ok(reference.appendStep(ids, k.ref, v.ref)));
    ASSERT_TRUE(ok(compiled.decodeStep(ids, q.ref, out.ref, causal)));
    ASSERT_TRUE(ok(reference.decodeStep(ids, q.ref, want.ref, causal)));
    expectClose(out, want);
  }
  void arrive(int64_t promptLen) {
    SeqId a = get(compiledCache->addSequence());
    SeqId b = get(referenceCache->addSequence());
    ASSERT_EQ(a, b);
    live.push_back(a);
    step({a}, promptLen);
  }
  void leave(size_t index) {
    ASSERT_TRUE(ok(compiledCache->freeSequence(live[index])));
    ASSERT_TRUE(ok(referenceCache->freeSequence(live[index])));
    live.erase(live.begin() + index);
  }
};

TEST(KvServing, ContinuousBatchingCompilesOnlyOnFirstSteps) {
  Loop loop;
  std::uniform_int_distribution<int64_t> prompt(2, 70), coin(0, 3);
  // The first step of each kind: a prefill chunk (append + attention with
  // Sq > 1) and a decode step (append + attention with Sq = 1).
  loop.arrive(prompt(loop.rng));
  loop.step(loop.live, 1);
  int64_t firstCompiles = loop.compiled.kernels().stats().compiles;
  EXPECT_EQ(firstCompiles, 3) << "append, prefill attention, decode";
  for (int it = 0; it < 24; ++it) {
    SCOPED_TRACE("step " + std::to_string(it));
    // Departures (a sequence that reached 30 decode steps or by chance)
    // and arrivals (up to the cache's 8 sequences) change the batch.
    if (loop.live.size() > 1 && coin(loop.rng) == 0)
      loop.leave(loop.rng() % loop.live.size());
    if (loop.live.size() < 8 && coin(loop.rng) != 0)
      loop.arrive(prompt(loop.rng));
    if (HasFatalFailure())
      return;
    loop.step(loop.live, 1);
    if (HasFatalFailure())
      return;
    EXPECT_EQ(loop.compiled.kernels().stats().compiles, firstCompiles)
        << "batch " << loop.live.size();
  }
}

} // namespace
