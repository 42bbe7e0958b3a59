//===- KvCacheDeviceMixedTest.cpp - mixed batches in one CUDA launch ------===//
//
// KvStepper::mixedStep over caches in device memory: one launch of the
// mixed kernel (attn-to-nvvm, passes/gpu/MixedKernel.cpp) for a batch whose
// sequences bring 0, 1, 2, 13, 17 queries or a prefill chunk (19, 64, 70),
// against the float64 reference stepping a host copy of the cache.
// Tolerances are the runtime's per dtype (runtime/Check.h: f16 / bf16 a
// few ulps of the type, normwise over the output; lse 1e-3 relative);
// every row must be written (the output starts as NaN) and NaN never
// passes.
//
// - everywhere (no GPU needed): the kernel compiles to a launch plan whose
//   grid follows T and the batch (ceil(G * T / 128) + B slots); bad
//   offsets fail with messages naming query_offsets before the device is
//   touched, the cache unchanged;
// - on a device: the cases below, and a benchmark line (one mixed launch
//   against the prefill and decode parts as two launches, same work).
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/cuda/CudaDriver.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace kv_test;
using mlir::attn::kDynamicSize;

namespace {

struct DeviceMixedCase {
  const char *name;
  bool paged;
  PageLayout layout;
  ElementType dtype;
  int64_t hq, hkv, d;
  int64_t windowLeft; ///< -1: causal only
  int32_t chunk;      ///< the prefill chunk of the steps
};

void PrintTo(const DeviceMixedCase &c, std::ostream *os) { *os << c.name; }

/// A paged cache of 160 pages of 16 (12 per sequence) or a contiguous one
/// of 192 tokens per slot, 8 sequences, in `memory`.
std::unique_ptr<kv::KvCache> makeMixedCache(const DeviceMixedCase &p,
                                            rt::MemorySpace memory) {
  if (p.paged) {
    kv::PagedKvCacheConfig c;
    c.numPages = 160;
    c.pageSize = 16;
    c.maxPagesPerSeq = 12;
    c.maxSequences = 8;
    c.numKvHeads = p.hkv;
    c.headDim = p.d;
    c.dtype = p.dtype;
    c.pageLayout = p.layout;
    c.memory = memory;
    return cantFail(kv::PagedKvCache::create(c));
  }
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = 8;
  c.maxSeqLen = 192;
  c.numKvHeads = p.hkv;
  c.headDim = p.d;
  c.dtype = p.dtype;
  c.memory = memory;
  return cantFail(kv::ContiguousKvCache::create(c));
}

class KvCacheDeviceMixed : public ::testing::TestWithParam<DeviceMixedCase> {};

/// Ragged prefill, then mixed steps whose compositions change every step:
/// each step appends the sequences' new tokens (newLengths = their query
/// counts) on the device and the host copy, then one mixedStep each. One
/// append kernel and one mixed kernel serve every step.
TEST_P(KvCacheDeviceMixed, OneLaunchMatchesReference) {
  std::string why;
  if (!haveDevice(why))
    GTEST_SKIP() << why;
  const DeviceMixedCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto device = makeMixedCache(p, rt::MemorySpace::Device);
  auto host = makeMixedCache(p, rt::MemorySpace::Host);
  kv::KvStepper gpu(*device, sharedRuntime());
  ASSERT_TRUE(gpu.onDevice());
  kv::KvStepper reference = referenceStepper(*host);
  rt::DType t = dtypeOf(p.dtype);
  const int64_t n = 8;
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(device->addSequence()));
    ASSERT_EQ(get(host->addSequence()), ids.back());
  }
  kv::CacheAttentionOptions o = causalAttention(p.windowLeft);
  auto mixed = [&](std::vector<int32_t> counts) {
    int32_t snew = *std::max_element(counts.begin(), counts.end());
    appendBoth(gpu, *device, reference, *host, ids, t, {n, p.hkv, snew, p.d},
               counts, rng);
    std::vector<int32_t> offsets = queryOffsetsOf(counts);
    int64_t rows = offsets.back();
    HostTensor q(t, {rows, p.hq, p.d});
    q.fillRandom(rng);
    HostTensor out(t, {rows, p.hq, p.d}), lse(rt::DType::F32, {rows, p.hq});
    HostTensor wantOut = out, wantLse = lse;
    out.fill(std::nan(""));
    lse.fill(std::nan(""));
    ASSERT_TRUE(ok(gpu.mixedStep(ids, q.ref, offsets, out.ref, o, &lse.ref)));
    ASSERT_TRUE(ok(reference.mixedStep(ids, q.ref, offsets, wantOut.ref, o,
                                       &wantLse.ref)));
    expectCloseTo(out, wantOut, &lse, &wantLse, t);
  };
  // History: sequence 0 stays empty, 1 holds one token, the others more.
  appendBoth(gpu, *device, reference, *host, ids, t, {n, p.hkv, 70, p.d},
             {0, 1, 7, 70, 33, 2, 45, 18}, rng);
  const int32_t c = p.chunk;
  // Counts 0 (idle), 1 (decode), 2 (speculative), 13, 17 and a chunk in
  // one batch; then other places, an empty sequence starting with a
  // chunk, and an all-decode step.
  mixed({0, 1, 2, 13, 17, c, 1, 1});
  mixed({c, 2, 1, 1, 0, 13, 17, 1});
  mixed({1, 1, 1, 1, 1, 1, 1, 1});
  mixed({2, 0, c, 1, 17, 1, 0, 13});
  EXPECT_EQ(gpu.kernels().stats().compiles, 2)
      << "one append and one mixed kernel for every composition";
}

