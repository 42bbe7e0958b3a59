//===- ServingBench.cpp - continuous batching over a paged cache ----------===//
//
// A serving loop as an engine runs it: sequences arrive at random with
// random prompt lengths (each prefilled as one chunk: append + causal
// attention of its Sq = prompt queries), every step decodes the whole live
// batch (append one token + attention with Sq = 1), and sequences leave
// after a random number of generated tokens, so the batch composition and
// the chunk lengths change every step. Prints, per step, the batch, the
// arrivals, the kernels compiled during the step and its time; then the
// totals: compiles after the first step of each kernel kind (the goal is
// 0: run-time sizes), tokens/s (prefill + generated) and time per step.
// `--static-sizes` compiles per shape instead, for comparison;
// `--target=cuda` keeps the pools in device memory (CUDA kernels, the
// step's host buffers staged).
//
//===----------------------------------------------------------------------===//
#include "bench/ServingBench.h"

#include "runtime/HalfFloat.h"
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"

#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

using namespace mlir::attn;
namespace rt = mlir::attn::rt;
namespace kv = mlir::attn::kv;

namespace {

const char *kUsage = R"(usage: attn-bench-serving [options]
  --target=cpu|cuda   where the kernels run (cuda: pools in device memory)
  --steps=N           decode steps (64)
  --seed=N            random seed (1)
  --bench-threads=N   CPU threads, 0: all (0)
  --max-prompt=N      longest prompt (512)
  --static-sizes      compile one kernel per shape (no run-time sizes)
  --quiet             totals only, no step lines
  --decode-compare    instead of the loop: decode steps of batches 1, 4 and
                      16 over max-prompt tokens each, timed with the
                      run-time-size kernels and with kernels specialised to
                      the shape (compiled before timing)
)";

struct Options {
  int steps = 64, maxPrompt = 512;
  unsigned seed = 1, threads = 0;
  bool staticSizes = false, quiet = false, cuda = false, compare = false;
};

/// Parses argv by hand (see ServingBench.h); false on a bad argument.
bool parseOptions(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    auto [name, value] = arg.split('=');
    auto number = [&](auto &field, long long minimum) {
      long long v;
      if (value.getAsInteger(10, v) || v < minimum)
        return false;
      field = static_cast<std::remove_reference_t<decltype(field)>>(v);
      return true;
    };
    bool ok = true;
    if (name == "--steps")
      ok = number(o.steps, 1);
    else if (name == "--seed")
      ok = number(o.seed, 0);
    else if (name == "--bench-threads")
      ok = number(o.threads, 0);
    else if (name == "--max-prompt")
      ok = number(o.maxPrompt, 1);
    else if (name == "--target" && (value == "cpu" || value == "cuda"))
      o.cuda = value == "cuda";
    else if (arg == "--static-sizes")
      o.staticSizes = true;
    else if (arg == "--quiet")
      o.quiet = true;
    else if (arg == "--decode-compare")
      o.compare = true;
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "attn-bench-serving: bad argument '%s'\n%s", argv[i],
                   kUsage);
      return false;
    }
  }
  return true;
}

constexpr int64_t kHq = 16, kHkv = 4, kDim = 128, kMaxSeqs = 16;
constexpr int64_t kPageSize = 16, kMaxGen = 96;

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t)
      .count();
}

struct Live {
  kv::SeqId id;
  int64_t remaining; ///< tokens still to generate
};

struct Serving {
  explicit Serving(const Options &o) : rng(o.seed), maxPrompt(o.maxPrompt) {}
  std::mt19937_64 rng;
  int maxPrompt;
  std::unique_ptr<kv::PagedKvCache> cache;
  std::unique_ptr<kv::KvStepper> stepper;
  std::vector<Live> live;
  std::vector<uint16_t> k, v, q, out; ///< bf16 scratch, resized per call
  int64_t tokens = 0;

