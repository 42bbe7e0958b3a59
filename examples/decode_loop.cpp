//===- decode_loop.cpp - autoregressive decode over a paged GQA cache -----===//
//
// What a serving engine does with attn, end to end on the CPU: a batch of
// sequences with ragged prompt lengths is prefilled into a paged KV cache,
// then N decode steps each append one K/V row per sequence and run GQA
// decode attention (compiled attn.cache_append / attn.cache_attention
// kernels). The last step is checked against the float64 reference over the
// same cache; tokens/s and KV bytes/s are printed.
//
// Usage: attn-decode-loop [steps] [batch]
//
//===----------------------------------------------------------------------===//
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace mlir::attn;

namespace {

constexpr int64_t kHq = 32, kHkv = 8, kDim = 128, kPage = 16;

int fail(llvm::Error e) {
  llvm::errs() << "attn-decode-loop: " << llvm::toString(std::move(e)) << "\n";
  return 1;
}

void fillRandom(std::vector<float> &out, std::mt19937 &rng) {
  std::normal_distribution<float> nd;
  for (float &x : out)
    x = nd(rng);
}

} // namespace

int main(int argc, char **argv) {
  int64_t steps = argc > 1 ? std::atoll(argv[1]) : 64;
  int64_t batch = argc > 2 ? std::atoll(argv[2]) : 8;
  if (steps < 1 || batch < 1) {
    llvm::errs() << "usage: attn-decode-loop [steps >= 1] [batch >= 1]\n";
    return 2;
  }
  std::mt19937 rng(2026);
  std::uniform_int_distribution<int32_t> promptLen(1, 700);
  std::vector<int32_t> prompts(batch);
  int32_t longest = 0;
  for (int32_t &p : prompts)
    longest = std::max(longest, p = promptLen(rng));

  // 1. A paged f32 cache with room for prompt + steps per sequence.
  rt::Runtime runtime;
  kv::PagedKvCacheConfig cfg;
  cfg.pageSize = kPage;
  cfg.maxPagesPerSeq = (longest + steps + kPage - 1) / kPage;
  cfg.numPages = batch * cfg.maxPagesPerSeq;
  cfg.maxSequences = batch;
  cfg.numKvHeads = kHkv;
  cfg.headDim = kDim;
  auto cache = kv::PagedKvCache::create(cfg);
  if (!cache)
    return fail(cache.takeError());
  std::vector<kv::SeqId> seqs;
  for (int64_t b = 0; b < batch; ++b) {
    auto id = (*cache)->addSequence();
    if (!id)
      return fail(id.takeError());
    seqs.push_back(*id);
  }
  kv::KvStepper stepper(**cache, runtime);

  // 2. Prefill: one ragged append (each sequence takes its prompt's rows).
  std::vector<float> kPrompt(batch * kHkv * longest * kDim),
      vPrompt(kPrompt.size());
  fillRandom(kPrompt, rng);
  fillRandom(vPrompt, rng);
  auto shape = [&](int64_t s) {
    return llvm::SmallVector<int64_t, 4>{batch, kHkv, s, kDim};
  };
  if (llvm::Error e = stepper.appendStep(
          seqs,
          rt::BufferRef::contiguous(kPrompt.data(), rt::DType::F32,
                                    shape(longest)),
          rt::BufferRef::contiguous(vPrompt.data(), rt::DType::F32,
                                    shape(longest)),
          prompts))
    return fail(std::move(e));

  // 3. Decode: append this step's K/V row, attend with this step's query.
  //    Kernels compile on their first use; step 0 is left out of the rates.
  kv::CacheAttentionOptions opts;
  opts.mask.causal = true;
  std::vector<float> k(batch * kHkv * kDim), v(k.size()), q(batch * kHq * kDim),
      out(q.size());
  auto kRef = rt::BufferRef::contiguous(k.data(), rt::DType::F32, shape(1));
  auto vRef = rt::BufferRef::contiguous(v.data(), rt::DType::F32, shape(1));
  auto qRef = rt::BufferRef::contiguous(q.data(), rt::DType::F32,
                                        {batch, kHq, 1, kDim});
  auto oRef = rt::BufferRef::contiguous(out.data(), rt::DType::F32,
                                        {batch, kHq, 1, kDim});
  // The BufferRefs above point into these vectors: refill them in place.
  double seconds = 0, kvBytes = 0;
  for (int64_t step = 0; step < steps; ++step) {
    fillRandom(k, rng);
    fillRandom(v, rng);
    fillRandom(q, rng);
    auto t0 = std::chrono::steady_clock::now();
    if (llvm::Error e = stepper.appendStep(seqs, kRef, vRef))
      return fail(std::move(e));
    if (llvm::Error e = stepper.decodeStep(seqs, qRef, oRef, opts))
      return fail(std::move(e));
    if (step == 0 && steps > 1)
      continue;
    seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    for (kv::SeqId id : seqs)
      kvBytes += double(llvm::cantFail((*cache)->length(id))) * kHkv * 2 *
                 kDim * sizeof(float);
  }

  int64_t timedSteps = steps > 1 ? steps - 1 : 1;

  // 4. The last step again through the float64 reference, same cache.
  std::vector<float> ref(out.size());
  kv::StepOptions refOptions;
  refOptions.backend = kv::StepBackend::Reference;
  kv::KvStepper reference(**cache, runtime, refOptions);
  if (llvm::Error e = reference.decodeStep(
          seqs, qRef,
          rt::BufferRef::contiguous(ref.data(), rt::DType::F32,
                                    {batch, kHq, 1, kDim}),
          opts))
    return fail(std::move(e));
  double maxErr = 0;
  bool finite = true;
  for (size_t i = 0; i < out.size(); ++i) {
    finite &= std::isfinite(out[i]);
    maxErr = std::max<double>(maxErr, std::fabs(out[i] - ref[i]));
  }
  const double tolerance = 1e-4; // f32 storage, f32 accumulation
  bool ok = finite && maxErr <= tolerance;

  std::printf("decode loop: %lld sequences (prompts %d..%d tokens), %lld "
              "steps, paged f32 cache (page %lld), GQA hq=%lld hkv=%lld "
              "d=%lld, %u threads\n",
              (long long)batch,
              *std::min_element(prompts.begin(), prompts.end()), longest,
              (long long)steps, (long long)kPage, (long long)kHq,
              (long long)kHkv, (long long)kDim, runtime.numThreads());
  std::printf("  %.1f tokens/s, %.2f GB/s of K/V read, %.3f ms per step\n",
              batch * timedSteps / seconds, kvBytes / seconds / 1e9,
              1e3 * seconds / timedSteps);
  std::printf("  last step vs float64 reference: max abs err %.2e "
              "(tolerance %.0e): %s\n",
              maxErr, tolerance, ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
