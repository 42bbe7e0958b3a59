//===- KvCacheSinksTest.cpp - attention sinks in the KV-cache reference ---===//
//
// The float64 reference of attn.cache_attention with [Hq] f32 sink logits
// against the sink identity out' = out * Z / (Z + e^s), lse' = log(e^lse +
// e^s) on the same rows without sinks, and the step API's errors for bad
// sink buffers. The compiled kernels with sinks are checked against this
// reference in KvCacheStepsTest.cpp (the Sinks* cases: paged NHD/HND and
// contiguous caches, sliding windows, KV splits, GQA, D != Dv, f32/bf16).
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/Check.h"

#include <cmath>

using namespace kv_test;

namespace {

/// The KV-cache reference with sinks against the same rows without them.
TEST(KvCacheSinksReference, MatchesTheSinkIdentity) {
  std::mt19937_64 rng(testSeed());
  const int64_t n = 3, hq = 4, hkv = 2, d = 16, dv = 8;
  auto cache = makePaged(12, 4, 4, n, hkv, d, dv);
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i)
    ids.push_back(get(cache->addSequence()));
  kv::KvStepper steps = referenceStepper(*cache);
  HostTensor k(rt::DType::F32, {n, hkv, 13, d}),
      v(rt::DType::F32, {n, hkv, 13, dv});
  k.fillRandom(rng);
  v.fillRandom(rng);
  ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, v.ref, {0, 13, 6})));
  const kv::KvBatch *b = get(cache->prepareStep(ids, 0));
  ASSERT_NE(b, nullptr);
  HostTensor q(rt::DType::F32, {n, hq, 1, d}), sinks(rt::DType::F32, {hq});
  q.fillRandom(rng);
  sinks.fillRandom(rng);
  kv::CacheAttentionOptions o;
  o.mask.causal = true;
  o.mask.windowLeft = 4;
  auto with =
      kv::referenceCacheAttention(b->attentionOperands(), q.ref, o, &sinks.ref);
  auto without = kv::referenceCacheAttention(b->attentionOperands(), q.ref, o);
  ASSERT_TRUE(static_cast<bool>(with)) << llvm::toString(with.takeError());
  ASSERT_TRUE(static_cast<bool>(without))
      << llvm::toString(without.takeError());
  for (int64_t r = 0; r < n * hq; ++r) {
    double s = sinks.at(r % hq), lse = without->lse[r];
    double keep = std::isinf(lse) ? 0 : 1 / (1 + std::exp(s - lse));
    double want = std::isinf(lse) ? s : std::log(std::exp(lse) + std::exp(s));
    EXPECT_NEAR(with->lse[r], want, 1e-12) << "row " << r;
    for (int64_t c = 0; c < dv; ++c)
      EXPECT_NEAR(with->output[r * dv + c], without->output[r * dv + c] * keep,
                  1e-12);
  }
  // A wrong-size sink buffer is an error naming it.
  HostTensor small(rt::DType::F32, {hkv});
  std::string msg = errorOf(kv::referenceCacheAttention(b->attentionOperands(),
                                                        q.ref, o, &small.ref));
  EXPECT_NE(msg.find("sinks"), std::string::npos) << msg;
}

TEST(KvCacheSinksErrors, WrongSinksFailsAndChangesNothing) {
  auto cache = makePaged(8, 16, 4, 2, 2, 32);
  std::vector<SeqId> ids = {get(cache->addSequence()),
                            get(cache->addSequence())};
  kv::KvStepper steps(*cache, sharedRuntime());
  HostTensor k(rt::DType::F32, {2, 2, 5, 32}), v = k;
  ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, v.ref)));
  HostTensor q(rt::DType::F32, {2, 4, 1, 32}), out = q;
  HostTensor wrongSize(rt::DType::F32, {2}), wrongType(rt::DType::BF16, {4});
  expectFailsUnchanged(*cache, "sinks", [&] {
    return steps.decodeStep(ids, q.ref, out.ref, {}, nullptr, &wrongSize.ref);
  });
  expectFailsUnchanged(*cache, "sinks", [&] {
    return steps.decodeStep(ids, q.ref, out.ref, {}, nullptr, &wrongType.ref);
  });
}

} // namespace
