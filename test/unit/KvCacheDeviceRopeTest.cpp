//===- KvCacheDeviceRopeTest.cpp - rotary embedding on CUDA caches -------===//
//
// RoPE on append and on the query with the cache's pools in device memory
// (KvStepper through the CUDA kernels: the append kernel rotates the keys
// it writes, a rotation kernel the queries before the flash kernel). As in
// KvCacheRopeTest.cpp the oracle is a host cache (float64 reference, no
// RoPE) fed keys the test rotated itself with the textbook formula:
//   - key pool: within one unit of the dtype's rounding of the explicit
//     rotation (the kernel rotates in f32, the test in double, one rounding
//     to the cache's type each): |got - want| <= 2^-(p-1) |want| + 2^-20,
//     p = 11 (f16), 8 (bf16); values and lengths bit for bit;
//   - attention with rotated queries against the float64 attention over
//     the explicit cache with queries the test rotated: output normwise
//     within runtime/Check.h's tolerance (f16 2e-3, bf16 1.6e-2); lse
//     within sqrt(D) u (u = 2^-11 f16, 2^-8 bf16): the kernel rounds the
//     rotated queries to the cache's type (FlashAttention's rotary kernel
//     does too) and its keys are one rounding from the explicit ones, each
//     moving a score by at most ~sqrt(D) u for unit-normal rows.
// Errors: positions past the tables fail before the launch, naming the
// table, and change nothing (device pools included).
//
// Everywhere (no GPU): the rotating kernels compile for Target::Cuda to
// launch plans, tables of different lengths are a run-time size error
// before any device is touched, and the schedule runs on a host cache with
// the CPU kernels. Without a device the rest skips.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/cuda/CudaDriver.h"

#include <chrono>
#include <cmath>
#include <cstdlib>

using namespace kv_test;
using mlir::attn::kDynamicSize;
using mlir::attn::RopeStyle;

