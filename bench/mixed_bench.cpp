//===- mixed_bench.cpp - one mixed launch vs prefill + decode launches ----===//
//
// A continuous-batching step whose batch holds decode sequences (one new
// token each) and prefill sequences (a chunk of new tokens each, continuing
// a cached prefix), attended two ways in the same run, same threads:
// - two launches: attn.cache_attention over the decode sequences
//   (decodeStep, Sq = 1), then over the prefill sequences (decodeStep,
//   Sq = chunk), one after the other;
// - one mixed launch (KvStepper::mixedStep): the packed queries of the
//   whole batch with query_offsets, one work-item loop whose prefill blocks
//   start first and whose decode items fill the threads in.
// Both give the same attention (checked: the max |difference| is printed).
// The two ways alternate round by round; the ratio printed is the median
// of the rounds' ratios (the shared machine's load drifts).
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "bench/KvBenchUtil.h"
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

using namespace mlir::attn;
namespace bench = attn::bench;
using bench::Tensor;

static llvm::cl::opt<int64_t>
    decodes("decode", llvm::cl::desc("decode sequences"), llvm::cl::init(16));
static llvm::cl::opt<int64_t>
    context("context", llvm::cl::desc("cached tokens per decode sequence"),
            llvm::cl::init(2048));
static llvm::cl::opt<int64_t>
    prefills("prefill", llvm::cl::desc("prefill sequences"), llvm::cl::init(1));
static llvm::cl::opt<int64_t> chunk("chunk",
                                    llvm::cl::desc("new tokens per prefill"),
                                    llvm::cl::init(128));
static llvm::cl::opt<int64_t>
    prefix("prefix", llvm::cl::desc("cached tokens before each chunk"),
           llvm::cl::init(1024));
static llvm::cl::opt<std::string> dtype("dtype", llvm::cl::desc("f32 or bf16"),
                                        llvm::cl::init("bf16"));
static llvm::cl::opt<int64_t> queryHeads("hq", llvm::cl::desc("query heads"),
                                         llvm::cl::init(32));
static llvm::cl::opt<int64_t> kvHeads("hkv", llvm::cl::desc("K/V heads"),
                                      llvm::cl::init(8));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(10));

