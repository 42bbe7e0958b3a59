//===- KvCacheTestUtils.h - shared pieces of the KV-cache tests -*- C++ -*-===//
#ifndef ATTN_TEST_UNIT_KVCACHETESTUTILS_H
#define ATTN_TEST_UNIT_KVCACHETESTUTILS_H

#include "runtime/Check.h"
#include "runtime/HalfFloat.h"
#include "runtime/Reference.h"
#include "runtime/cuda/CudaDriver.h"
#include "runtime/kvcache/CacheReference.h"
#include "runtime/kvcache/ContiguousKvCache.h"
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"
#include "test/unit/RuntimeTestUtils.h"

#include "gtest/gtest.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace kv_test {

namespace kv = mlir::attn::kv;
namespace rt = mlir::attn::rt;
using kv::SeqId;
using mlir::attn::ElementType;
using mlir::attn::PageLayout;

// Shared with the runtime tests: one leaked runtime per process, the
// seed rule and the error-message helpers.
using attn_test::errorOf;
using attn_test::sharedRuntime;
using attn_test::testSeed;

/// True when a CUDA device is usable; otherwise `why` says why not.
inline bool haveDevice(std::string &why) {
  auto d = mlir::attn::cuda::Driver::get();
  if (d)
    return true;
  why = llvm::toString(d.takeError());
  return false;
}

/// A stepper running the float64 reference.
inline kv::KvStepper referenceStepper(kv::KvCache &cache) {
  return kv::KvStepper(cache, sharedRuntime(),
                       {kv::StepBackend::Reference, {}, {}});
}

inline bool ok(llvm::Error e) {
  if (!e)
    return true;
  ADD_FAILURE() << llvm::toString(std::move(e));
  return false;
}

template <typename T> T get(llvm::Expected<T> e) {
  if (!e) {
    ADD_FAILURE() << llvm::toString(e.takeError());
    return T();
  }
  return std::move(*e);
}

/// An owned host tensor.
struct HostTensor {
  std::vector<uint8_t> bytes;
  rt::BufferRef ref;

  HostTensor() = default;
  HostTensor(rt::DType dtype, llvm::ArrayRef<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    bytes.assign(n * rt::dtypeBytes(dtype), 0);
    ref = rt::BufferRef::contiguous(bytes.data(), dtype, shape);
  }
  HostTensor(const HostTensor &o) : bytes(o.bytes), ref(o.ref) {
    ref.data = bytes.data();
  }
  HostTensor &operator=(const HostTensor &o) {
    bytes = o.bytes;
    ref = o.ref;
    ref.data = bytes.data();
    return *this;
  }
  int64_t size() const { return ref.numElements(); }
  double at(int64_t i) const { return rt::loadAsDouble(ref, i); }
  void set(int64_t i, double v) { kv::storeFromDouble(ref, i, v); }
  /// N(0, 1), rounded to the dtype.
  void fillRandom(std::mt19937_64 &rng) {
    std::normal_distribution<double> dist;
    for (int64_t i = 0; i < size(); ++i)
      set(i, dist(rng));
  }
  void fill(double v) {
    for (int64_t i = 0; i < size(); ++i)
      set(i, v);
  }
};

inline rt::DType dtypeOf(ElementType t) {
  switch (t) {
  case ElementType::F32:
    return rt::DType::F32;
  case ElementType::F16:
    return rt::DType::F16;
  case ElementType::BF16:
    return rt::DType::BF16;
  }
  return rt::DType::F32;
}

inline std::vector<uint8_t> bytesOf(const rt::BufferRef &b) {
  const uint8_t *p = static_cast<const uint8_t *>(b.data);
  return std::vector<uint8_t>(p, p + b.numElements() * rt::dtypeBytes(b.dtype));
}

inline std::vector<int32_t> intsOf(const rt::BufferRef &b) {
  const int32_t *p = static_cast<const int32_t *>(b.data);
  return std::vector<int32_t>(p, p + b.numElements());
}

/// Everything observable about a cache: a failing operation must leave it
/// equal.
struct CacheSnapshot {
  std::vector<uint8_t> keys, values;
  std::vector<int32_t> lengths, blockTable, freePages;
  std::vector<SeqId> live;
  std::vector<int64_t> capacities;
  bool operator==(const CacheSnapshot &) const = default;

  static CacheSnapshot of(const kv::KvCache &cache) {
    CacheSnapshot s;
    // Through readPools, so that device caches compare too.
    auto bytes = [](const rt::BufferRef &b) {
      return static_cast<size_t>(b.numElements() * rt::dtypeBytes(b.dtype));
    };
    s.keys.resize(bytes(cache.keyCache()));
    s.values.resize(bytes(cache.valueCache()));
    cache.readPools(s.keys.data(), s.values.data());
    s.lengths = intsOf(cache.lengths());
    s.live = cache.sequences();
    for (SeqId id : s.live)
      s.capacities.push_back(cantFail(cache.capacity(id)));
    if (auto *paged = llvm::dyn_cast_or_null<kv::PagedKvCache>(&cache)) {
      s.blockTable = intsOf(paged->blockTable());
      s.freePages.assign(paged->freePages().begin(), paged->freePages().end());
    }
    return s;
  }
};

