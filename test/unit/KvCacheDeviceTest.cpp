//===- KvCacheDeviceTest.cpp - KV caches in CUDA device memory -----------===//
//
// Caches created with `memory = MemorySpace::Device` keep their K/V pools
// in device memory and step through the CUDA cache kernels.
//
// - everywhere: config errors (f32 device caches), "no CUDA device: ..."
//   without a GPU, and the cache kernels compiling for Target::Cuda (no GPU
//   needed to compile);
// - on a device: append and decode / chunked-prefill steps against a host
//   cache driven by the float64 reference (appends bit for bit, attention
//   within the runtime's tolerance). Without a device they skip with the
//   reason (GTEST_SKIP).
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/Check.h"
#include "runtime/cuda/CudaDriver.h"

#include <cmath>

using namespace kv_test;

namespace {

#define REQUIRE_DEVICE()                                                       \
  do {                                                                         \
    std::string why_;                                                          \
    if (!haveDevice(why_))                                                     \
      GTEST_SKIP() << why_;                                                    \
  } while (0)

kv::PagedKvCacheConfig pagedConfig(ElementType dtype, PageLayout layout,
                                   rt::MemorySpace memory) {
  kv::PagedKvCacheConfig c;
  c.numPages = 32;
  c.pageSize = 16;
  c.maxPagesPerSeq = 8;
  c.maxSequences = 4;
  c.numKvHeads = 2;
  c.headDim = 64;
  c.dtype = dtype;
  c.pageLayout = layout;
  c.memory = memory;
  return c;
}

kv::ContiguousKvCacheConfig contiguousConfig(ElementType dtype,
                                             rt::MemorySpace memory) {
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = 4;
  c.maxSeqLen = 128;
  c.numKvHeads = 2;
  c.headDim = 64;
  c.dtype = dtype;
  c.memory = memory;
  return c;
}

std::unique_ptr<kv::KvCache> makeCache(bool paged, ElementType dtype,
                                       PageLayout layout,
                                       rt::MemorySpace memory,
                                       std::string &error) {
  if (paged) {
    auto c = kv::PagedKvCache::create(pagedConfig(dtype, layout, memory));
    if (c)
      return std::move(*c);
    error = llvm::toString(c.takeError());
    return nullptr;
  }
  auto c = kv::ContiguousKvCache::create(contiguousConfig(dtype, memory));
  if (c)
    return std::move(*c);
  error = llvm::toString(c.takeError());
  return nullptr;
}

TEST(KvCacheDevice, F32DeviceCacheIsRejected) {
  for (bool paged : {true, false}) {
    std::string error;
    auto cache = makeCache(paged, ElementType::F32, PageLayout::NHD,
                           rt::MemorySpace::Device, error);
    EXPECT_EQ(cache, nullptr);
    EXPECT_NE(error.find("a device-memory cache must be f16 or bf16"),
              std::string::npos)
        << error;
  }
}

TEST(KvCacheDevice, NoDeviceIsAnError) {
  std::string why;
  if (haveDevice(why))
    GTEST_SKIP() << "a CUDA device is present";
  for (bool paged : {true, false}) {
    std::string error;
    auto cache = makeCache(paged, ElementType::BF16, PageLayout::NHD,
                           rt::MemorySpace::Device, error);
    EXPECT_EQ(cache, nullptr);
    EXPECT_EQ(error.rfind("no CUDA device: ", 0), 0u) << error;
  }
}

/// The kernels a device stepper would build compile to a launch plan
/// without a GPU (paged NHD/HND, contiguous; append and decode).
TEST(KvCacheDevice, CacheKernelsCompileForCuda) {
  rt::DType bf16 = rt::DType::BF16;
  const int64_t n = 2, hkv = 2, hq = 4, d = 64, snew = 3;
  kv::KernelBufferType key{bf16, {n, hkv, snew, d}, true};
  kv::KernelBufferType lengths{rt::DType::I32, {n}, false};
  kv::KernelBufferType table{rt::DType::I32, {n, 8}, false};
  kv::KernelBufferType query{bf16, {n, hq, 1, d}, true};
  kv::CacheKernels kernels;
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;
  for (PageLayout layout : {PageLayout::NHD, PageLayout::HND}) {
    kv::KernelBufferType pool{bf16, {32, 16, hkv, d}, false};
    if (layout == PageLayout::HND)
      pool.shape = {32, hkv, 16, d};
    llvm::SmallVector<kv::KernelBufferType> append = {
        key, key, pool, pool, lengths, lengths, table};
    auto a = kernels.getCuda(
        "cache_append", kv::appendKernelSource(append, layout), append, {});
    ASSERT_TRUE(static_cast<bool>(a)) << llvm::toString(a.takeError());
    EXPECT_FALSE((*a)->launchPlan().empty());
    llvm::SmallVector<kv::KernelBufferType> attn = {query,   pool,  pool,
                                                    lengths, table, query};
    auto k = kernels.getCuda(
        "cache_attention",
        kv::attentionKernelSource(attn, true, false, causal, layout), attn, {});
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  }
  kv::KernelBufferType slots{bf16, {n, hkv, 128, d}, false};
  // Contiguous: a chunk append and a chunked-prefill attention (Sq = 4).
  kv::KernelBufferType chunk{bf16, {n, hkv, 20, d}, true};
  llvm::SmallVector<kv::KernelBufferType> append = {chunk, chunk,   slots,
                                                    slots, lengths, lengths};
  auto a = kernels.getCuda("cache_append", kv::appendKernelSource(append),
                           append, {});
  ASSERT_TRUE(static_cast<bool>(a)) << llvm::toString(a.takeError());
  kv::KernelBufferType queries{bf16, {n, hq, 4, d}, true};
  llvm::SmallVector<kv::KernelBufferType> prefill = {queries, slots, slots,
                                                     lengths, queries};
  auto pf = kernels.getCuda(
      "cache_attention",
      kv::attentionKernelSource(prefill, false, false, causal), prefill, {});
  ASSERT_TRUE(static_cast<bool>(pf)) << llvm::toString(pf.takeError());
  llvm::SmallVector<kv::KernelBufferType> attn = {query, slots, slots, lengths,
                                                  query};
  auto k = kernels.getCuda(
      "cache_attention", kv::attentionKernelSource(attn, false, false, causal),
      attn, {});
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  // The same source again is a cache hit.
  auto again = kernels.getCuda(
      "cache_attention", kv::attentionKernelSource(attn, false, false, causal),
      attn, {});
  ASSERT_TRUE(static_cast<bool>(again));
  EXPECT_EQ(again->get(), k->get());
}

struct DeviceCase {
  const char *name;
  bool paged;
  PageLayout layout;
  ElementType dtype;
};

void PrintTo(const DeviceCase &c, std::ostream *os) { *os << c.name; }

class KvCacheDeviceSteps : public ::testing::TestWithParam<DeviceCase> {};

/// A cache in `memory` stepped by the compiled kernels and a host cache
/// stepped by the float64 reference, through ragged prefill chunks (lengths
/// 0 and 1 included) and decode steps crossing page boundaries.
void stepsMatchReference(const DeviceCase &p, rt::MemorySpace memory) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::string error;
  auto device = makeCache(p.paged, p.dtype, p.layout, memory, error);
  ASSERT_NE(device, nullptr) << error;
  EXPECT_EQ(device->memorySpace(), memory);
  auto host =
      makeCache(p.paged, p.dtype, p.layout, rt::MemorySpace::Host, error);
  ASSERT_NE(host, nullptr) << error;
  const int64_t n = 4, hkv = 2, hq = 4, d = 64;
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(device->addSequence()));
    ASSERT_EQ(get(host->addSequence()), ids.back());
  }
  kv::KvStepper gpu(*device, sharedRuntime());
  ASSERT_EQ(gpu.onDevice(), memory == rt::MemorySpace::Device);
  kv::KvStepper reference = referenceStepper(*host);
  rt::DType t = dtypeOf(p.dtype);
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;

  auto append = [&](int64_t snew, std::vector<int32_t> counts) {
    appendBoth(gpu, *device, reference, *host, ids, t, {n, hkv, snew, d},
               counts, rng);
  };
  auto attend = [&](int64_t sq) {
    HostTensor q(t, {n, hq, sq, d});
    q.fillRandom(rng);
    HostTensor got(t, {n, hq, sq, d}), want(t, {n, hq, sq, d});
    got.fill(std::nan(""));
    ASSERT_TRUE(ok(gpu.decodeStep(ids, q.ref, got.ref, causal)));
    ASSERT_TRUE(ok(reference.decodeStep(ids, q.ref, want.ref, causal)));
    double maxRef = 0, maxErr = 0;
    for (int64_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(std::isfinite(got.at(i))) << "output[" << i << "]";
      maxRef = std::max(maxRef, std::abs(want.at(i)));
      maxErr = std::max(maxErr, std::abs(got.at(i) - want.at(i)));
    }
    if (maxRef == 0)
      EXPECT_EQ(maxErr, 0);
    else
      EXPECT_LE(maxErr / maxRef, rt::toleranceFor(t).output);
  };

  // Chunked prefill: ragged chunks, then attention of the chunk's last
  // queries; sequence 0 stays empty, sequence 1 gets one token.
  append(20, {0, 1, 20, 17});
  attend(1);
  append(20, {0, 0, 20, 20});
  attend(4);
  // Decode steps: every sequence grows by one, crossing page boundaries.
  for (int step = 0; step < 4; ++step) {
    append(1, {});
    attend(1);
  }
  EXPECT_EQ(intsOf(device->lengths()), (std::vector<int32_t>{4, 5, 44, 41}));

  // An overflow fails and changes nothing (host bookkeeping, device pools).
  HostTensor big(t, {n, hkv, 100, d});
  expectFailsUnchanged(*device, "",
                       [&] { return gpu.appendStep(ids, big.ref, big.ref); });
  if (memory == rt::MemorySpace::Host)
    return;
  // The reference backend cannot read device pools.
  kv::KvStepper wrong = referenceStepper(*device);
  HostTensor one(t, {n, hkv, 1, d});
  expectFailsUnchanged(*device, "needs a cache in host memory",
                       [&] { return wrong.appendStep(ids, one.ref, one.ref); });
}

TEST_P(KvCacheDeviceSteps, MatchesReference) {
  REQUIRE_DEVICE();
  stepsMatchReference(GetParam(), rt::MemorySpace::Device);
}

/// The same schedule on a host cache with the CPU kernels (runs everywhere:
/// checks the schedule itself).
TEST_P(KvCacheDeviceSteps, HostScheduleMatchesReference) {
  stepsMatchReference(GetParam(), rt::MemorySpace::Host);
}

INSTANTIATE_TEST_SUITE_P(
    Caches, KvCacheDeviceSteps,
    ::testing::Values(
        DeviceCase{"PagedNhdBf16", true, PageLayout::NHD, ElementType::BF16},
        DeviceCase{"PagedHndBf16", true, PageLayout::HND, ElementType::BF16},
        DeviceCase{"ContiguousBf16", false, PageLayout::NHD, ElementType::BF16},
        DeviceCase{"PagedNhdF16", true, PageLayout::NHD, ElementType::F16}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