namespace {

#define REQUIRE_DEVICE()                                                       \
  do {                                                                         \
    std::string why_;                                                          \
    if (!haveDevice(why_))                                                     \
      GTEST_SKIP() << why_;                                                    \
  } while (0)

/// cos/sin tables [maxPos, r/2] of RoPE with base theta 10000.
struct Tables {
  HostTensor cos, sin;
  Tables(rt::DType t, int64_t maxPos, int64_t r)
      : cos(t, {maxPos, r / 2}), sin(t, {maxPos, r / 2}) {
    for (int64_t p = 0; p < maxPos; ++p)
      for (int64_t i = 0; i < r / 2; ++i) {
        double angle = p * std::pow(10000.0, -2.0 * i / r);
        cos.set(p * (r / 2) + i, std::cos(angle));
        sin.set(p * (r / 2) + i, std::sin(angle));
      }
  }
  kv::RotaryEmbedding rope(RopeStyle style) const {
    return {style, cos.ref, sin.ref};
  }
};

/// x[0:r] rotated by position `pos`, the formula written out.
void rotateExplicitly(std::vector<double> &x, int64_t pos, RopeStyle style,
                      int64_t r, const Tables &t) {
  std::vector<double> y = x;
  for (int64_t i = 0; i < r / 2; ++i) {
    int64_t a = style == RopeStyle::Interleaved ? 2 * i : i;
    int64_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + r / 2;
    double c = t.cos.at(pos * (r / 2) + i), s = t.sin.at(pos * (r / 2) + i);
    y[a] = x[a] * c - x[b] * s;
    y[b] = x[b] * c + x[a] * s;
  }
  x = y;
}

double unitRoundoff(rt::DType t) {
  return std::ldexp(1.0, t == rt::DType::F16 ? -10 : -7);
}

std::unique_ptr<kv::KvCache> makeCache(bool paged, PageLayout layout,
                                       ElementType dtype, int64_t hkv,
                                       int64_t d, rt::MemorySpace memory) {
  const int64_t n = 4, maxLen = 112, pageSize = 16;
  if (paged) {
    kv::PagedKvCacheConfig c;
    c.numPages = n * maxLen / pageSize;
    c.pageSize = pageSize;
    c.maxPagesPerSeq = maxLen / pageSize;
    c.maxSequences = n;
    c.numKvHeads = hkv;
    c.headDim = d;
    c.dtype = dtype;
    c.pageLayout = layout;
    c.memory = memory;
    return cantFail(kv::PagedKvCache::create(c));
  }
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = n;
  c.maxSeqLen = maxLen;
  c.numKvHeads = hkv;
  c.headDim = d;
  c.dtype = dtype;
  c.memory = memory;
  return cantFail(kv::ContiguousKvCache::create(c));
}

struct DeviceRopeCase {
  const char *name;
  bool paged;
  PageLayout layout;
  ElementType dtype;
  int64_t hq, hkv, d, rotaryDim;
  RopeStyle style;
  bool f32Tables; ///< else tables in the cache's type
  int64_t sq;     ///< queries per attention step (1: decode)
};

void PrintTo(const DeviceRopeCase &c, std::ostream *os) { *os << c.name; }

class KvCacheDeviceRope : public ::testing::TestWithParam<DeviceRopeCase> {};

/// The schedule below on a cache in `memory` (device: the CUDA kernels;
/// host: the CPU kernels, which checks the schedule and the oracle).
void rotatedStepsMatch(const DeviceRopeCase &p, rt::MemorySpace memory) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t n = 4;
  rt::DType t = dtypeOf(p.dtype);
  auto device = makeCache(p.paged, p.layout, p.dtype, p.hkv, p.d, memory);
  auto host =
      makeCache(p.paged, p.layout, p.dtype, p.hkv, p.d, rt::MemorySpace::Host);
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(device->addSequence()));
    ASSERT_EQ(get(host->addSequence()), ids.back());
  }
  kv::KvStepper gpu(*device, sharedRuntime());
  ASSERT_EQ(gpu.onDevice(), memory == rt::MemorySpace::Device);
  kv::KvStepper plain = referenceStepper(*host);
  Tables tables(p.f32Tables ? rt::DType::F32 : t, 112, p.rotaryDim);
  kv::RotaryEmbedding rope = tables.rope(p.style);
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;
  auto lengths = [&] { return intsOf(host->lengths()); };

  auto append = [&](int64_t snew, std::vector<int32_t> counts) {
    HostTensor k(t, {n, p.hkv, snew, p.d}), v(t, {n, p.hkv, snew, p.d});
    k.fillRandom(rng);
    v.fillRandom(rng);
    HostTensor rotated = k;
    std::vector<int32_t> before = lengths();
    std::vector<double> row(p.d);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t h = 0; h < p.hkv; ++h)
        for (int64_t r = 0; r < (counts.empty() ? snew : counts[b]); ++r) {
          int64_t at = ((b * p.hkv + h) * snew + r) * p.d;
          for (int64_t c = 0; c < p.d; ++c)
            row[c] = k.at(at + c);
          rotateExplicitly(row, before[b] + r, p.style, p.rotaryDim, tables);
          for (int64_t c = 0; c < p.d; ++c)
            rotated.set(at + c, row[c]);
        }
    ASSERT_TRUE(ok(gpu.appendStep(ids, k.ref, v.ref, counts, &rope)));
    ASSERT_TRUE(ok(plain.appendStep(ids, rotated.ref, v.ref, counts)));
    CacheSnapshot got = CacheSnapshot::of(*device),
                  want = CacheSnapshot::of(*host);
    ASSERT_EQ(got.values, want.values);
    ASSERT_EQ(got.lengths, want.lengths);
    rt::BufferRef gotPool = host->keyCache(), wantPool = host->keyCache();
    gotPool.data = got.keys.data();
    wantPool.data = want.keys.data();
    double u = unitRoundoff(t);
    for (int64_t i = 0; i < wantPool.numElements(); ++i) {
      double g = rt::loadAsDouble(gotPool, i),
             w = rt::loadAsDouble(wantPool, i);
      ASSERT_LE(std::abs(g - w), u * std::abs(w) + std::ldexp(1.0, -20))
          << "key pool element " << i << ": " << g << " vs " << w;
    }
  };
  auto attend = [&] {
    HostTensor q(t, {n, p.hq, p.sq, p.d}),
        qRotated(rt::DType::F32, q.ref.shape);
    q.fillRandom(rng);
    std::vector<int32_t> len = lengths();
    std::vector<double> row(p.d);
    for (int64_t i = 0; i < n * p.hq * p.sq; ++i) {
      int64_t b = i / (p.hq * p.sq), qi = i % p.sq;
      for (int64_t c = 0; c < p.d; ++c)
        row[c] = q.at(i * p.d + c);
      if (len[b] > 0)
        rotateExplicitly(row, len[b] - p.sq + qi, p.style, p.rotaryDim, tables);
      for (int64_t c = 0; c < p.d; ++c)
        qRotated.set(i * p.d + c, row[c]);
    }
    HostTensor out(t, {n, p.hq, p.sq, p.d}),
        lse(rt::DType::F32, {n, p.hq, p.sq});
    out.fill(std::nan(""));
    lse.fill(std::nan(""));
    ASSERT_TRUE(ok(
        gpu.decodeStep(ids, q.ref, out.ref, causal, &lse.ref, nullptr, &rope)));
    const kv::KvBatch *batch = get(host->prepareStep(ids, 0));
    ASSERT_NE(batch, nullptr);
    auto want = kv::referenceCacheAttention(batch->attentionOperands(),
                                            qRotated.ref, causal);
    ASSERT_TRUE(static_cast<bool>(want)) << llvm::toString(want.takeError());
    HostTensor wantOut(rt::DType::F32, out.ref.shape);
    for (int64_t i = 0; i < wantOut.size(); ++i)
      wantOut.set(i, want->output[i]);
    expectCloseTo(out, wantOut, nullptr, nullptr, t);
    double lseTol = std::sqrt(double(p.d)) * unitRoundoff(t) / 2;
    for (int64_t i = 0; i < lse.size(); ++i) {
      double g = lse.at(i), w = want->lse[i];
      ASSERT_FALSE(std::isnan(g)) << "lse[" << i << "]";
      if (std::isinf(w))
        EXPECT_EQ(g, w) << "lse[" << i << "]";
      else
        EXPECT_LE(std::abs(g - w), lseTol * std::max(1.0, std::abs(w)))
            << "lse[" << i << "]";
    }
  };

  // Ragged prefill chunks (a sequence of length 0 and one of length 1 for
  // decode; every sequence at least Sq long for chunks), then decode
  // steps crossing page boundaries, then a longer chunk.
  if (p.sq == 1)
    append(20, {0, 1, 20, 17});
  else
    append(20, {int32_t(p.sq), int32_t(p.sq + 1), 20, 17});
  attend();
  append(20, {0, 3, 20, 20});
  attend();
  for (int step = 0; step < 3; ++step) {
    append(1, {});
    attend();
  }
  append(37, {int32_t(p.sq), 37, 5, 29});
  attend();
  // One rotating append kernel and one rotating attention kernel.
  EXPECT_EQ(gpu.kernels().stats().compiles, 2);
}

