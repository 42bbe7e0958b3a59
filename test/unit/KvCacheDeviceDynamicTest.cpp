//===- KvCacheDeviceDynamicTest.cpp - CUDA cache kernels of run-time sizes ===//
//
// attn.cache_append / attn.cache_attention compiled for Target::Cuda with
// `?` batch, chunk / query length, page count and block-table width: one
// kernel per kind serves every batch composition.
//
// - everywhere (no GPU needed): the kernels compile to launch plans whose
//   grids follow the buffers' sizes; sizes that break a compile-time
//   constraint (rows past the cache's capacity, a page-count or batch
//   mismatch, a grid dim past CUDA's limits) are errors naming the values,
//   reported before any device is touched;
// - on a device: a continuous-batching loop (sequences joining and
//   leaving, ragged odd-length chunks, decode steps, GQA 4:1 and 7:1, f16
//   and bf16, contiguous and paged NHD/HND caches) against a host cache
//   stepped by the float64 reference, with the compile count fixed after
//   the first step of each kernel kind; long contexts (70001 tokens) with
//   small batches, where the kernels split the KV range per call, split
//   and unsplit. Without a device they skip.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/cuda/CudaDriver.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include <algorithm>
#include <limits>

using namespace kv_test;
using mlir::attn::kDynamicSize;

