//===- gqa_decode.cpp - a downstream user of find_package(Attn) -----------===//
//
// One GQA decode step the way an inference engine runs it: three sequences
// with ragged prompts are prefilled into a paged KV cache, each appends one
// token, and the step's queries attend to the cache. The result is checked
// against a float64 loop over the rows this program appended, so the check
// depends on nothing but the public API.
//
//===----------------------------------------------------------------------===//
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace mlir::attn;

namespace {
constexpr int64_t kBatch = 3, kHq = 8, kHkv = 2, kDim = 64, kPrompt = 37;
const int32_t kPromptLens[kBatch] = {37, 5, 20};

int fail(llvm::Error e) {
  std::fprintf(stderr, "gqa-decode: %s\n",
               llvm::toString(std::move(e)).c_str());
  return 1;
}

std::vector<float> randomRows(int64_t n, std::mt19937 &rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (float &x : v)
    x = nd(rng);
  return v;
}

// K or V row of (batch b, kv head h, position s) in a [B, Hkv, S, D] buffer.
const float *row(const std::vector<float> &buf, int64_t s_len, int64_t b,
                 int64_t h, int64_t s) {
  return buf.data() + ((b * kHkv + h) * s_len + s) * kDim;
}
} // namespace

int main() {
  std::mt19937 rng(18);
  rt::Runtime runtime(rt::RuntimeOptions{2});
  kv::PagedKvCacheConfig cfg;
  cfg.numPages = 16;
  cfg.pageSize = 16;
  cfg.maxPagesPerSeq = 4;
  cfg.maxSequences = kBatch;
  cfg.numKvHeads = kHkv;
  cfg.headDim = kDim;
  auto cache = kv::PagedKvCache::create(cfg);
  if (!cache)
    return fail(cache.takeError());
  std::vector<kv::SeqId> seqs;
  for (int64_t b = 0; b < kBatch; ++b) {
    auto id = (*cache)->addSequence();
    if (!id)
      return fail(id.takeError());
    seqs.push_back(*id);
  }
  kv::KvStepper steps(**cache, runtime);

  // Prefill (ragged) and one decode token per sequence.
  const int64_t promptShape[] = {kBatch, kHkv, kPrompt, kDim};
  const int64_t tokenShape[] = {kBatch, kHkv, 1, kDim};
  std::vector<float> kp = randomRows(kBatch * kHkv * kPrompt * kDim, rng),
                     vp = randomRows(kp.size(), rng),
                     kt = randomRows(kBatch * kHkv * kDim, rng),
                     vt = randomRows(kt.size(), rng),
                     q = randomRows(kBatch * kHq * kDim, rng),
                     out(q.size(), NAN);
  if (llvm::Error e = steps.appendStep(
          seqs,
          rt::BufferRef::contiguous(kp.data(), rt::DType::F32, promptShape),
          rt::BufferRef::contiguous(vp.data(), rt::DType::F32, promptShape),
          kPromptLens))
    return fail(std::move(e));
  if (llvm::Error e = steps.appendStep(
          seqs,
          rt::BufferRef::contiguous(kt.data(), rt::DType::F32, tokenShape),
          rt::BufferRef::contiguous(vt.data(), rt::DType::F32, tokenShape)))
    return fail(std::move(e));
  const int64_t qShape[] = {kBatch, kHq, 1, kDim};
  if (llvm::Error e = steps.decodeStep(
          seqs, rt::BufferRef::contiguous(q.data(), rt::DType::F32, qShape),
          rt::BufferRef::contiguous(out.data(), rt::DType::F32, qShape)))
    return fail(std::move(e));

  // float64 reference: query head h reads kv head h / (Hq / Hkv).
  double maxErr = 0;
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t h = 0; h < kHq; ++h) {
      int64_t g = h / (kHq / kHkv), n = kPromptLens[b] + 1;
      const float *qr = q.data() + (b * kHq + h) * kDim;
      std::vector<double> p(n);
      double mx = -INFINITY, sum = 0;
      for (int64_t s = 0; s < n; ++s) {
        const float *kr =
            s < n - 1 ? row(kp, kPrompt, b, g, s) : row(kt, 1, b, g, 0);
        double dot = 0;
        for (int64_t d = 0; d < kDim; ++d)
          dot += double(qr[d]) * kr[d];
        mx = std::max(mx, p[s] = dot / std::sqrt(double(kDim)));
      }
      for (double &x : p)
        sum += x = std::exp(x - mx);
      for (int64_t d = 0; d < kDim; ++d) {
        double o = 0;
        for (int64_t s = 0; s < n; ++s)
          o += p[s] / sum *
               (s < n - 1 ? row(vp, kPrompt, b, g, s) : row(vt, 1, b, g, 0))[d];
        double got = out[(b * kHq + h) * kDim + d];
        // runtime/Check.cpp's f32 tolerance: 2e-5 + 2e-5 |ref|.
        double err = std::fabs(got - o) / (2e-5 + 2e-5 * std::fabs(o));
        maxErr = std::isnan(got) ? INFINITY : std::max(maxErr, err);
      }
    }
  std::printf("gqa-decode: B=%lld Hq=%lld Hkv=%lld D=%lld, max error %.2f of "
              "the f32 tolerance vs float64 -> %s\n",
              (long long)kBatch, (long long)kHq, (long long)kHkv,
              (long long)kDim, maxErr, maxErr <= 1 ? "ok" : "FAIL");
  return maxErr <= 1 ? 0 : 1;
}