TEST_P(KvCacheDeviceRope, RotatedAppendAndQueryMatchExplicitRotation) {
  REQUIRE_DEVICE();
  rotatedStepsMatch(GetParam(), rt::MemorySpace::Device);
}

TEST_P(KvCacheDeviceRope, HostScheduleMatchesExplicitRotation) {
  rotatedStepsMatch(GetParam(), rt::MemorySpace::Host);
}

constexpr auto NHD = PageLayout::NHD, HND = PageLayout::HND;
constexpr auto NeoX = RopeStyle::NeoX, Inter = RopeStyle::Interleaved;
constexpr auto BF16 = ElementType::BF16, F16 = ElementType::F16;

// Decode (sq = 1) runs mma.sync; chunks (run-time Sq: prefill geometry)
// run wgmma on sm_90a where the head dim is a multiple of 64.
INSTANTIATE_TEST_SUITE_P(
    Forms, KvCacheDeviceRope,
    ::testing::Values(DeviceRopeCase{"NeoxPagedNhdGqa4Bf16D128", true, NHD,
                                     BF16, 8, 2, 128, 128, NeoX, true, 1},
                      DeviceRopeCase{"InterleavedPagedHndGqa7F16D64Half", true,
                                     HND, F16, 7, 1, 64, 32, Inter, false, 1},
                      DeviceRopeCase{"NeoxPagedNhdGqa7F16D40Partial", true, NHD,
                                     F16, 14, 2, 40, 24, NeoX, false, 1},
                      DeviceRopeCase{"InterleavedContiguousGqa4Bf16D72", false,
                                     NHD, BF16, 8, 2, 72, 72, Inter, true, 1},
                      DeviceRopeCase{"NeoxContiguousGqa4F16D64HalfChunk", false,
                                     NHD, F16, 8, 2, 64, 32, NeoX, true, 4},
                      DeviceRopeCase{"InterleavedPagedHndGqa7Bf16D128Chunk",
                                     true, HND, BF16, 7, 1, 128, 128, Inter,
                                     false, 5},
                      DeviceRopeCase{"NeoxPagedHndMhaBf16D40Chunk", true, HND,
                                     BF16, 2, 2, 40, 40, NeoX, true, 3}),
    [](const ::testing::TestParamInfo<DeviceRopeCase> &i) {
      return i.param.name;
    });