INSTANTIATE_TEST_SUITE_P(
    Caches, KvCacheDeviceMixed,
    ::testing::Values(
        DeviceMixedCase{"PagedNhdBf16Gqa4D128", true, PageLayout::NHD,
                        ElementType::BF16, 32, 8, 128, -1, 64},
        DeviceMixedCase{"PagedHndF16Gqa7D64", true, PageLayout::HND,
                        ElementType::F16, 14, 2, 64, -1, 70},
        DeviceMixedCase{"ContiguousBf16Gqa7D72Window", false, PageLayout::NHD,
                        ElementType::BF16, 7, 1, 72, 20, 19},
        DeviceMixedCase{"ContiguousF16Gqa4D128", false, PageLayout::NHD,
                        ElementType::F16, 8, 2, 128, -1, 64},
        DeviceMixedCase{"PagedNhdF16Gqa4D72Window", true, PageLayout::NHD,
                        ElementType::F16, 8, 2, 72, 24, 70},
        DeviceMixedCase{"PagedHndBf16Gqa4D64", true, PageLayout::HND,
                        ElementType::BF16, 16, 4, 64, -1, 19}),
    [](const ::testing::TestParamInfo<DeviceMixedCase> &i) {
      return std::string(i.param.name);
    });

/// The plan of the mixed kernel: one launch whose grid is
/// ceil(G * T / 128) + B slots over the K/V heads, from the sizes alone.
/// No device needed.
TEST(KvCacheDeviceMixedPlan, GridFollowsTokensAndBatch) {
  rt::DType bf16 = rt::DType::BF16;
  constexpr int64_t Q = kDynamicSize;
  kv::KernelBufferType query{bf16, {Q, 8, 64}, true};
  kv::KernelBufferType pool{bf16, {32, 16, 2, 64}, false};
  kv::KernelBufferType lengths{rt::DType::I32, {Q}, false};
  kv::KernelBufferType table{rt::DType::I32, {Q, 8}, false};
  llvm::SmallVector<kv::KernelBufferType> types = {
      query, pool, pool, lengths, lengths, table, query};
  kv::CacheKernels cache;
  auto k = cache.getCuda(
      "cache_attention",
      kv::attentionKernelSource(types, true, false, causalAttention(),
                                PageLayout::NHD, false, std::nullopt, true),
      types, {});
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  EXPECT_NE((*k)->launchPlan().find("query.dim0"), std::string::npos)
      << (*k)->launchPlan();
  // (T, B): G = 4, 128-row prefill blocks.
  for (auto [tokens, batch, slots] :
       {std::tuple{1, 1, 2}, {40, 3, 5}, {300, 6, 16}}) {
    llvm::SmallVector<llvm::SmallVector<int64_t, 4>> owned = {
        {tokens, 8, 64}, {32, 16, 2, 64}, {32, 16, 2, 64}, {batch},
        {batch + 1},     {batch, 8},      {tokens, 8, 64}};
    llvm::SmallVector<llvm::ArrayRef<int64_t>> shapes(owned.begin(),
                                                      owned.end());
    std::string plan = (*k)->launchPlan(shapes);
    EXPECT_NE(plan.find("grid (" + std::to_string(slots) + ", 2, 1)"),
              std::string::npos)
        << plan;
  }
}

