//===- cpu_decode_bench.cpp - decode over a paged KV cache vs copy bandwidth
//===//
//
// One run measures memcpy bandwidth (read + write, the ceiling for a
// memory-bound kernel) and attn's compiled decode step (attn.cache_attention
// over a paged cache, GQA hq=32 hkv=8 d=128) for f32 and bf16 storage,
// batch 1 and 16 at 4k keys, and batch 1 at 1k..64k keys (cost must grow
// linearly). Bytes counted: the K and V rows read, plus q and output.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "runtime/HalfFloat.h"
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <random>
#include <thread>
#include <vector>

using namespace mlir::attn;
namespace bench = attn::bench;

static llvm::cl::opt<unsigned> threads("bench-threads",
                                       llvm::cl::desc("threads (0: all)"),
                                       llvm::cl::init(0));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(20));
static llvm::cl::opt<bool> quick("quick",
                                 llvm::cl::desc("small sizes (smoke test)"),
                                 llvm::cl::init(false));

namespace {

constexpr int64_t kHq = 32, kHkv = 8, kDim = 128, kPage = 16;

/// Random elements of `dtype` as raw bytes (f32, or bf16 as uint16).
std::vector<uint16_t> randomBuffer(int64_t n, ElementType dtype,
                                   std::mt19937 &rng) {
  std::normal_distribution<float> nd;
  int64_t words = dtype == ElementType::F32 ? 2 * n : n;
  std::vector<uint16_t> out(words);
  if (dtype == ElementType::F32) {
    auto *f = reinterpret_cast<float *>(out.data());
    for (int64_t i = 0; i < n; ++i)
      f[i] = nd(rng);
  } else {
    for (int64_t i = 0; i < n; ++i)
      out[i] = rt::floatToBFloat(nd(rng));
  }
  return out;
}

rt::DType toDType(ElementType t) {
  return t == ElementType::F32 ? rt::DType::F32 : rt::DType::BF16;
}

struct Row {
  double ms, gbps;
};

llvm::Expected<Row> decodeCase(rt::Runtime &runtime, int64_t batch, int64_t len,
                               ElementType dtype) {
  std::mt19937 rng(7);
  kv::PagedKvCacheConfig cfg;
  cfg.pageSize = kPage;
  cfg.maxPagesPerSeq = len / kPage;
  cfg.numPages = batch * cfg.maxPagesPerSeq;
  cfg.maxSequences = batch;
  cfg.numKvHeads = kHkv;
  cfg.headDim = kDim;
  cfg.dtype = dtype;
  auto cache = kv::PagedKvCache::create(cfg);
  if (!cache)
    return cache.takeError();
  std::vector<kv::SeqId> seqs;
  for (int64_t b = 0; b < batch; ++b) {
    auto id = (*cache)->addSequence();
    if (!id)
      return id.takeError();
    seqs.push_back(*id);
  }
  kv::KvStepper steps(**cache, runtime);
  // Fill the cache with `len` rows per sequence (one prefill append).
  int64_t rows = batch * kHkv * len * kDim;
  auto k = randomBuffer(rows, dtype, rng), v = randomBuffer(rows, dtype, rng);
  rt::DType dt = toDType(dtype);
  if (llvm::Error e = steps.appendStep(
          seqs,
          rt::BufferRef::contiguous(k.data(), dt, {batch, kHkv, len, kDim}),
          rt::BufferRef::contiguous(v.data(), dt, {batch, kHkv, len, kDim})))
    return std::move(e);
  auto q = randomBuffer(batch * kHq * kDim, dtype, rng);
  std::vector<uint16_t> out(q.size());
  auto qRef = rt::BufferRef::contiguous(q.data(), dt, {batch, kHq, 1, kDim});
  auto oRef = rt::BufferRef::contiguous(out.data(), dt, {batch, kHq, 1, kDim});
  kv::CacheAttentionOptions opts;
  opts.mask.causal = true;
  llvm::Error runError = llvm::Error::success();
  double ms = bench::medianMs(
      [&] {
        if (llvm::Error e = steps.decodeStep(seqs, qRef, oRef, opts))
          runError = std::move(e);
      },
      reps);
  if (runError)
    return std::move(runError);
  double elt = dtype == ElementType::F32 ? 4 : 2;
  double bytes = double(batch) * len * kHkv * 2 * kDim * elt +
                 2.0 * batch * kHq * kDim * elt;
  return Row{ms, bytes / ms / 1e6};
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv, "attn CPU decode benchmark\n");
  unsigned nThreads = threads ? threads : std::thread::hardware_concurrency();
  double copy = bench::copyGBps(int64_t(256) << 20, nThreads);
  rt::RuntimeOptions ro;
  ro.numThreads = nThreads;
  rt::Runtime runtime(ro);
  std::printf("threads %u; memcpy 256 MiB: %.1f GB/s (read + write)\n",
              nThreads, copy);
  std::printf("decode GQA hq=%lld hkv=%lld d=%lld, paged cache (page %lld), "
              "causal, Sq=1\n",
              (long long)kHq, (long long)kHkv, (long long)kDim,
              (long long)kPage);
  std::printf("%-6s %5s %7s %10s %9s %8s %12s\n", "dtype", "batch", "kv", "ms",
              "GB/s", "/copy", "us/1k tokens");
  struct Case {
    int64_t batch, len;
  };
  std::vector<Case> cases = {
      {1, 4096}, {16, 4096}, {1, 1024}, {1, 16384}, {1, 65536}};
  if (quick)
    cases = {{1, 256}, {4, 512}};
  for (ElementType dtype : {ElementType::F32, ElementType::BF16}) {
    for (const Case &c : cases) {
      auto row = decodeCase(runtime, c.batch, c.len, dtype);
      if (!row) {
        llvm::errs() << "decode b=" << c.batch << " kv=" << c.len << ": "
                     << llvm::toString(row.takeError()) << "\n";
        return 1;
      }
      std::printf("%-6s %5lld %7lld %10.3f %9.2f %8.2f %12.2f\n",
                  stringifyElementType(dtype), (long long)c.batch,
                  (long long)c.len, row->ms, row->gbps, row->gbps / copy,
                  1000.0 * row->ms / (c.batch * c.len / 1000.0));
    }
  }
  return 0;
}