  std::vector<uint16_t> &random(std::vector<uint16_t> &buf, int64_t n) {
    std::normal_distribution<float> nd;
    buf.resize(n);
    for (uint16_t &x : buf)
      x = rt::floatToBFloat(nd(rng));
    return buf;
  }
  rt::BufferRef ref(std::vector<uint16_t> &buf, llvm::ArrayRef<int64_t> s) {
    return rt::BufferRef::contiguous(buf.data(), rt::DType::BF16, s);
  }
  /// Append `s` tokens per sequence of `ids` and attend their last `s`.
  llvm::Error step(llvm::ArrayRef<kv::SeqId> ids, int64_t s) {
    int64_t n = ids.size();
    random(k, n * kHkv * s * kDim);
    random(v, n * kHkv * s * kDim);
    random(q, n * kHq * s * kDim);
    out.resize(q.size());
    if (llvm::Error e = stepper->appendStep(ids, ref(k, {n, kHkv, s, kDim}),
                                            ref(v, {n, kHkv, s, kDim})))
      return e;
    tokens += n * s;
    return stepper->decodeStep(ids, ref(q, {n, kHq, s, kDim}),
                               ref(out, {n, kHq, s, kDim}),
                               {.mask = {.causal = true}});
  }
  llvm::Error arrive() {
    auto id = cache->addSequence();
    if (!id)
      return id.takeError();
    std::uniform_int_distribution<int64_t> prompt(1, maxPrompt),
        gen(8, kMaxGen);
    live.push_back({*id, gen(rng)});
    return step({*id}, prompt(rng));
  }
  llvm::Error decode() {
    std::vector<kv::SeqId> ids;
    for (const Live &l : live)
      ids.push_back(l.id);
    if (llvm::Error e = step(ids, 1))
      return e;
    for (Live &l : live)
      --l.remaining;
    // Departures: finished sequences free their pages.
    for (const Live &l : live)
      if (l.remaining <= 0)
        if (llvm::Error e = cache->freeSequence(l.id))
          return e;
    llvm::erase_if(live, [](const Live &l) { return l.remaining <= 0; });
    return llvm::Error::success();
  }
};

kv::PagedKvCacheConfig cacheConfig(const Options &o) {
  kv::PagedKvCacheConfig cfg;
  cfg.pageSize = kPageSize;
  cfg.maxPagesPerSeq = (o.maxPrompt + kMaxGen + kPageSize - 1) / kPageSize;
  cfg.numPages = kMaxSeqs * cfg.maxPagesPerSeq;
  cfg.maxSequences = kMaxSeqs;
  cfg.numKvHeads = kHkv;
  cfg.headDim = kDim;
  cfg.dtype = ElementType::BF16;
  cfg.memory = o.cuda ? rt::MemorySpace::Device : rt::MemorySpace::Host;
  return cfg;
}

/// Milliseconds per decode step of `ids` (Sq = 1) with `stepper`, after
/// warm-up steps (the first compiles).
llvm::Expected<double> timeDecode(Serving &s, kv::KvStepper &stepper,
                                  llvm::ArrayRef<kv::SeqId> ids) {
  int64_t n = ids.size();
  s.random(s.q, n * kHq * kDim);
  s.out.resize(s.q.size());
  double ms = 0;
  const int warmup = 3, runs = 20;
  for (int i = 0; i < warmup + runs; ++i) {
    auto t = std::chrono::steady_clock::now();
    if (llvm::Error e = stepper.decodeStep(ids, s.ref(s.q, {n, kHq, 1, kDim}),
                                           s.ref(s.out, {n, kHq, 1, kDim}),
                                           {.mask = {.causal = true}}))
      return std::move(e);
    if (i >= warmup)
      ms += msSince(t);
  }
  return ms / runs;
}

/// --decode-compare: one decode step (attention only, the cache unchanged)
/// with run-time-size kernels against kernels specialised to the shape.
int compareDecode(const Options &o) {
  rt::Runtime runtime(rt::RuntimeOptions{o.threads});
  Serving s(o);
  auto cache = kv::PagedKvCache::create(cacheConfig(o));
  if (!cache) {
    std::fprintf(stderr, "%s\n", llvm::toString(cache.takeError()).c_str());
    return 1;
  }
  s.cache = std::move(*cache);
  kv::StepOptions dynamic, specialised;
  specialised.runTimeSizes = false;
  s.stepper = std::make_unique<kv::KvStepper>(*s.cache, runtime, dynamic);
  kv::KvStepper fixed(*s.cache, runtime, specialised);
  std::printf("decode: GQA hq=%lld hkv=%lld d=%lld bf16, paged (page %lld), "
              "%d tokens per sequence, %s\n",
              (long long)kHq, (long long)kHkv, (long long)kDim,
              (long long)kPageSize, o.maxPrompt, o.cuda ? "CUDA" : "CPU");
  std::vector<kv::SeqId> ids;
  for (int64_t n : {1, 4, 16}) {
    std::vector<kv::SeqId> fresh;
    while (int64_t(ids.size()) < n) {
      auto id = s.cache->addSequence();
      if (!id) {
        std::fprintf(stderr, "%s\n", llvm::toString(id.takeError()).c_str());
        return 1;
      }
      ids.push_back(*id);
      fresh.push_back(*id);
    }
    if (llvm::Error e = s.step(fresh, o.maxPrompt)) {
      std::fprintf(stderr, "%s\n", llvm::toString(std::move(e)).c_str());
      return 1;
    }
    auto dyn = timeDecode(s, *s.stepper, ids);
    auto fix = dyn ? timeDecode(s, fixed, ids) : llvm::Expected<double>(0.0);
    if (!dyn || !fix) {
      llvm::Error e = dyn ? fix.takeError() : dyn.takeError();
      std::fprintf(stderr, "%s\n", llvm::toString(std::move(e)).c_str());
      return 1;
    }
    std::printf("decode b=%lld: run-time sizes %.3f ms, specialised %.3f ms, "
                "specialised/run-time %.3f\n",
                (long long)n, *dyn, *fix, *fix / *dyn);
  }
  return 0;
}