/// Bad offsets on a device cache: the same located errors as on the CPU,
/// before anything runs (checked without a device too: the checks come
/// before the staging), the cache unchanged and no row written.
TEST(KvCacheDeviceMixedErrors, BadOffsetsChangeNothing) {
  std::string why;
  if (!haveDevice(why))
    GTEST_SKIP() << why;
  DeviceMixedCase p{"", true, PageLayout::NHD, ElementType::BF16, 4, 2, 64,
                    -1, 4};
  auto device = makeMixedCache(p, rt::MemorySpace::Device);
  kv::KvStepper gpu(*device, sharedRuntime());
  std::vector<SeqId> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(get(device->addSequence()));
  std::mt19937_64 rng(testSeed());
  HostTensor k(rt::DType::BF16, {3, 2, 4, 64}), v = k;
  k.fillRandom(rng);
  v.fillRandom(rng);
  ASSERT_TRUE(ok(gpu.appendStep(ids, k.ref, v.ref, {2, 4, 3})));
  HostTensor q(rt::DType::BF16, {5, 4, 64}), out(rt::DType::BF16, {5, 4, 64});
  q.fillRandom(rng);
  out.fill(7.0);
  auto refused = [&](std::vector<int32_t> offsets, llvm::StringRef message) {
    expectFailsUnchanged(*device, message, [&] {
      return gpu.mixedStep(ids, q.ref, offsets, out.ref, causalAttention());
    });
    for (int64_t i = 0; i < out.size(); ++i)
      ASSERT_EQ(out.at(i), 7.0) << message.str();
  };
  refused({0, 2, 1, 5}, "mixedStep: query_offsets: sequence 1 has -1 queries "
                        "([2] = 1 < [1] = 2)");
  refused({0, 1, 2, 4},
          "mixedStep: query_offsets[3] = 4 but the query has 5 rows");
  refused({1, 2, 4, 5}, "mixedStep: query_offsets[0] = 1, expected 0");
  refused({0, 3, 4, 5}, "mixedStep: query_offsets: sequence 0 has 3 queries "
                        "but holds 2 tokens");
  // Sinks have no GPU kernel yet: the compile names them, nothing ran.
  HostTensor sinks(rt::DType::F32, {4});
  expectFailsUnchanged(*device, "attention sinks", [&] {
    return gpu.mixedStep(ids, q.ref, {0, 1, 2, 5}, out.ref, causalAttention(),
                         nullptr, &sinks.ref);
  });
  // Every sequence idle (T = 0): nothing to launch, nothing written.
  HostTensor none(rt::DType::BF16, {0, 4, 64}), noneOut = none;
  EXPECT_TRUE(ok(gpu.mixedStep(ids, none.ref, {0, 0, 0, 0}, noneOut.ref)));
}

