//===- Reference.cpp - float64 attention ----------------------------------===//
//
// Deliberately naive: one query row at a time, the whole score row
// materialised, a two-pass softmax. Nothing here is shared with, or shaped
// like, the flash kernels it checks.
//
//===----------------------------------------------------------------------===//
#include "runtime/Reference.h"
#include "common/Philox.h"
#include "runtime/Errors.h"
#include "runtime/HalfFloat.h"
#include "runtime/ReferenceDetail.h"
#include "runtime/RegionInterpreter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>

using namespace mlir::attn;
using namespace mlir::attn::rt;

double mlir::attn::rt::loadAsDouble(const BufferRef &buffer, int64_t offset) {
  const char *base = static_cast<const char *>(buffer.data);
  switch (buffer.dtype) {
  case DType::F32: {
    float f;
    std::memcpy(&f, base + offset * 4, 4);
    return f;
  }
  case DType::F16: {
    uint16_t h;
    std::memcpy(&h, base + offset * 2, 2);
    return halfToFloat(h);
  }
  case DType::BF16: {
    uint16_t h;
    std::memcpy(&h, base + offset * 2, 2);
    return bfloatToFloat(h);
  }
  case DType::I32: {
    int32_t i;
    std::memcpy(&i, base + offset * 4, 4);
    return i;
  }
  case DType::I1:
    return base[offset] != 0;
  case DType::I64: {
    int64_t i;
    std::memcpy(&i, base + offset * 8, 8);
    return static_cast<double>(i);
  }
  }
  return 0;
}

namespace {

/// Element offset of logical (b, h, s, d) in a q/k/v/output buffer.
int64_t offsetOf(const BufferRef &buf, Layout layout, int64_t b, int64_t h,
                 int64_t s, int64_t d) {
  const auto &st = buf.strides;
  if (layout == Layout::BSHD)
    std::swap(h, s);
  return b * st[0] + h * st[1] + s * st[2] + d * st[3];
}

} // namespace

int64_t ref::broadcastOffset(const BufferRef &buf, int64_t b, int64_t h,
                             int64_t q, int64_t j) {
  int64_t idx[4] = {b, h, q, j};
  int64_t off = 0;
  for (int i = 0; i < 4; ++i)
    off += (buf.shape[i] == 1 ? 0 : idx[i]) * buf.strides[i];
  return off;
}

/// The inner loops then read plain arrays whatever the dtype, layout or
/// strides.
std::vector<double> ref::toLogicalDoubles(const BufferRef &buf, Layout layout,
                                          int64_t batch, int64_t heads,
                                          int64_t seq, int64_t dim) {
  std::vector<double> out(batch * heads * seq * dim);
  size_t i = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < seq; ++s)
        for (int64_t d = 0; d < dim; ++d)
          out[i++] = loadAsDouble(buf, offsetOf(buf, layout, b, h, s, d));
  return out;
}

llvm::Expected<ref::ReferenceProblem>
ref::makeReferenceProblem(const KernelSignature &sig,
                          const AttentionArgs &args) {
  if (!sig.regionError.empty())
    return makeError(sig.regionError);
  if ((sig.hasScoreMod && !sig.scoreModProgram) ||
      (sig.hasMaskMod && !sig.maskModProgram))
    return makeError("the reference has no program for the score_mod/mask_mod "
                     "regions (signatureForOp compiles them)");
  // Validate the inputs exactly as a kernel call would, outputs aside.
  KernelSignature inputs = sig;
  llvm::erase_if(inputs.args, [](const ArgInfo &a) { return a.isOutput; });
  AttentionArgs inArgs = args;
  if (!sig.isBackward) {
    inArgs.lse.reset();
  } else {
    inArgs.gradQuery.reset();
    inArgs.gradKey.reset();
    inArgs.gradValue.reset();
    inArgs.gradBias.reset();
  }
  auto bound = bindArguments(inputs, inArgs);
  if (!bound)
    return bound.takeError();
  auto find = [&](ArgRole role) -> std::optional<BufferRef> {
    for (auto [info, buf] : llvm::zip(inputs.args, *bound))
      if (info.role == role)
        return buf;
    return std::nullopt;
  };
  const AttentionSpec &s = sig.spec;
  ReferenceProblem p;
  p.spec = s;
  int64_t dv = s.effectiveValueDim();
  p.q = toLogicalDoubles(*find(ArgRole::Query), s.layout, s.batch, s.numHeads,
                         s.queryLen, s.headDim);
  p.k = toLogicalDoubles(*find(ArgRole::Key), s.layout, s.batch, s.numKvHeads,
                         s.kvLen, s.headDim);
  p.v = toLogicalDoubles(*find(ArgRole::Value), s.layout, s.batch, s.numKvHeads,
                         s.kvLen, dv);
  p.boolMask = find(ArgRole::BoolMask);
  p.bias = find(ArgRole::Bias);
  p.kvLengths = find(ArgRole::KvLengths);
  p.qSeg = find(ArgRole::QSegmentIds);
  p.kvSeg = find(ArgRole::KvSegmentIds);
  p.sinks = find(ArgRole::Sinks);
  p.kvNumBlocks = find(ArgRole::KvNumBlocks);
  p.kvIndices = find(ArgRole::KvIndices);
  p.gradOutput = find(ArgRole::GradOutput);
  if (auto state = find(ArgRole::DropoutState)) {
    const char *base = static_cast<const char *>(state->data);
    std::memcpy(&p.dropoutSeed, base, 8);
    std::memcpy(&p.dropoutOffset, base + state->strides[0] * 8, 8);
  }
  p.scale =
      s.scale ? *s.scale : 1.0f / std::sqrt(static_cast<float>(s.headDim));
  p.scoreMod = sig.scoreModProgram.get();
  p.maskMod = sig.maskModProgram.get();
  return p;
}