namespace {

constexpr int64_t kDim = 128, kPage = 16;

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "mixed prefill + decode benchmark\n");
  ElementType et = dtype == "f32" ? ElementType::F32 : ElementType::BF16;
  rt::DType t = et == ElementType::F32 ? rt::DType::F32 : rt::DType::BF16;
  int64_t nd = decodes, np = prefills, c = chunk, n = nd + np;
  const int64_t kHq = queryHeads, kHkv = kvHeads;
  int64_t longest = std::max<int64_t>(context + 1, prefix + c);
  std::mt19937_64 rng(1);
  rt::Runtime runtime;
  kv::PagedKvCacheConfig cfg;
  cfg.pageSize = kPage;
  cfg.maxPagesPerSeq = (longest + kPage - 1) / kPage;
  cfg.numPages = n * cfg.maxPagesPerSeq;
  cfg.maxSequences = n;
  cfg.numKvHeads = kHkv;
  cfg.headDim = kDim;
  cfg.dtype = et;
  auto cache = bench::orDie(kv::PagedKvCache::create(cfg), "cache");
  // Decode sequences first, then the prefill ones.
  std::vector<kv::SeqId> ids, decodeIds, prefillIds;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(bench::orDie(cache->addSequence(), "sequence"));
    (i < nd ? decodeIds : prefillIds).push_back(ids.back());
  }
  kv::KvStepper steps(*cache, runtime);

  // History in chunks of 256 rows, then the step's new tokens (1 per decode
  // sequence, `chunk` per prefill one). The values do not matter.
  constexpr int64_t kRows = 256;
  std::vector<int32_t> rows(n);
  for (int64_t done = 0; done < longest; done += kRows) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t want = i < nd ? context : prefix;
      rows[i] =
          static_cast<int32_t>(std::clamp<int64_t>(want - done, 0, kRows));
    }
    Tensor k(t, {n, kHkv, kRows, kDim}, rng), v(t, {n, kHkv, kRows, kDim}, rng);
    bench::orDie(steps.appendStep(ids, k.ref, v.ref, rows), "history");
  }
  std::vector<int32_t> counts(n), offsets(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    counts[i] = static_cast<int32_t>(i < nd ? 1 : c);
    offsets[i + 1] = offsets[i] + counts[i];
  }
  Tensor k(t, {n, kHkv, c, kDim}, rng), v(t, {n, kHkv, c, kDim}, rng);
  bench::orDie(steps.appendStep(ids, k.ref, v.ref, counts), "new tokens");

  // The same queries both ways: packed [T, Hq, D] for the mixed launch,
  // [nd, Hq, 1, D] and [np, Hq, chunk, D] for the two launches.
  int64_t rowsT = offsets.back(), esize = rt::dtypeBytes(t);
  Tensor q(t, {rowsT, kHq, kDim}, rng), out(t, {rowsT, kHq, kDim}, rng);
  Tensor qd(t, {nd, kHq, 1, kDim}, rng), od(t, {nd, kHq, 1, kDim}, rng);
  Tensor qp(t, {np, kHq, c, kDim}, rng), op(t, {np, kHq, c, kDim}, rng);
  auto packedRow = [&](int64_t seq, int64_t i, int64_t h) {
    return ((offsets[seq] + i) * kHq + h) * kDim * esize;
  };
  for (int64_t s = 0; s < n; ++s)
    for (int64_t h = 0; h < kHq; ++h)
      for (int64_t i = 0; i < counts[s]; ++i) {
        uint8_t *dst = s < nd
                           ? qd.bytes.data() + (s * kHq + h) * kDim * esize
                           : qp.bytes.data() +
                                 (((s - nd) * kHq + h) * c + i) * kDim * esize;
        std::memcpy(dst, q.bytes.data() + packedRow(s, i, h), kDim * esize);
      }
  kv::CacheAttentionOptions o;
  o.mask.causal = true;
  auto runDecode = [&] {
    if (nd > 0)
      bench::orDie(steps.decodeStep(decodeIds, qd.ref, od.ref, o),
                   "decode launch");
  };
  auto runPrefill = [&] {
    if (np > 0)
      bench::orDie(steps.decodeStep(prefillIds, qp.ref, op.ref, o),
                   "prefill launch");
  };
  auto runTwo = [&] {
    runDecode();
    runPrefill();
  };
  auto runMixed = [&] {
    bench::orDie(steps.mixedStep(ids, q.ref, offsets, out.ref, o),
                 "mixed launch");
  };
  double decodeMs = bench::medianMs(runDecode, reps);
  double prefillMs = bench::medianMs(runPrefill, reps);
  // The two ways alternate, so that a change of the machine's load hits
  // both; the ratio is the median of the per-round ratios.
  runTwo();
  runMixed();
  std::vector<double> two, mixed, ratio;
  for (int r = 0; r < reps; ++r) {
    two.push_back(bench::medianMs(runTwo, 1, 0));
    mixed.push_back(bench::medianMs(runMixed, 1, 0));
    ratio.push_back(two.back() / mixed.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double twoMs = median(two), mixedMs = median(mixed);
  double maxDiff = 0;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t h = 0; h < kHq; ++h)
      for (int64_t i = 0; i < counts[s]; ++i)
        for (int64_t d = 0; d < kDim; ++d) {
          int64_t e = packedRow(s, i, h) / esize + d;
          int64_t f = s < nd ? (s * kHq + h) * kDim + d
                             : (((s - nd) * kHq + h) * c + i) * kDim + d;
          double two = rt::loadAsDouble(s < nd ? od.ref : op.ref, f);
          maxDiff =
              std::max(maxDiff, std::abs(rt::loadAsDouble(out.ref, e) - two));
        }
  std::printf("mixed batch %lld decode (context %lld) + %lld prefill (chunk "
              "%lld after %lld) hq%lld hkv%lld d%lld %s, %u threads: two "
              "launches %.2f ms (decode %.2f + prefill %.2f), one mixed "
              "launch %.2f ms: %.2fx; max |two - mixed| %.2g\n",
              (long long)nd, (long long)context.getValue(), (long long)np,
              (long long)c, (long long)prefix.getValue(), (long long)kHq,
              (long long)kHkv, (long long)kDim, dtype.c_str(),
              runtime.numThreads(), twoMs, decodeMs, prefillMs, mixedMs,
              median(ratio), maxDiff);
  return 0;
}