int run(const Options &o) {
  if (o.compare)
    return compareDecode(o);
  rt::Runtime runtime(rt::RuntimeOptions{o.threads});
  Serving s(o);
  int maxPrompt = o.maxPrompt, steps = o.steps;
  bool staticSizes = o.staticSizes, quiet = o.quiet;
  auto cache = kv::PagedKvCache::create(cacheConfig(o));
  if (!cache) {
    std::fprintf(stderr, "%s\n", llvm::toString(cache.takeError()).c_str());
    return 1;
  }
  s.cache = std::move(*cache);
  kv::StepOptions so;
  so.runTimeSizes = !staticSizes;
  s.stepper = std::make_unique<kv::KvStepper>(*s.cache, runtime, so);
  std::printf(
      "serving: GQA hq=%lld hkv=%lld d=%lld bf16, paged (page %lld), "
      "prompts 1..%d, %s, %s sizes\n",
      (long long)kHq, (long long)kHkv, (long long)kDim, (long long)kPageSize,
      int(maxPrompt),
      o.cuda ? "CUDA (pools in device memory)"
             : (std::to_string(runtime.numThreads()) + " CPU threads").c_str(),
      staticSizes ? "static" : "run-time");
  if (!quiet)
    std::printf("%5s %6s %8s %9s %9s\n", "step", "batch", "arrivals",
                "compiles", "ms");
  std::bernoulli_distribution arrival(0.35);
  int64_t before = 0, afterFirst = 0, firstStepCompiles = 0, firstTokens = 0;
  double totalMs = 0, servingMs = 0;
  for (int i = 0; i < steps; ++i) {
    auto t = std::chrono::steady_clock::now();
    int arrivals = 0;
    // Arrivals: always one when idle, else by chance (up to the cache).
    while (int64_t(s.live.size()) < kMaxSeqs &&
           (s.live.empty() || (arrivals < 2 && arrival(s.rng)))) {
      if (llvm::Error e = s.arrive()) {
        std::fprintf(stderr, "%s\n", llvm::toString(std::move(e)).c_str());
        return 1;
      }
      ++arrivals;
    }
    int64_t batch = s.live.size();
    if (llvm::Error e = s.decode()) {
      std::fprintf(stderr, "%s\n", llvm::toString(std::move(e)).c_str());
      return 1;
    }
    double ms = msSince(t);
    int64_t now = s.stepper->kernels().stats().compiles;
    totalMs += ms;
    if (i == 0)
      firstStepCompiles = now, firstTokens = s.tokens;
    else
      afterFirst += now - before, servingMs += ms;
    if (!quiet)
      std::printf("%5d %6lld %8d %9lld %9.2f\n", i, (long long)batch, arrivals,
                  (long long)(now - before), ms);
    before = now;
  }
  std::printf("compiles: %lld in the first step (append, prefill, decode), "
              "%lld after it\n",
              (long long)firstStepCompiles, (long long)afterFirst);
  // After the first step: the steady state a server sees.
  std::printf("after the first step: %.0f tokens/s, %.2f ms per step; all "
              "steps: %lld tokens in %.1f ms (%.0f tokens/s)\n",
              (s.tokens - firstTokens) / (servingMs / 1e3),
              servingMs / std::max(1, steps - 1), (long long)s.tokens, totalMs,
              s.tokens / (totalMs / 1e3));
  return 0;
}

} // namespace

int attn::bench::servingBenchMain(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i)
    if (llvm::StringRef(argv[i]) == "--help") {
      std::printf("%s", kUsage);
      return 0;
    }
  if (!parseOptions(argc, argv, o))
    return 2;
  return run(o);
}