/// The KV blocks row (b, h, qi)'s block list names (empty without a block
/// mask; size-1 dims of the lists broadcast).
static std::vector<bool> listedBlocks(const ref::ReferenceProblem &p, int64_t b,
                                      int64_t h, int64_t qi) {
  const AttentionSpec &s = p.spec;
  if (!s.blockSparse)
    return {};
  const BufferRef &num = *p.kvNumBlocks, &idx = *p.kvIndices;
  int64_t bi = num.shape[0] == 1 ? 0 : b, hi = num.shape[1] == 1 ? 0 : h;
  int64_t qb = qi / s.blockSparse->qBlock;
  int64_t kvBlocks =
      (s.kvLen + s.blockSparse->kvBlock - 1) / s.blockSparse->kvBlock;
  std::vector<bool> listed(kvBlocks, false);
  auto n = static_cast<int64_t>(loadAsDouble(
      num, bi * num.strides[0] + hi * num.strides[1] + qb * num.strides[2]));
  for (int64_t i = 0; i < n; ++i)
    listed[static_cast<int64_t>(loadAsDouble(
        idx, bi * idx.strides[0] + hi * idx.strides[1] + qb * idx.strides[2] +
                 i * idx.strides[3]))] = true;
  return listed;
}

double ref::referenceLogits(const ReferenceProblem &p, int64_t b, int64_t h,
                            int64_t qi, double *scores, double *slope) {
  const AttentionSpec &s = p.spec;
  int64_t d = s.headDim;
  int64_t hk = h / (s.numHeads / s.numKvHeads);
  // data() + offset, not &k[offset]: with Skv = 0 the K/V vectors are
  // empty and indexing them is undefined (UBSan: reference to null).
  const double *qRow =
      p.q.data() + ((b * s.numHeads + h) * s.queryLen + qi) * d;
  const double *kHead = p.k.data() + (b * s.numKvHeads + hk) * s.kvLen * d;
  int64_t limit = s.kvLen;
  if (p.kvLengths)
    limit = std::min<int64_t>(
        limit, static_cast<int64_t>(
                   loadAsDouble(*p.kvLengths, b * p.kvLengths->strides[0])));
  const double ninf = -std::numeric_limits<double>::infinity();
  double maxScore = ninf;
  std::vector<bool> listed = listedBlocks(p, b, h, qi);
  for (int64_t j = 0; j < s.kvLen; ++j) {
    bool visible = j < limit && s.mask.allows(qi + s.mask.qOffset, j);
    if (visible && s.blockSparse)
      visible = listed[j / s.blockSparse->kvBlock];
    if (visible && p.boolMask)
      visible = loadAsDouble(*p.boolMask,
                             broadcastOffset(*p.boolMask, b, h, qi, j)) != 0;
    if (visible && p.qSeg)
      visible = loadAsDouble(*p.qSeg, b * p.qSeg->strides[0] +
                                          qi * p.qSeg->strides[1]) ==
                loadAsDouble(*p.kvSeg,
                             b * p.kvSeg->strides[0] + j * p.kvSeg->strides[1]);
    // mask_mod sees the query index (not its position) and the query head.
    if (visible && p.maskMod)
      visible =
          p.maskMod->run({double(b), double(h), double(qi), double(j)}) != 0;
    if (!visible) {
      scores[j] = ninf;
      if (slope)
        slope[j] = 0;
      continue;
    }
    double dot = 0;
    for (int64_t c = 0; c < d; ++c)
      dot += qRow[c] * kHead[j * d + c];
    double score = p.scale * dot;
    if (p.bias)
      score += loadAsDouble(*p.bias, broadcastOffset(*p.bias, b, h, qi, j));
    double ds = 1;
    if (p.scoreMod) {
      auto mod = [&](double x) {
        return p.scoreMod->run(
            {x, double(b), double(h), double(qi), double(j)});
      };
      if (slope) {
        // A float64 central difference: error ~1e-10 for smooth modifiers,
        // far below the kernels' tolerances.
        double step = 1e-5 * std::max(1.0, std::fabs(score));
        ds = (mod(score + step) - mod(score - step)) / (2 * step);
      }
      score = mod(score);
    }
    if (s.softcap) {
      double t = std::tanh(score / *s.softcap);
      ds *= 1 - t * t;
      score = *s.softcap * t;
    }
    scores[j] = score;
    if (slope)
      slope[j] = ds;
    maxScore = std::max(maxScore, score);
  }
  return maxScore;
}