namespace {

constexpr int64_t Q = kDynamicSize;

/// A host buffer of `shape` that is never read: run-time size checks look
/// at shapes only, and fail before anything is staged.
rt::BufferRef shapeOnly(rt::DType t, llvm::ArrayRef<int64_t> shape) {
  static char dummy[64];
  return rt::BufferRef::contiguous(dummy, t, shape);
}

std::vector<rt::GpuBufferUse> usesOf(llvm::ArrayRef<const char *> names) {
  std::vector<rt::GpuBufferUse> uses;
  for (const char *n : names)
    uses.push_back({n, false});
  return uses;
}

/// The error of running `kernel` on buffers of `shapes` (types `types`).
std::string runError(const kv::GpuCacheKernel &kernel,
                     llvm::ArrayRef<kv::KernelBufferType> types,
                     llvm::ArrayRef<llvm::SmallVector<int64_t, 4>> shapes,
                     llvm::ArrayRef<const char *> names) {
  std::vector<rt::BufferRef> bufs;
  for (auto [t, s] : llvm::zip(types, shapes))
    bufs.push_back(shapeOnly(t.dtype, s));
  return errorOf(kernel.run(bufs, usesOf(names)));
}

struct DynamicKernels {
  kv::CacheKernels cache;
  kv::GpuCacheKernelRef append, decode;
  llvm::SmallVector<kv::KernelBufferType> appendTypes, decodeTypes;
};

/// Compiles the `?` append and decode kernels of a paged (NHD) cache of 32
/// pages of 16 and 8 pages per sequence, or a contiguous one of Smax 128.
void compileDynamic(DynamicKernels &k, bool paged) {
  rt::DType bf16 = rt::DType::BF16;
  kv::KernelBufferType rows{bf16, {Q, 2, Q, 64}, true};
  kv::KernelBufferType lengths{rt::DType::I32, {Q}, false};
  kv::KernelBufferType pool{bf16, {32, 16, 2, 64}, false};
  kv::KernelBufferType slots{bf16, {Q, 2, 128, 64}, false};
  kv::KernelBufferType table{rt::DType::I32, {Q, 8}, false};
  kv::KernelBufferType query{bf16, {Q, 8, 1, 64}, true};
  kv::KernelBufferType cache = paged ? pool : slots;
  k.appendTypes = {rows, rows, cache, cache, lengths, lengths};
  k.decodeTypes = {query, cache, cache, lengths};
  if (paged) {
    k.appendTypes.push_back(table);
    k.decodeTypes.push_back(table);
  }
  k.decodeTypes.push_back(query);
  auto a = k.cache.getCuda(
      "cache_append", kv::appendKernelSource(k.appendTypes), k.appendTypes, {});
  ASSERT_TRUE(static_cast<bool>(a)) << llvm::toString(a.takeError());
  k.append = *a;
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;
  auto d = k.cache.getCuda(
      "cache_attention",
      kv::attentionKernelSource(k.decodeTypes, paged, false, causal),
      k.decodeTypes, {});
  ASSERT_TRUE(static_cast<bool>(d)) << llvm::toString(d.takeError());
  k.decode = *d;
}

TEST(KvCacheDeviceDynamic, PlansFollowTheSizes) {
  for (bool paged : {true, false}) {
    SCOPED_TRACE(paged ? "paged" : "contiguous");
    DynamicKernels k;
    ASSERT_NO_FATAL_FAILURE(compileDynamic(k, paged));
    EXPECT_EQ(k.cache.stats().compiles, 2);
    // The unresolved plan shows the grid as expressions of the sizes.
    EXPECT_NE(k.append->launchPlan().find("key.dim2"), std::string::npos)
        << k.append->launchPlan();
    EXPECT_NE(k.decode->launchPlan().find("query.dim0"), std::string::npos)
        << k.decode->launchPlan();
    for (int64_t n : {1, 3, 4}) {
      llvm::SmallVector<llvm::ArrayRef<int64_t>> shapes;
      llvm::SmallVector<llvm::SmallVector<int64_t, 4>> owned = {
          {n, 2, 7, 64}, {n, 2, 7, 64}, {}, {}, {n}, {n}};
      llvm::SmallVector<int64_t, 4> cache =
          paged ? llvm::SmallVector<int64_t, 4>{32, 16, 2, 64}
                : llvm::SmallVector<int64_t, 4>{n, 2, 128, 64};
      owned[2] = owned[3] = cache;
      if (paged)
        owned.push_back({n, 8});
      for (auto &s : owned)
        shapes.push_back(s);
      std::string plan = k.append->launchPlan(shapes);
      EXPECT_NE(plan.find("grid (7, 2, " + std::to_string(n) + ")"),
                std::string::npos)
          << plan;
    }
    // The same sources again are cache hits: no compile per size.
    DynamicKernels again;
    compileDynamic(again, paged);
    EXPECT_EQ(k.cache.stats().compiles, 2);
  }
}

/// Sizes that break what the verifier checks for static shapes fail at
/// the call with the values, before the device is touched (so the same
/// error comes without one).
TEST(KvCacheDeviceDynamic, SizeErrorsNameTheValues) {
  DynamicKernels paged, contiguous;
  ASSERT_NO_FATAL_FAILURE(compileDynamic(paged, true));
  ASSERT_NO_FATAL_FAILURE(compileDynamic(contiguous, false));
  std::vector<const char *> appendNames = {"key",           "value",
                                           "key_cache",     "value_cache",
                                           "cache_lengths", "new_lengths"};
  std::vector<const char *> pagedAppendNames = appendNames;
  pagedAppendNames.push_back("block_table");
  std::vector<const char *> decodeNames = {"query", "key_cache", "value_cache",
                                           "cache_lengths", "output"};
  std::vector<const char *> pagedDecodeNames = {"query",       "key_cache",
                                                "value_cache", "cache_lengths",
                                                "block_table", "output"};
  using Shapes = llvm::SmallVector<llvm::SmallVector<int64_t, 4>>;
  // Rows past the contiguous capacity (Smax = 128).
  std::string e = runError(*contiguous.append, contiguous.appendTypes,
                           Shapes{{2, 2, 129, 64},
                                  {2, 2, 129, 64},
                                  {2, 2, 128, 64},
                                  {2, 2, 128, 64},
                                  {2},
                                  {2}},
                           appendNames);
  EXPECT_NE(e.find("run-time sizes: the appended rows fit the cache (Snew <= "
                   "its capacity), but key.dim2 = 129 and 128"),
            std::string::npos)
      << e;
  // Paged: 8 pages of 16 per sequence hold 128 rows.
  e = runError(*paged.append, paged.appendTypes,
               Shapes{{1, 2, 130, 64},
                      {1, 2, 130, 64},
                      {32, 16, 2, 64},
                      {32, 16, 2, 64},
                      {1},
                      {1},
                      {1, 8}},
               pagedAppendNames);
  EXPECT_NE(e.find("Snew <= its capacity), but key.dim2 = 130 and 128"),
            std::string::npos)
      << e;
  // A cache-lengths buffer of the wrong batch.
  e = runError(*paged.decode, paged.decodeTypes,
               Shapes{{3, 8, 1, 64},
                      {32, 16, 2, 64},
                      {32, 16, 2, 64},
                      {2},
                      {3, 8},
                      {3, 8, 1, 64}},
               pagedDecodeNames);
  EXPECT_NE(e.find("one cache length per sequence of the batch, but "
                   "cache_lengths.dim0 = 2 and query.dim0 = 3"),
            std::string::npos)
      << e;
  // A grid dim past CUDA's limits: the batch is grid z (at most 65535).
  e = runError(*contiguous.decode, contiguous.decodeTypes,
               Shapes{{70000, 8, 1, 64},
                      {70000, 2, 128, 64},
                      {70000, 2, 128, 64},
                      {70000},
                      {70000, 8, 1, 64}},
               decodeNames);
  EXPECT_NE(e.find("grid z = query.dim0 = 70000 is outside CUDA's [1, 65535]"),
            std::string::npos)
      << e;
  // An empty batch.
  e = runError(*contiguous.append, contiguous.appendTypes,
               Shapes{{0, 2, 1, 64},
                      {0, 2, 1, 64},
                      {0, 2, 128, 64},
                      {0, 2, 128, 64},
                      {0},
                      {0}},
               appendNames);
  EXPECT_NE(e.find("run-time size key.dim0 = 0"), std::string::npos) << e;
}

/// A page-count mismatch between the K and V pools of a `?`-page kernel.
TEST(KvCacheDeviceDynamic, PageCountMismatchIsAnError) {
  rt::DType bf16 = rt::DType::BF16;
  kv::KernelBufferType query{bf16, {Q, 8, 1, 64}, true};
  kv::KernelBufferType pool{bf16, {Q, 2, 16, 64}, false};
  kv::KernelBufferType lengths{rt::DType::I32, {Q}, false};
  kv::KernelBufferType table{rt::DType::I32, {Q, Q}, false};
  llvm::SmallVector<kv::KernelBufferType> types = {query,   pool,  pool,
                                                   lengths, table, query};
  kv::CacheKernels cache;
  auto k = cache.getCuda(
      "cache_attention",
      kv::attentionKernelSource(types, true, false, {}, PageLayout::HND), types,
      {});
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  using Shapes = llvm::SmallVector<llvm::SmallVector<int64_t, 4>>;
  std::string e = runError(**k, types,
                           Shapes{{2, 8, 1, 64},
                                  {40, 2, 16, 64},
                                  {39, 2, 16, 64},
                                  {2},
                                  {2, 5},
                                  {2, 8, 1, 64}},
                           {"query", "key_cache", "value_cache",
                            "cache_lengths", "block_table", "output"});
  EXPECT_NE(e.find("the key and value pools have the same page count, but "
                   "value_cache.dim0 = 39 and key_cache.dim0 = 40"),
            std::string::npos)
      << e;
  // Good sizes get as far as the device.
  std::string why;
  if (haveDevice(why))
    return;
  e = runError(**k, types,
               Shapes{{2, 8, 1, 64},
                      {40, 2, 16, 64},
                      {40, 2, 16, 64},
                      {2},
                      {2, 5},
                      {2, 8, 1, 64}},
               {"query", "key_cache", "value_cache", "cache_lengths",
                "block_table", "output"});
  EXPECT_EQ(e.rfind("no CUDA device: ", 0), 0u) << e;
}

/// The checks are part of the launch plan the disk cache stores: a kernel
/// loaded by another process reports the same errors.
TEST(KvCacheDeviceDynamic, ChecksSurviveTheDiskCache) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("attn-kv-dyn", dir));
  rt::DType bf16 = rt::DType::BF16;
  kv::KernelBufferType rows{bf16, {Q, 2, Q, 64}, true};
  kv::KernelBufferType slots{bf16, {Q, 2, 128, 64}, false};
  kv::KernelBufferType lengths{rt::DType::I32, {Q}, false};
  llvm::SmallVector<kv::KernelBufferType> types = {rows,  rows,    slots,
                                                   slots, lengths, lengths};
  auto compile = [&](kv::CacheKernels &cache) {
    auto k =
        cache.getCuda("cache_append", kv::appendKernelSource(types), types, {});
    EXPECT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    return k ? *k : nullptr;
  };
  {
    kv::CacheKernels first(std::string(dir), uint64_t(1) << 30);
    ASSERT_NE(compile(first), nullptr);
    EXPECT_EQ(first.stats().compiles, 1);
  }
  kv::CacheKernels second(std::string(dir), uint64_t(1) << 30);
  kv::GpuCacheKernelRef loaded = compile(second);
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(second.stats().diskHits, 1);
  EXPECT_EQ(second.stats().compiles, 0);
  using Shapes = llvm::SmallVector<llvm::SmallVector<int64_t, 4>>;
  std::string e = runError(*loaded, types,
                           Shapes{{3, 2, 5, 64},
                                  {3, 2, 5, 64},
                                  {3, 2, 128, 64},
                                  {3, 2, 128, 64},
                                  {3},
                                  {2}},
                           {"key", "value", "key_cache", "value_cache",
                            "cache_lengths", "new_lengths"});
  EXPECT_NE(e.find("one new length per sequence of the batch, but "
                   "new_lengths.dim0 = 2 and key.dim0 = 3"),
            std::string::npos)
      << e;
  llvm::sys::fs::remove_directories(dir);
}