/// The benchmark line: 32 decode sequences at 4k context and 2 prefill
/// chunks of 512 (after 1k cached tokens), GQA hq32 hkv8 d128 bf16 paged,
/// q and out in device memory; one mixed launch against the decode and
/// prefill parts as two launches (decodeStep each), alternating, median
/// of 20 rounds. Prints the line docs/performance.md quotes and checks the
/// two ways agree (bf16: one rounding of each output).
TEST(KvCacheDeviceMixedBench, OneLaunchVsTwo) {
  std::string why;
  if (!haveDevice(why))
    GTEST_SKIP() << why;
  auto driver = cantFail(mlir::attn::cuda::Driver::get());
  const int64_t nd = 32, np = 2, ctx = 4096, chunk = 512, prefix = 1024;
  const int64_t n = nd + np, hq = 32, hkv = 8, d = 128, page = 16;
  rt::DType t = rt::DType::BF16;
  kv::PagedKvCacheConfig c;
  c.pageSize = page;
  c.maxPagesPerSeq = (ctx + 1 + page - 1) / page + 1;
  c.numPages = n * c.maxPagesPerSeq;
  c.maxSequences = n;
  c.numKvHeads = hkv;
  c.headDim = d;
  c.dtype = ElementType::BF16;
  c.memory = rt::MemorySpace::Device;
  auto cache = cantFail(kv::PagedKvCache::create(c));
  std::vector<SeqId> ids, decodeIds, prefillIds;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(cache->addSequence()));
    (i < nd ? decodeIds : prefillIds).push_back(ids.back());
  }
  kv::KvStepper steps(*cache, sharedRuntime());
  std::mt19937_64 rng(1);
  constexpr int64_t kRows = 512;
  std::vector<int32_t> rows(n);
  HostTensor hk(t, {n, hkv, kRows, d}), hv(t, {n, hkv, kRows, d});
  hk.fillRandom(rng);
  hv.fillRandom(rng);
  for (int64_t done = 0; done < ctx; done += kRows) {
    for (int64_t i = 0; i < n; ++i)
      rows[i] = int32_t(
          std::clamp<int64_t>((i < nd ? ctx : prefix) - done, 0, kRows));
    ASSERT_TRUE(ok(steps.appendStep(ids, hk.ref, hv.ref, rows)));
  }
  std::vector<int32_t> counts(n);
  for (int64_t i = 0; i < n; ++i)
    counts[i] = int32_t(i < nd ? 1 : chunk);
  ASSERT_TRUE(ok(steps.appendStep(ids, hk.ref, hv.ref, counts)));
  std::vector<int32_t> offsets = queryOffsetsOf(counts);
  const int64_t T = offsets.back();
  // Packed queries on the host; the two launches' [nd, Hq, 1, D] and
  // [np, Hq, chunk, D] copies of the same rows.
  HostTensor q(t, {T, hq, d}), qd(t, {nd, hq, 1, d}), qp(t, {np, hq, chunk, d});
  q.fillRandom(rng);
  auto packed = [&](int64_t s, int64_t i, int64_t h) {
    return ((offsets[s] + i) * hq + h) * d;
  };
  auto split = [&](int64_t s, int64_t i, int64_t h) {
    return s < nd ? (s * hq + h) * d : (((s - nd) * hq + h) * chunk + i) * d;
  };
  for (int64_t s = 0; s < n; ++s)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < counts[s]; ++i)
        for (int64_t e = 0; e < d; ++e)
          (s < nd ? qd : qp).set(split(s, i, h) + e, q.at(packed(s, i, h) + e));
  // Device copies: the launches read and write device memory in place.
  std::vector<mlir::attn::cuda::DeviceBuffer> keep;
  keep.reserve(6);
  auto onDevice = [&](const HostTensor &h) {
    size_t bytes = size_t(h.size()) * 2;
    keep.push_back(
        cantFail(mlir::attn::cuda::DeviceBuffer::create(*driver, bytes)));
    cantFail(driver->copyToDevice(keep.back().get(), h.ref.data, bytes));
    return rt::BufferRef::device(keep.back().get(), t, h.ref.shape);
  };
  rt::BufferRef dq = onDevice(q), dqd = onDevice(qd), dqp = onDevice(qp);
  HostTensor out(t, {T, hq, d}), od(t, {nd, hq, 1, d}),
      op(t, {np, hq, chunk, d});
  rt::BufferRef dout = onDevice(out), dod = onDevice(od), dop = onDevice(op);
  kv::CacheAttentionOptions o = causalAttention();
  auto runTwo = [&] {
    EXPECT_TRUE(ok(steps.decodeStep(decodeIds, dqd, dod, o)));
    EXPECT_TRUE(ok(steps.decodeStep(prefillIds, dqp, dop, o)));
  };
  auto runMixed = [&] {
    EXPECT_TRUE(ok(steps.mixedStep(ids, dq, offsets, dout, o)));
  };
  auto timeMs = [&](auto &&fn) {
    auto start = std::chrono::steady_clock::now();
    fn();
    EXPECT_TRUE(ok(driver->synchronize()));
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  };
  for (int warm = 0; warm < 3; ++warm) {
    timeMs(runTwo);
    timeMs(runMixed);
  }
  std::vector<double> two, mixed, ratio;
  for (int r = 0; r < 20; ++r) {
    two.push_back(timeMs(runTwo));
    mixed.push_back(timeMs(runMixed));
    ratio.push_back(two.back() / mixed.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  cantFail(driver->copyToHost(out.ref.data, dout.devicePtr(),
                              size_t(out.size()) * 2));
  cantFail(
      driver->copyToHost(od.ref.data, dod.devicePtr(), size_t(od.size()) * 2));
  cantFail(
      driver->copyToHost(op.ref.data, dop.devicePtr(), size_t(op.size()) * 2));
  double maxDiff = 0, maxRef = 0;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < counts[s]; ++i)
        for (int64_t e = 0; e < d; ++e) {
          double a = out.at(packed(s, i, h) + e);
          double b = (s < nd ? od : op).at(split(s, i, h) + e);
          ASSERT_TRUE(std::isfinite(a));
          maxDiff = std::max(maxDiff, std::abs(a - b));
          maxRef = std::max(maxRef, std::abs(b));
        }
  std::printf("mixed batch %lld decode (context %lld) + %lld prefill (chunk "
              "%lld after %lld) hq%lld hkv%lld d%lld bf16 paged, CUDA: two "
              "launches %.3f ms, one mixed launch %.3f ms: %.2fx; max |two - "
              "mixed| %.2g\n",
              (long long)nd, (long long)ctx, (long long)np, (long long)chunk,
              (long long)prefix, (long long)hq, (long long)hkv, (long long)d,
              median(two), median(mixed), median(ratio), maxDiff);
  EXPECT_LE(maxDiff, rt::toleranceFor(t).output * maxRef);
}

} // namespace