void ref::forEachThread(unsigned numThreads, int64_t items,
                        const std::function<void(unsigned, unsigned)> &work) {
  if (numThreads == 0)
    numThreads = std::max(1u, std::thread::hardware_concurrency());
  numThreads = static_cast<unsigned>(
      std::min<int64_t>(numThreads, std::max<int64_t>(1, items)));
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < numThreads; ++t)
    threads.emplace_back(work, t, numThreads);
  work(0, numThreads);
  for (std::thread &t : threads)
    t.join();
}

namespace {

/// Computes one query row (b, h, qi) into out[Dv] and returns its lse.
double referenceRow(const ref::ReferenceProblem &p, int64_t b, int64_t h,
                    int64_t qi, double *out, std::vector<double> &scores) {
  const AttentionSpec &s = p.spec;
  int64_t dv = s.effectiveValueDim();
  int64_t hk = h / (s.numHeads / s.numKvHeads);
  const double *vHead = p.v.data() + (b * s.numKvHeads + hk) * s.kvLen * dv;
  const double ninf = -std::numeric_limits<double>::infinity();
  double maxScore = ref::referenceLogits(p, b, h, qi, scores.data());
  std::fill(out, out + dv, 0.0);
  // A sink is one more logit in the denominator with no value row.
  double sink =
      p.sinks ? loadAsDouble(*p.sinks, h * p.sinks->strides[0]) : ninf;
  maxScore = std::max(maxScore, sink);
  if (maxScore == ninf)
    return ninf;
  double sum = sink == ninf ? 0 : std::exp(sink - maxScore);
  // Dropout after the softmax: the denominator (and lse) keep every
  // weight; a kept weight counts 1/(1 - p) times in the output. The keep
  // bit regenerates the Philox stream of common/Philox.h.
  double rate = s.dropout.value_or(0.0);
  uint32_t threshold = philox::dropThreshold(rate);
  philox::Element e = ref::dropoutElement(p, b, h, qi);
  for (int64_t j = 0; j < s.kvLen; ++j) {
    if (scores[j] == ninf)
      continue;
    double w = std::exp(scores[j] - maxScore);
    sum += w;
    if (rate > 0) {
      e.key = static_cast<uint32_t>(j);
      w = philox::keep(e, threshold) ? w / (1 - rate) : 0;
    }
    for (int64_t c = 0; c < dv; ++c)
      out[c] += w * vHead[j * dv + c];
  }
  for (int64_t c = 0; c < dv; ++c)
    out[c] /= sum;
  return maxScore + std::log(sum);
}

} // namespace

llvm::Expected<ReferenceResult>
mlir::attn::rt::referenceAttention(const KernelSignature &sig,
                                   const AttentionArgs &args,
                                   unsigned numThreads) {
  auto problem = ref::makeReferenceProblem(sig, args);
  if (!problem)
    return problem.takeError();
  const ref::ReferenceProblem &p = *problem;
  const AttentionSpec &s = sig.spec;
  int64_t dv = s.effectiveValueDim();
  int64_t rows = s.batch * s.numHeads * s.queryLen;
  ReferenceResult result;
  result.output.assign(rows * dv, 0.0);
  result.lse.assign(rows, 0.0);
  ref::forEachThread(numThreads, rows, [&](unsigned t, unsigned n) {
    std::vector<double> scores(s.kvLen);
    for (int64_t r = t; r < rows; r += n) {
      int64_t qi = r % s.queryLen, h = (r / s.queryLen) % s.numHeads,
              b = r / (s.queryLen * s.numHeads);
      result.lse[r] = referenceRow(p, b, h, qi, &result.output[r * dv], scores);
    }
  });
  return result;
}

int64_t mlir::attn::rt::referenceBytes(const KernelSignature &sig) {
  int64_t total = 0;
  for (const ArgInfo &a : sig.args) {
    if (a.role != ArgRole::Query && a.role != ArgRole::Key &&
        a.role != ArgRole::Value && a.role != ArgRole::Output &&
        a.role != ArgRole::Lse)
      continue;
    int64_t n = sizeof(double);
    for (int64_t d : a.shape)
      if (__builtin_mul_overflow(n, d, &n))
        return std::numeric_limits<int64_t>::max();
    if (__builtin_add_overflow(total, n, &total))
      return std::numeric_limits<int64_t>::max();
  }
  return total;
}
