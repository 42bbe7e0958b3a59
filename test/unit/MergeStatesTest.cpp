//===- MergeStatesTest.cpp - attn.merge_states and cascade decode ---------===//
//
// The compiled attn.merge_states against its float64 reference on random
// states (odd Dv, states that saw nothing, rows whose states are all empty,
// f32 and bf16), its error paths (each writes nothing), and cascade decode
// (a shared prefix read once for the batch, per-sequence paged suffixes,
// merged) against float64 plain attention over prefix + suffix. Tolerances
// are runtime/Check.h's: f32 2e-5, bf16 1.6e-2 normwise relative output
// error, lse 2e-5 relative to max(1, |lse|); NaN never passes. Cascade in
// bf16 rounds its two partial outputs to bf16 before the merge: still
// within the bf16 tolerance (two roundings of 2^-9).
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/Check.h"
#include "runtime/kvcache/Cascade.h"

#include <cmath>
#include <limits>

using namespace kv_test;

namespace {

const double kNegInf = -std::numeric_limits<double>::infinity();

struct MergeCase {
  const char *name;
  int64_t n, b, h, s, dv;
  ElementType dtype;
  bool withLse;
};

void PrintTo(const MergeCase &c, std::ostream *os) { *os << c.name; }

class MergeStates : public ::testing::TestWithParam<MergeCase> {};

TEST_P(MergeStates, CompiledMatchesReference) {
  const MergeCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  rt::DType t = dtypeOf(p.dtype);
  HostTensor states(t, {p.n, p.b, p.h, p.s, p.dv});
  HostTensor stateLse(rt::DType::F32, {p.n, p.b, p.h, p.s});
  states.fillRandom(rng);
  std::normal_distribution<double> lseDist(0.0, 3.0);
  std::bernoulli_distribution empty(0.2);
  int64_t rows = p.b * p.h * p.s;
  for (int64_t i = 0; i < stateLse.size(); ++i)
    stateLse.set(i, empty(rng) ? kNegInf : lseDist(rng));
  for (int64_t k = 0; k < p.n; ++k) // row 0: every state empty
    stateLse.set(k * rows, kNegInf);
  HostTensor out(t, {p.b, p.h, p.s, p.dv}),
      lse(rt::DType::F32, {p.b, p.h, p.s});
  HostTensor wantOut = out, wantLse = lse;
  out.fill(std::nan(""));
  lse.fill(std::nan(""));
  kv::CacheKernels kernels;
  rt::ThreadPool &pool = sharedRuntime().threadPool();
  ASSERT_TRUE(ok(kv::mergeStates(kernels, pool, states.ref, stateLse.ref,
                                 out.ref, p.withLse ? &lse.ref : nullptr)));
  ASSERT_TRUE(ok(kv::referenceMergeStates(states.ref, stateLse.ref, wantOut.ref,
                                          &wantLse.ref)));
  expectCloseTo(out, wantOut, p.withLse ? &lse : nullptr, &wantLse, t);
  for (int64_t c = 0; c < p.dv; ++c)
    EXPECT_EQ(out.at(c), 0.0) << "an all-empty row merges to 0";
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MergeStates,
    ::testing::Values(
        MergeCase{"One", 1, 1, 1, 1, 16, ElementType::F32, true},
        MergeCase{"TwoF32", 2, 3, 5, 7, 24, ElementType::F32, true},
        MergeCase{"ThreeBf16NoLse", 3, 2, 4, 1, 80, ElementType::BF16, false},
        MergeCase{"FiveOddDv", 5, 1, 7, 13, 33, ElementType::F32, true},
        MergeCase{"DecodeBatch", 2, 64, 8, 1, 128, ElementType::BF16, true}),
    [](const ::testing::TestParamInfo<MergeCase> &i) {
      return std::string(i.param.name);
    });

/// Every mistake is an error naming the buffer; the output is not written.
TEST(MergeStatesErrors, MismatchedShapesNameTheOperand) {
  rt::DType f32 = rt::DType::F32;
  HostTensor states(f32, {2, 2, 3, 1, 16}), stateLse(f32, {2, 2, 3, 1});
  HostTensor out(f32, {2, 3, 1, 16}), lse(f32, {2, 3, 1});
  out.fill(std::nan(""));
  kv::CacheKernels kernels;
  rt::ThreadPool &pool = sharedRuntime().threadPool();
  auto expectError = [&](const rt::BufferRef &s, const rt::BufferRef &sl,
                         const rt::BufferRef &o, const rt::BufferRef *l,
                         const std::string &expected) {
    for (bool reference : {false, true}) {
      std::string msg =
          errorOf(reference ? kv::referenceMergeStates(s, sl, o, l)
                            : kv::mergeStates(kernels, pool, s, sl, o, l));
      EXPECT_NE(msg.find(expected), std::string::npos)
          << "message: " << msg << "\nexpected: " << expected;
    }
    for (int64_t i = 0; i < out.size(); ++i)
      ASSERT_TRUE(std::isnan(out.at(i))) << "output written on an error";
  };
  HostTensor lse3(f32, {3, 2, 3, 1});
  expectError(states.ref, lse3.ref, out.ref, nullptr,
              "merge_states: state_lse");
  HostTensor outDv(f32, {2, 3, 1, 8});
  outDv.fill(std::nan(""));
  expectError(states.ref, stateLse.ref, outDv.ref, nullptr,
              "merge_states: output");
  HostTensor outBf16(rt::DType::BF16, {2, 3, 1, 16});
  expectError(states.ref, stateLse.ref, outBf16.ref, nullptr,
              "merge_states: output");
  HostTensor lseBad(f32, {2, 3, 2});
  expectError(states.ref, stateLse.ref, out.ref, &lseBad.ref,
              "merge_states: lse");
  HostTensor rank4(f32, {2, 3, 1, 16});
  expectError(rank4.ref, stateLse.ref, out.ref, nullptr,
              "states must have rank 5");
  // The output may not alias the states it reads.
  rt::BufferRef alias =
      rt::BufferRef::contiguous(states.ref.data, f32, {2, 3, 1, 16});
  std::string msg =
      errorOf(kv::mergeStates(kernels, pool, states.ref, stateLse.ref, alias));
  EXPECT_NE(msg.find("overlaps"), std::string::npos) << msg;
}

struct CascadeCase {
  const char *name;
  ElementType dtype;
  int64_t hq, hkv, d, dv, prefix;
  bool causal, sinks;
};

void PrintTo(const CascadeCase &c, std::ostream *os) { *os << c.name; }

class Cascade : public ::testing::TestWithParam<CascadeCase> {};

/// Cascade decode against float64 attention over prefix + suffix in one
/// contiguous cache.
TEST_P(Cascade, MatchesPlainAttentionOverPrefixAndSuffix) {
  const CascadeCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  rt::DType t = dtypeOf(p.dtype);
  const std::vector<int32_t> suffix = {0, 1, 13, 64, 70};
  const int64_t n = suffix.size(), maxSuffix = 80;
  auto suffixCache = makePaged(n * maxSuffix / 16, 16, maxSuffix / 16, n, p.hkv,
                               p.d, p.dv, p.dtype);
  auto fullCache =
      makeContiguous(n, p.prefix + maxSuffix, p.hkv, p.d, p.dv, p.dtype);
  std::vector<SeqId> ids, fullIds;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(suffixCache->addSequence()));
    fullIds.push_back(get(fullCache->addSequence()));
  }
  kv::KvStepper steps(*suffixCache, sharedRuntime());
  kv::KvStepper full = referenceStepper(*fullCache);

  // The shared prefix, appended to every sequence of the full cache.
  HostTensor pk(t, {1, p.hkv, p.prefix, p.d}),
      pv(t, {1, p.hkv, p.prefix, p.dv});
  pk.fillRandom(rng);
  pv.fillRandom(rng);
  HostTensor fk(t, {n, p.hkv, p.prefix, p.d}),
      fv(t, {n, p.hkv, p.prefix, p.dv});
  for (int64_t i = 0; i < fk.size(); ++i)
    fk.set(i, pk.at(i % pk.size()));
  for (int64_t i = 0; i < fv.size(); ++i)
    fv.set(i, pv.at(i % pv.size()));
  ASSERT_TRUE(ok(full.appendStep(fullIds, fk.ref, fv.ref)));
  HostTensor sk(t, {n, p.hkv, maxSuffix, p.d}),
      sv(t, {n, p.hkv, maxSuffix, p.dv});
  sk.fillRandom(rng);
  sv.fillRandom(rng);
  ASSERT_TRUE(ok(steps.appendStep(ids, sk.ref, sv.ref, suffix)));
  ASSERT_TRUE(ok(full.appendStep(fullIds, sk.ref, sv.ref, suffix)));

  HostTensor q(t, {n, p.hq, 1, p.d}), sinks(rt::DType::F32, {p.hq});
  q.fillRandom(rng);
  sinks.fillRandom(rng);
  const rt::BufferRef *sinkRef = p.sinks ? &sinks.ref : nullptr;
  kv::CacheAttentionOptions o;
  o.mask.causal = p.causal;
  HostTensor out(t, {n, p.hq, 1, p.dv}), lse(rt::DType::F32, {n, p.hq, 1});
  HostTensor wantOut = out, wantLse = lse;
  out.fill(std::nan(""));
  lse.fill(std::nan(""));
  kv::CascadeDecoder cascade(steps, sharedRuntime());
  ASSERT_TRUE(ok(cascade.decode(ids, pk.ref, pv.ref, q.ref, out.ref, o,
                                &lse.ref, sinkRef)));
  ASSERT_TRUE(ok(
      full.decodeStep(fullIds, q.ref, wantOut.ref, o, &wantLse.ref, sinkRef)));
  expectCloseTo(out, wantOut, &lse, &wantLse, t);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Cascade,
    ::testing::Values(CascadeCase{"Gqa4CausalF32", ElementType::F32, 8, 2, 64,
                                  64, 150, true, false},
                      CascadeCase{"Gqa7SinksBf16", ElementType::BF16, 7, 1, 64,
                                  48, 130, true, true},
                      CascadeCase{"MhaNoMaskSinksF32", ElementType::F32, 3, 3,
                                  32, 40, 77, false, true}),
    [](const ::testing::TestParamInfo<CascadeCase> &i) {
      return std::string(i.param.name);
    });