struct LoopCase {
  const char *name;
  bool paged;
  PageLayout layout;
  ElementType dtype;
  int64_t hq, hkv, d;
};

void PrintTo(const LoopCase &c, std::ostream *os) { *os << c.name; }

/// A cache of `pages` pages of 16 tokens, `pagesPerSeq` per sequence and
/// `seqs` sequences, or a contiguous one of `seqs` slots of `maxLen`.
struct CacheSizes {
  int64_t pages, pagesPerSeq, seqs, maxLen;
};

std::unique_ptr<kv::KvCache> makeCache(bool paged, PageLayout layout,
                                       ElementType dtype, int64_t hkv,
                                       int64_t d, CacheSizes n,
                                       rt::MemorySpace memory) {
  if (paged) {
    kv::PagedKvCacheConfig c;
    c.numPages = n.pages;
    c.pageSize = 16;
    c.maxPagesPerSeq = n.pagesPerSeq;
    c.maxSequences = n.seqs;
    c.numKvHeads = hkv;
    c.headDim = d;
    c.dtype = dtype;
    c.pageLayout = layout;
    c.memory = memory;
    return cantFail(kv::PagedKvCache::create(c));
  }
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = n.seqs;
  c.maxSeqLen = n.maxLen;
  c.numKvHeads = hkv;
  c.headDim = d;
  c.dtype = dtype;
  c.memory = memory;
  return cantFail(kv::ContiguousKvCache::create(c));
}

