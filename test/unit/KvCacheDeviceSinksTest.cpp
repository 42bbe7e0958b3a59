//===- KvCacheDeviceSinksTest.cpp - sinks in the CUDA cache attention -----===//
//
// decodeStep / chunked prefill with `sinks` on caches in device memory
// (contiguous and paged NHD / HND; the steppers' kernels of run-time batch,
// Sq, capacity and page count, split per call and unsplit) against a host
// cache stepped by the float64 reference: f16 and bf16 within the
// runtime's tolerances (runtime/Check.h), GQA 4:1 and 7:1, head dims 64,
// 128 and 72, causal + sliding window, an empty sequence (output 0, lse =
// the sink), long contexts (4099 tokens) where decode splits the KV range.
// The sinks buffer is a host buffer (staged) or a device one (in place).
// Without a device the tests skip.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/cuda/CudaDriver.h"

#include <cmath>

using namespace kv_test;

namespace {

struct SinkCacheCase {
  const char *name;
  bool paged;
  PageLayout layout;
  ElementType dtype;
  int64_t hq, hkv, d;
};

void PrintTo(const SinkCacheCase &c, std::ostream *os) { *os << c.name; }

/// Room for 4200 tokens in each of 3 sequences.
std::unique_ptr<kv::KvCache> makeCache(const SinkCacheCase &p,
                                       rt::MemorySpace memory) {
  if (p.paged) {
    kv::PagedKvCacheConfig c;
    c.numPages = 800;
    c.pageSize = 16;
    c.maxPagesPerSeq = 263;
    c.maxSequences = 3;
    c.numKvHeads = p.hkv;
    c.headDim = p.d;
    c.dtype = p.dtype;
    c.pageLayout = p.layout;
    c.memory = memory;
    return cantFail(kv::PagedKvCache::create(c));
  }
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = 3;
  c.maxSeqLen = 4200;
  c.numKvHeads = p.hkv;
  c.headDim = p.d;
  c.dtype = p.dtype;
  c.memory = memory;
  return cantFail(kv::ContiguousKvCache::create(c));
}

class KvCacheDeviceSinks : public ::testing::TestWithParam<SinkCacheCase> {};

TEST_P(KvCacheDeviceSinks, StepsMatchReference) {
  std::string why;
  if (!haveDevice(why))
    GTEST_SKIP() << why;
  const SinkCacheCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto device = makeCache(p, rt::MemorySpace::Device);
  auto host = makeCache(p, rt::MemorySpace::Host);
  kv::KvStepper split(*device, sharedRuntime());
  kv::StepOptions one;
  one.gpu.gpuKvSplits = 1;
  kv::KvStepper unsplit(*device, sharedRuntime(), one);
  ASSERT_TRUE(split.onDevice() && split.runTimeSizes());
  kv::KvStepper reference = referenceStepper(*host);
  rt::DType t = dtypeOf(p.dtype);
  // Sinks: 8 (dominates), -3, N(0, 1); staged from the host and, for the
  // second run of each step, read in place from device memory.
  HostTensor sinks(rt::DType::F32, {p.hq});
  std::normal_distribution<double> n01;
  for (int64_t h = 0; h < p.hq; ++h)
    sinks.set(h, h % 3 == 0 ? 8.0 : h % 3 == 1 ? -3.0 : n01(rng));
  auto driver = get(mlir::attn::cuda::Driver::get());
  ASSERT_TRUE(driver);
  auto deviceSinks = get(driver->allocate(sinks.bytes.size()));
  ASSERT_TRUE(ok(driver->copyToDevice(deviceSinks, sinks.bytes.data(),
                                      sinks.bytes.size())));
  rt::BufferRef sinksOnDevice = sinks.ref;
  sinksOnDevice.data = reinterpret_cast<void *>(deviceSinks);
  sinksOnDevice.space = rt::MemorySpace::Device;

  std::vector<SeqId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(get(device->addSequence()));
    ASSERT_EQ(get(host->addSequence()), ids.back());
  }
  kv::CacheAttentionOptions attn;
  attn.mask.causal = true;
  attn.mask.windowLeft = 1500;
  auto attend = [&](const std::vector<SeqId> &seqs, int64_t sq) {
    int64_t n = int64_t(seqs.size());
    HostTensor q(t, {n, p.hq, sq, p.d});
    q.fillRandom(rng);
    HostTensor want(t, {n, p.hq, sq, p.d});
    HostTensor wantLse(rt::DType::F32, {n, p.hq, sq});
    ASSERT_TRUE(ok(reference.decodeStep(seqs, q.ref, want.ref, attn,
                                        &wantLse.ref, &sinks.ref)));
    for (kv::KvStepper *s : {&split, &unsplit})
      for (const rt::BufferRef *sk : {&sinks.ref, &sinksOnDevice}) {
        HostTensor got(t, {n, p.hq, sq, p.d});
        HostTensor gotLse(rt::DType::F32, {n, p.hq, sq});
        got.fill(std::nan(""));
        ASSERT_TRUE(
            ok(s->decodeStep(seqs, q.ref, got.ref, attn, &gotLse.ref, sk)));
        expectCloseTo(got, want, &gotLse, &wantLse, t);
        for (int64_t b = 0; b < n; ++b) {
          if (get(host->length(seqs[b])) != 0)
            continue;
          for (int64_t i = 0; i < p.hq * sq * p.d; ++i)
            ASSERT_EQ(got.at(b * p.hq * sq * p.d + i), 0.0) << "empty seq";
          for (int64_t r = 0; r < p.hq * sq; ++r)
            EXPECT_NEAR(gotLse.at(b * p.hq * sq + r), sinks.at(r / sq), 1e-5)
                << "lse of the empty sequence, row " << r;
        }
      }
  };
  // A ragged prefill (odd lengths, an empty sequence), chunked-prefill
  // attention over its last queries, then decode over long contexts.
  appendBoth(split, *device, reference, *host, ids, t, {3, p.hkv, 4099, p.d},
             {4099, 0, 1003}, rng);
  attend(ids, 1);
  attend({ids[0]}, 1);
  // (Contiguous caches step consecutive slots.)
  attend({ids[0], ids[1]}, 7);
  appendBoth(split, *device, reference, *host, ids, t, {3, p.hkv, 1, p.d}, {},
             rng);
  attend(ids, 1);
  ASSERT_TRUE(ok(driver->release(deviceSinks)));
}

INSTANTIATE_TEST_SUITE_P(
    Caches, KvCacheDeviceSinks,
    ::testing::Values(SinkCacheCase{"PagedNhdBf16Gqa4", true, PageLayout::NHD,
                                    ElementType::BF16, 8, 2, 64},
                      SinkCacheCase{"PagedHndF16Gqa7", true, PageLayout::HND,
                                    ElementType::F16, 14, 2, 128},
                      SinkCacheCase{"ContiguousBf16Gqa7D72", false,
                                    PageLayout::NHD, ElementType::BF16, 7, 1,
                                    72},
                      SinkCacheCase{"ContiguousF16Gqa4", false, PageLayout::NHD,
                                    ElementType::F16, 8, 2, 64}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