TEST(CascadeErrors, BadPrefixOrMaskNamesTheProblem) {
  auto cache = makePaged(8, 16, 4, 2, 2, 32);
  std::vector<SeqId> ids = {get(cache->addSequence()),
                            get(cache->addSequence())};
  kv::KvStepper steps(*cache, sharedRuntime());
  kv::CascadeDecoder cascade(steps, sharedRuntime());
  rt::DType f32 = rt::DType::F32;
  HostTensor pk(f32, {1, 2, 40, 32}), pv = pk, q(f32, {2, 4, 1, 32}), out = q;
  HostTensor badKey(f32, {1, 1, 40, 32});
  expectFailsUnchanged(*cache, "prefix key", [&] {
    return cascade.decode(ids, badKey.ref, pv.ref, q.ref, out.ref);
  });
  HostTensor badValue(f32, {1, 2, 39, 32});
  expectFailsUnchanged(*cache, "prefix value", [&] {
    return cascade.decode(ids, pk.ref, badValue.ref, q.ref, out.ref);
  });
  kv::CacheAttentionOptions window;
  window.mask.causal = true;
  window.mask.windowLeft = 8;
  expectFailsUnchanged(*cache, "the mask must be causal or none", [&] {
    return cascade.decode(ids, pk.ref, pv.ref, q.ref, out.ref, window);
  });
  HostTensor chunk(f32, {2, 4, 2, 32});
  expectFailsUnchanged(*cache, "query", [&] {
    return cascade.decode(ids, pk.ref, pv.ref, chunk.ref, out.ref);
  });
}

} // namespace