std::unique_ptr<kv::KvCache> makeLoopCache(const LoopCase &p,
                                           rt::MemorySpace memory) {
  return makeCache(p.paged, p.layout, p.dtype, p.hkv, p.d, {64, 12, 6, 192},
                   memory);
}

class KvCacheDeviceDynamicLoop : public ::testing::TestWithParam<LoopCase> {};

/// Sequences join and leave a running batch: ragged odd-length prefill
/// chunks, decode steps of several batch compositions, each step checked
/// against the float64 reference; after the first step of each kind (a
/// append, a chunked-prefill and a decode attention) nothing compiles.
TEST_P(KvCacheDeviceDynamicLoop, OneKernelPerKindMatchesReference) {
  std::string why;
  if (!haveDevice(why))
    GTEST_SKIP() << why;
  const LoopCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto device = makeLoopCache(p, rt::MemorySpace::Device);
  auto host = makeLoopCache(p, rt::MemorySpace::Host);
  kv::KvStepper gpu(*device, sharedRuntime());
  ASSERT_TRUE(gpu.onDevice());
  ASSERT_TRUE(gpu.runTimeSizes());
  kv::KvStepper reference = referenceStepper(*host);
  rt::DType t = dtypeOf(p.dtype);
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;
  std::vector<SeqId> live;
  auto join = [&] {
    SeqId id = get(device->addSequence());
    ASSERT_EQ(get(host->addSequence()), id);
    live.push_back(id);
  };
  auto leave = [&](size_t i) {
    ASSERT_TRUE(ok(device->freeSequence(live[i])));
    ASSERT_TRUE(ok(host->freeSequence(live[i])));
    live.erase(live.begin() + i);
  };
  auto append = [&](const std::vector<SeqId> &ids, int64_t snew,
                    std::vector<int32_t> counts) {
    int64_t n = int64_t(ids.size());
    appendBoth(gpu, *device, reference, *host, ids, t, {n, p.hkv, snew, p.d},
               counts, rng);
  };
  auto attend = [&](const std::vector<SeqId> &ids, int64_t sq) {
    int64_t n = int64_t(ids.size());
    HostTensor q(t, {n, p.hq, sq, p.d});
    q.fillRandom(rng);
    HostTensor got(t, {n, p.hq, sq, p.d}), want(t, {n, p.hq, sq, p.d});
    got.fill(std::nan(""));
    ASSERT_TRUE(ok(gpu.decodeStep(ids, q.ref, got.ref, causal)));
    ASSERT_TRUE(ok(reference.decodeStep(ids, q.ref, want.ref, causal)));
    expectCloseTo(got, want, nullptr, nullptr, t);
  };

  for (int i = 0; i < 3; ++i)
    join();
  // First step of each kind: the kernels compile here.
  append(live, 37, {37, 21, 5});
  attend(live, 5);
  append(live, 1, {});
  attend(live, 1);
  // One append kernel (Snew is `?` for chunks and decode alike), the
  // chunked-prefill (Sq = ?) and the decode (Sq = 1) attention.
  int64_t compiled = gpu.kernels().stats().compiles;
  EXPECT_EQ(compiled, 3);
  // Continuous batching: new sequences prefill in odd chunks while the
  // others decode; sequences leave; batch sizes 1..5.
  join();
  join();
  append({live[3], live[4]}, 19, {19, 11});
  attend({live[3], live[4]}, 3);
  for (int step = 0; step < 3; ++step) {
    append(live, 1, {});
    attend(live, 1);
  }
  // Contiguous caches step consecutive slots: leave at the ends.
  leave(live.size() - 1);
  append({live[0]}, 1, {});
  attend({live[0]}, 1);
  append(live, 13, {13, 1, 7, 13});
  attend(live, 7);
  leave(0);
  for (int step = 0; step < 2; ++step) {
    append(live, 1, {});
    attend(live, 1);
  }
  EXPECT_EQ(gpu.kernels().stats().compiles, compiled)
      << "a step after the first of its kind compiled";
}