TEST(KvCacheDeviceRopeErrors, PositionsPastTheTableFailAndChangeNothing) {
  REQUIRE_DEVICE();
  for (bool paged : {true, false}) {
    SCOPED_TRACE(paged ? "paged" : "contiguous");
    auto cache = makeCache(paged, NHD, BF16, 2, 64, rt::MemorySpace::Device);
    std::vector<SeqId> ids = {get(cache->addSequence()),
                              get(cache->addSequence())};
    kv::KvStepper steps(*cache, sharedRuntime());
    Tables tables(rt::DType::F32, 8, 64);
    kv::RotaryEmbedding rope = tables.rope(RopeStyle::NeoX);
    std::mt19937_64 rng(testSeed());
    HostTensor k(rt::DType::BF16, {2, 2, 6, 64});
    k.fillRandom(rng);
    ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, k.ref, {6, 2}, &rope)));
    // Sequence 0 would reach position 8 (6 + 3 - 1) in an 8-row table.
    HostTensor k3(rt::DType::BF16, {2, 2, 3, 64});
    k3.fillRandom(rng);
    expectFailsUnchanged(
        *cache,
        "appendStep: key positions of sequence 0 reach 8 but "
        "rotary_cos holds 8 positions",
        [&] { return steps.appendStep(ids, k3.ref, k3.ref, {}, &rope); });
    // A decode at length 6 with a 5-row table.
    HostTensor q(rt::DType::BF16, {2, 8, 1, 64}), out = q;
    q.fillRandom(rng);
    Tables five(rt::DType::F32, 5, 64);
    kv::RotaryEmbedding r5 = five.rope(RopeStyle::NeoX);
    std::vector<uint8_t> outBefore = bytesOf(out.ref);
    expectFailsUnchanged(
        *cache,
        "decodeStep: query positions of sequence 0 reach 5 but "
        "rotary_cos holds 5 positions",
        [&] {
          return steps.decodeStep(ids, q.ref, out.ref, {}, nullptr, nullptr,
                                  &r5);
        });
    EXPECT_EQ(bytesOf(out.ref), outBefore) << "the output was written";
  }
}

