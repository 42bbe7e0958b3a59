//===- cascade_bench.cpp - cascade decode vs plain paged decode -----------===//
//
// A batch of sequences sharing one long prefix (a system prompt), each with
// a short suffix of its own, decoded two ways in the same run:
// - plain: every sequence holds prefix + suffix in a paged cache and one
//   attn.cache_attention reads all of it (the prefix B times);
// - cascade (kv::CascadeDecoder): the batch's queries attend to the prefix
//   K/V once (one attn.attention, the B queries as rows of one sequence),
//   then to each suffix in a paged cache, merged with attn.merge_states.
// Both give the same attention (checked: the max |difference| is printed).
// The K/V bytes the plain step reads are printed as its bandwidth.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "bench/KvBenchUtil.h"
#include "runtime/kvcache/Cascade.h"
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
using bench::orDie;
using bench::Tensor;

static llvm::cl::opt<int64_t> batch("batch", llvm::cl::desc("sequences"),
                                    llvm::cl::init(64));
static llvm::cl::opt<int64_t> prefix("prefix",
                                     llvm::cl::desc("shared prefix tokens"),
                                     llvm::cl::init(2048));
static llvm::cl::opt<int64_t>
    suffix("suffix", llvm::cl::desc("tokens per suffix"), llvm::cl::init(64));
static llvm::cl::opt<std::string> dtype("dtype", llvm::cl::desc("f32 or bf16"),
                                        llvm::cl::init("bf16"));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(10));

namespace {

constexpr int64_t kHq = 32, kHkv = 8, kDim = 128, kPage = 16;

std::unique_ptr<kv::PagedKvCache> pagedCache(int64_t seqs, int64_t tokens,
                                             ElementType t) {
  kv::PagedKvCacheConfig c;
  c.pageSize = kPage;
  c.maxPagesPerSeq = (tokens + kPage) / kPage;
  c.numPages = seqs * c.maxPagesPerSeq;
  c.maxSequences = seqs;
  c.numKvHeads = kHkv;
  c.headDim = kDim;
  c.dtype = t;
  return bench::orDie(kv::PagedKvCache::create(c), "cache");
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv, "cascade decode benchmark\n");
  ElementType et = dtype == "f32" ? ElementType::F32 : ElementType::BF16;
  rt::DType t = et == ElementType::F32 ? rt::DType::F32 : rt::DType::BF16;
  int64_t b = batch, p = prefix, s = suffix;
  std::mt19937_64 rng(1);
  rt::Runtime runtime;
  auto plainCache = pagedCache(b, p + s, et),
       suffixCache = pagedCache(b, s, et);
  std::vector<kv::SeqId> plainIds, suffixIds;
  for (int64_t i = 0; i < b; ++i) {
    plainIds.push_back(orDie(plainCache->addSequence(), "sequence"));
    suffixIds.push_back(orDie(suffixCache->addSequence(), "sequence"));
  }
  kv::KvStepper plain(*plainCache, runtime), steps(*suffixCache, runtime);

  // The prefix goes into every plain sequence in chunks of one K/V tensor
  // (the same values each time; the benchmark does not look at them).
  Tensor pk(t, {1, kHkv, p, kDim}, rng), pv(t, {1, kHkv, p, kDim}, rng);
  constexpr int64_t kChunk = 256;
  for (int64_t j = 0; j < p; j += kChunk) {
    int64_t rows = std::min(kChunk, p - j);
    Tensor ck(t, {b, kHkv, rows, kDim}, rng), cv(t, {b, kHkv, rows, kDim}, rng);
    // Row r of every sequence is the prefix's row j + r.
    int64_t esize = rt::dtypeBytes(t);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t h = 0; h < kHkv; ++h) {
        size_t off = ((bi * kHkv + h) * rows) * kDim * esize;
        size_t src = (h * p + j) * kDim * esize;
        std::memcpy(ck.bytes.data() + off, pk.bytes.data() + src,
                    rows * kDim * esize);
        std::memcpy(cv.bytes.data() + off, pv.bytes.data() + src,
                    rows * kDim * esize);
      }
    orDie(plain.appendStep(plainIds, ck.ref, cv.ref), "prefix append");
  }
  Tensor sk(t, {b, kHkv, s, kDim}, rng), sv(t, {b, kHkv, s, kDim}, rng);
  orDie(plain.appendStep(plainIds, sk.ref, sv.ref), "suffix append");
  orDie(steps.appendStep(suffixIds, sk.ref, sv.ref), "suffix append");

  Tensor q(t, {b, kHq, 1, kDim}, rng), outPlain(t, {b, kHq, 1, kDim}, rng),
      outCascade(t, {b, kHq, 1, kDim}, rng);
  kv::CacheAttentionOptions o;
  o.mask.causal = true;
  kv::CascadeDecoder cascade(steps, runtime);
  auto runPlain = [&] {
    orDie(plain.decodeStep(plainIds, q.ref, outPlain.ref, o), "plain decode");
  };
  auto runCascade = [&] {
    orDie(cascade.decode(suffixIds, pk.ref, pv.ref, q.ref, outCascade.ref, o),
          "cascade decode");
  };
  double plainMs = bench::medianMs(runPlain, reps);
  double cascadeMs = bench::medianMs(runCascade, reps);
  double maxDiff = 0;
  for (int64_t i = 0; i < outPlain.ref.numElements(); ++i)
    maxDiff = std::max(maxDiff, std::abs(rt::loadAsDouble(outPlain.ref, i) -
                                         rt::loadAsDouble(outCascade.ref, i)));
  double kvBytes = 2.0 * b * (p + s) * kHkv * kDim * rt::dtypeBytes(t);
  std::printf("cascade decode b%lld prefix %lld suffix %lld hq%lld hkv%lld "
              "d%lld %s, %u threads: plain paged %.2f ms (%.1f GB/s of K/V), "
              "cascade %.2f ms: %.2fx; max |plain - cascade| %.2g\n",
              (long long)b, (long long)p, (long long)s, (long long)kHq,
              (long long)kHkv, (long long)kDim, dtype.c_str(),
              runtime.numThreads(), plainMs, kvBytes / plainMs / 1e6, cascadeMs,
              plainMs / cascadeMs, maxDiff);
  return 0;
}