INSTANTIATE_TEST_SUITE_P(
    Caches, KvCacheDeviceDynamicLoop,
    ::testing::Values(LoopCase{"PagedNhdBf16Gqa4", true, PageLayout::NHD,
                               ElementType::BF16, 8, 2, 64},
                      LoopCase{"PagedHndF16Gqa7", true, PageLayout::HND,
                               ElementType::F16, 14, 2, 128},
                      LoopCase{"ContiguousBf16Gqa7", false, PageLayout::NHD,
                               ElementType::BF16, 7, 1, 128},
                      LoopCase{"ContiguousF16Gqa4", false, PageLayout::NHD,
                               ElementType::F16, 8, 2, 64}),
    [](const auto &info) { return std::string(info.param.name); });

/// One long-context case: a cache large enough for 70001 tokens.
struct LongCase {
  const char *name;
  bool paged;
  ElementType dtype;
  int64_t hq, hkv, d;
};

void PrintTo(const LongCase &c, std::ostream *os) { *os << c.name; }

/// Room for 70001 tokens (70400) in each of 3 sequences.
std::unique_ptr<kv::KvCache> makeLongCache(const LongCase &p,
                                           rt::MemorySpace memory) {
  return makeCache(p.paged, PageLayout::NHD, p.dtype, p.hkv, p.d,
                   {4600, 4400, 3, 70400}, memory);
}