/// Not a test: with ATTN_ROPE_BENCH=1 on a device, the wall time of
/// KvStepper steps with and without RoPE (tables in device memory, K/V and
/// queries staged from the host as a serving loop does): 32 sequences of a
/// paged bf16 cache, Hkv 8, Hq 32, D 128, a 1024-token context, NeoX over
/// the whole head.
TEST(KvCacheDeviceRopeBench, StepTimes) {
  REQUIRE_DEVICE();
  if (!std::getenv("ATTN_ROPE_BENCH"))
    GTEST_SKIP() << "set ATTN_ROPE_BENCH=1 to time the steps";
  const int64_t n = 32, hkv = 8, hq = 32, d = 128, ctx = 1024, steps = 200;
  kv::PagedKvCacheConfig c;
  c.numPages = n * (ctx + steps + 64) / 16;
  c.pageSize = 16;
  c.maxPagesPerSeq = (ctx + steps + 64) / 16;
  c.maxSequences = n;
  c.numKvHeads = hkv;
  c.headDim = d;
  c.dtype = BF16;
  c.memory = rt::MemorySpace::Device;
  auto cache = cantFail(kv::PagedKvCache::create(c));
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i)
    ids.push_back(get(cache->addSequence()));
  kv::KvStepper stepper(*cache, sharedRuntime());
  Tables host(rt::DType::F32, ctx + 2 * steps + 64, d);
  namespace cuda = mlir::attn::cuda;
  cuda::Driver *driver = cantFail(cuda::Driver::get());
  size_t bytes = host.cos.size() * 4;
  auto dcos = cantFail(cuda::DeviceBuffer::create(*driver, bytes));
  auto dsin = cantFail(cuda::DeviceBuffer::create(*driver, bytes));
  ASSERT_TRUE(ok(driver->copyToDevice(dcos.get(), host.cos.ref.data, bytes)));
  ASSERT_TRUE(ok(driver->copyToDevice(dsin.get(), host.sin.ref.data, bytes)));
  kv::RotaryEmbedding rope{
      RopeStyle::NeoX,
      rt::BufferRef::device(dcos.get(), rt::DType::F32, host.cos.ref.shape),
      rt::BufferRef::device(dsin.get(), rt::DType::F32, host.sin.ref.shape)};
  std::mt19937_64 rng(1);
  HostTensor prefill(rt::DType::BF16, {n, hkv, ctx, d});
  prefill.fillRandom(rng);
  ASSERT_TRUE(ok(stepper.appendStep(ids, prefill.ref, prefill.ref, {}, &rope)));
  HostTensor k(rt::DType::BF16, {n, hkv, 1, d}),
      q(rt::DType::BF16, {n, hq, 1, d});
  k.fillRandom(rng);
  q.fillRandom(rng);
  HostTensor out = q;
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;
  auto time = [&](auto &&step) {
    EXPECT_TRUE(ok(step())); // compile and warm up
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < steps / 2; ++i)
      EXPECT_TRUE(ok(step()));
    auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::micro>(t1 - t0).count() /
           (steps / 2);
  };
  double appendPlain = 0, appendRope = 0, decodePlain = 0, decodeRope = 0;
  auto measure = [&] {
    appendPlain = time([&] { return stepper.appendStep(ids, k.ref, k.ref); });
    appendRope =
        time([&] { return stepper.appendStep(ids, k.ref, k.ref, {}, &rope); });
    decodePlain =
        time([&] { return stepper.decodeStep(ids, q.ref, out.ref, causal); });
    decodeRope = time([&] {
      return stepper.decodeStep(ids, q.ref, out.ref, causal, nullptr, nullptr,
                                &rope);
    });
  };
  measure();
  std::printf("rope-bench: H200 paged bf16 B=%lld Hkv=%lld Hq=%lld D=%lld "
              "ctx~%lld: appendStep plain %.1f us, rope %.1f us; "
              "decodeStep plain %.1f us, rope %.1f us (wall, per step)\n",
              (long long)n, (long long)hkv, (long long)hq, (long long)d,
              (long long)ctx, appendPlain, appendRope, decodePlain, decodeRope);
}

/// A host buffer of `shape` that is never read: run-time size checks look
/// at shapes only.
rt::BufferRef shapeOnly(rt::DType t, llvm::ArrayRef<int64_t> shape) {
  static char dummy[64];
  return rt::BufferRef::contiguous(dummy, t, shape);
}