/// Expects `op` to fail with a message containing `expected` and to leave
/// `cache` unchanged.
template <typename Fn>
void expectFailsUnchanged(kv::KvCache &cache, llvm::StringRef expected, Fn op) {
  CacheSnapshot before = CacheSnapshot::of(cache);
  std::string msg = errorOf(op());
  EXPECT_NE(msg.find(expected.str()), std::string::npos)
      << "message: " << msg << "\nexpected to contain: " << expected.str();
  EXPECT_TRUE(CacheSnapshot::of(cache) == before)
      << "the failing operation changed the cache (" << msg << ")";
}

inline std::unique_ptr<kv::PagedKvCache>
makePaged(int64_t numPages, int64_t pageSize, int64_t maxPagesPerSeq,
          int64_t maxSequences, int64_t hkv = 2, int64_t d = 8, int64_t dv = 0,
          ElementType dtype = ElementType::F32,
          PageLayout layout = PageLayout::NHD) {
  kv::PagedKvCacheConfig c;
  c.pageLayout = layout;
  c.numPages = numPages;
  c.pageSize = pageSize;
  c.maxPagesPerSeq = maxPagesPerSeq;
  c.maxSequences = maxSequences;
  c.numKvHeads = hkv;
  c.headDim = d;
  c.valueDim = dv;
  c.dtype = dtype;
  return cantFail(kv::PagedKvCache::create(c));
}

inline std::unique_ptr<kv::ContiguousKvCache>
makeContiguous(int64_t maxBatch, int64_t maxSeqLen, int64_t hkv = 2,
               int64_t d = 8, int64_t dv = 0,
               ElementType dtype = ElementType::F32) {
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = maxBatch;
  c.maxSeqLen = maxSeqLen;
  c.numKvHeads = hkv;
  c.headDim = d;
  c.valueDim = dv;
  c.dtype = dtype;
  return cantFail(kv::ContiguousKvCache::create(c));
}

/// Appends random rows of shape `shape` to `ids` through `a` (over cache
/// `ca`) and `b` (over `cb`); the pools must then be bit-equal.
inline void appendBoth(kv::KvStepper &a, kv::KvCache &ca, kv::KvStepper &b,
                       kv::KvCache &cb, llvm::ArrayRef<SeqId> ids, rt::DType t,
                       llvm::ArrayRef<int64_t> shape,
                       llvm::ArrayRef<int32_t> counts, std::mt19937_64 &rng) {
  HostTensor k(t, shape), v(t, shape);
  k.fillRandom(rng);
  v.fillRandom(rng);
  ASSERT_TRUE(ok(a.appendStep(ids, k.ref, v.ref, counts)));
  ASSERT_TRUE(ok(b.appendStep(ids, k.ref, v.ref, counts)));
  ASSERT_TRUE(CacheSnapshot::of(ca) == CacheSnapshot::of(cb))
      << "the device append differs from the reference";
}

/// Cumulative query offsets (B + 1 entries) of per-sequence query counts:
/// mixedStep's query_offsets.
inline std::vector<int32_t> queryOffsetsOf(llvm::ArrayRef<int32_t> counts) {
  std::vector<int32_t> offsets(counts.size() + 1, 0);
  std::partial_sum(counts.begin(), counts.end(), offsets.begin() + 1);
  return offsets;
}

/// A causal mask, with a left window when `windowLeft` >= 0.
inline kv::CacheAttentionOptions causalAttention(int64_t windowLeft = -1) {
  kv::CacheAttentionOptions o;
  o.mask.causal = true;
  o.mask.windowLeft = windowLeft;
  return o;
}

/// Normwise relative output error (runtime/Check.h's rule: an all-zero
/// reference demands zeros) and lse error of `out`/`lse` against the
/// wanted tensors; NaN fails. `lse` may be null.
inline void expectCloseTo(const HostTensor &out, const HostTensor &wantOut,
                          const HostTensor *lse, const HostTensor *wantLse,
                          rt::DType dtype) {
  rt::Tolerance tol = rt::toleranceFor(dtype);
  double maxRef = 0, maxErr = 0;
  for (int64_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out.at(i))) << "output[" << i << "]";
    maxRef = std::max(maxRef, std::abs(wantOut.at(i)));
    maxErr = std::max(maxErr, std::abs(out.at(i) - wantOut.at(i)));
  }
  EXPECT_LE(maxErr, tol.output * maxRef) << "normwise output error";
  if (!lse)
    return;
  for (int64_t i = 0; i < lse->size(); ++i) {
    double g = lse->at(i), w = wantLse->at(i);
    ASSERT_FALSE(std::isnan(g)) << "lse[" << i << "]";
    if (std::isinf(w)) {
      EXPECT_EQ(g, w) << "lse[" << i << "]";
      continue;
    }
    EXPECT_LE(std::abs(g - w) / std::max(1.0, std::abs(w)), tol.lse)
        << "lse[" << i << "]";
  }
}

} // namespace kv_test

#endif