class KvCacheDeviceDynamicSplits : public ::testing::TestWithParam<LongCase> {};

/// Decode over long contexts with small batches, where the kernels of
/// run-time sizes split the KV range per call: a ragged batch (70001
/// tokens, an empty sequence, 1003 tokens), then each sequence alone, split
/// (the default) and unsplit (kv-splits=1), against the float64 reference;
/// the empty sequence gives exact zeros and an lse of -inf.
TEST_P(KvCacheDeviceDynamicSplits, LongContextDecodeMatchesReference) {
  std::string why;
  if (!haveDevice(why))
    GTEST_SKIP() << why;
  const LongCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto device = makeLongCache(p, rt::MemorySpace::Device);
  auto host = makeLongCache(p, rt::MemorySpace::Host);
  kv::KvStepper split(*device, sharedRuntime());
  kv::StepOptions one;
  one.gpu.gpuKvSplits = 1;
  kv::KvStepper unsplit(*device, sharedRuntime(), one);
  ASSERT_TRUE(split.runTimeSizes() && unsplit.runTimeSizes());
  kv::KvStepper reference = referenceStepper(*host);
  rt::DType t = dtypeOf(p.dtype);
  std::vector<SeqId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(get(device->addSequence()));
    ASSERT_EQ(get(host->addSequence()), ids.back());
  }
  appendBoth(split, *device, reference, *host, ids, t, {3, p.hkv, 70001, p.d},
             {70001, 0, 1003}, rng);
  auto attend = [&](const std::vector<SeqId> &seqs) {
    int64_t n = int64_t(seqs.size());
    HostTensor q(t, {n, p.hq, 1, p.d});
    q.fillRandom(rng);
    HostTensor want(t, {n, p.hq, 1, p.d});
    HostTensor wantLse(rt::DType::F32, {n, p.hq, 1});
    ASSERT_TRUE(
        ok(reference.decodeStep(seqs, q.ref, want.ref, {}, &wantLse.ref)));
    for (kv::KvStepper *s : {&split, &unsplit}) {
      HostTensor got(t, {n, p.hq, 1, p.d});
      HostTensor gotLse(rt::DType::F32, {n, p.hq, 1});
      got.fill(std::nan(""));
      ASSERT_TRUE(ok(s->decodeStep(seqs, q.ref, got.ref, {}, &gotLse.ref)));
      expectCloseTo(got, want, &gotLse, &wantLse, t);
      for (int64_t b = 0; b < n; ++b) {
        if (get(host->length(seqs[b])) != 0)
          continue;
        for (int64_t i = 0; i < p.hq * p.d; ++i)
          ASSERT_EQ(got.at(b * p.hq * p.d + i), 0.0) << "empty sequence";
        for (int64_t h = 0; h < p.hq; ++h)
          ASSERT_EQ(gotLse.at(b * p.hq + h),
                    -std::numeric_limits<double>::infinity());
      }
    }
  };
  attend(ids);
  for (SeqId id : ids)
    attend({id});
  // One more token each (the empty sequence starts), then decode again.
  appendBoth(split, *device, reference, *host, ids, t, {3, p.hkv, 1, p.d}, {},
             rng);
  attend(ids);
}

INSTANTIATE_TEST_SUITE_P(
    Caches, KvCacheDeviceDynamicSplits,
    ::testing::Values(
        LongCase{"PagedBf16Gqa4", true, ElementType::BF16, 8, 2, 64},
        LongCase{"ContiguousF16Gqa7", false, ElementType::F16, 14, 2, 128}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