/// Runs everywhere: the rotating kernels of a device stepper (run-time
/// sizes, tables [?, r/2]) compile to launch plans; cos and sin tables of
/// different lengths are an error naming them before anything is staged.
TEST(KvCacheDeviceRopeErrors, RotatingKernelsCompileAndCheckTheTables) {
  rt::DType bf16 = rt::DType::BF16;
  const int64_t Q = kDynamicSize;
  kv::KernelBufferType rows{bf16, {Q, 2, Q, 64}, true};
  kv::KernelBufferType lengths{rt::DType::I32, {Q}, false};
  kv::KernelBufferType pool{bf16, {32, 16, 2, 64}, false};
  kv::KernelBufferType table{rt::DType::I32, {Q, 8}, false};
  kv::KernelBufferType rope{rt::DType::F32, {Q, 16}, false};
  kv::KernelBufferType query{bf16, {Q, 8, Q, 64}, true};
  kv::CacheKernels kernels;
  llvm::SmallVector<kv::KernelBufferType> append = {
      rows, rows, pool, pool, lengths, lengths, table, rope, rope};
  auto a = kernels.getCuda(
      "cache_append",
      kv::appendKernelSource(append, NHD, RopeStyle::Interleaved), append, {});
  ASSERT_TRUE(static_cast<bool>(a)) << llvm::toString(a.takeError());
  EXPECT_NE((*a)->launchPlan().find("key.dim2"), std::string::npos)
      << (*a)->launchPlan();
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;
  llvm::SmallVector<kv::KernelBufferType> attn = {query, pool, pool, lengths,
                                                  table, rope, rope, query};
  auto d = kernels.getCuda(
      "cache_attention",
      kv::attentionKernelSource(attn, true, false, causal, NHD, false, NeoX),
      attn, {});
  ASSERT_TRUE(static_cast<bool>(d)) << llvm::toString(d.takeError());
  // The rotation kernel runs before the flash kernel.
  std::string plan = (*d)->launchPlan();
  EXPECT_LT(plan.find("rope_q"), plan.find("flash")) << plan;

  using Shapes = llvm::SmallVector<llvm::SmallVector<int64_t, 4>>;
  auto run = [&](const kv::GpuCacheKernel &k,
                 llvm::ArrayRef<kv::KernelBufferType> types,
                 const Shapes &shapes, llvm::ArrayRef<const char *> names) {
    std::vector<rt::BufferRef> bufs;
    std::vector<rt::GpuBufferUse> uses;
    for (auto [ty, s, name] : llvm::zip(types, shapes, names)) {
      bufs.push_back(shapeOnly(ty.dtype, s));
      uses.push_back({name, false});
    }
    return errorOf(k.run(bufs, uses));
  };
  std::string e =
      run(**a, append,
          Shapes{{2, 2, 3, 64},
                 {2, 2, 3, 64},
                 {32, 16, 2, 64},
                 {32, 16, 2, 64},
                 {2},
                 {2},
                 {2, 8},
                 {100, 16},
                 {99, 16}},
          {"key", "value", "key_cache", "value_cache", "cache_lengths",
           "new_lengths", "block_table", "rotary_cos", "rotary_sin"});
  EXPECT_NE(e.find("rotary_sin has as many positions as rotary_cos"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("rotary_sin.dim0"), std::string::npos) << e;
  e = run(**d, attn,
          Shapes{{2, 8, 1, 64},
                 {32, 16, 2, 64},
                 {32, 16, 2, 64},
                 {2},
                 {2, 8},
                 {64, 16},
                 {100, 16},
                 {2, 8, 1, 64}},
          {"query", "key_cache", "value_cache", "cache_lengths", "block_table",
           "rotary_cos", "rotary_sin", "output"});
  EXPECT_NE(e.find("rotary_sin has as many positions as rotary_cos"),
            std::string::npos)
      << e;
}

} // namespace
