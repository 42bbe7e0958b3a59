//===- ReferenceBackward.cpp - float64 attention gradients ----------------===//
//
// Deliberately naive, like the forward reference: one query row at a time
// with its whole score row, no tiling, nothing shared with the kernels.
//
//===----------------------------------------------------------------------===//
#include "runtime/ReferenceBackward.h"
#include "runtime/Errors.h"
#include "runtime/Reference.h"
#include "runtime/ReferenceDetail.h"

#include "common/Philox.h"

#include <cmath>
#include <limits>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using ref::ReferenceProblem;

namespace {

/// Sums of one thread: dQ rows are disjoint between threads (each owns
/// whole K/V heads), d(bias) may be shared through broadcasting.
struct RowScratch {
  std::vector<double> scores, slope, p, dbias;
};

/// Row-major offset of [b, h, q, j] in a broadcasting bias of `shape`.
int64_t biasIndex(llvm::ArrayRef<int64_t> shape, int64_t b, int64_t h,
                  int64_t q, int64_t j) {
  int64_t idx[4] = {b, h, q, j}, off = 0;
  for (int i = 0; i < 4; ++i)
    off = off * shape[i] + (shape[i] == 1 ? 0 : idx[i]);
  return off;
}

/// The gradients of query row (b, h, qi), accumulated into `g`.
void backwardRow(const ReferenceProblem &p, const std::vector<double> &dO,
                 int64_t b, int64_t h, int64_t qi, RowScratch &w,
                 ReferenceGradients &g) {
  const AttentionSpec &s = p.spec;
  int64_t d = s.headDim, dv = s.effectiveValueDim();
  int64_t hk = h / (s.numHeads / s.numKvHeads);
  int64_t row = (b * s.numHeads + h) * s.queryLen + qi;
  int64_t kvBase = (b * s.numKvHeads + hk) * s.kvLen;
  const double ninf = -std::numeric_limits<double>::infinity();
  double mx =
      ref::referenceLogits(p, b, h, qi, w.scores.data(), w.slope.data());
  double sink =
      p.sinks ? loadAsDouble(*p.sinks, h * p.sinks->strides[0]) : ninf;
  mx = std::max(mx, sink);
  if (mx == ninf) {
    g.lse[row] = ninf; // nothing visible: output 0, no gradient
    return;
  }
  double sum = sink == ninf ? 0 : std::exp(sink - mx);
  for (int64_t j = 0; j < s.kvLen; ++j)
    if (w.scores[j] != ninf)
      sum += std::exp(w.scores[j] - mx);
  double lse = mx + std::log(sum);
  g.lse[row] = lse;
  const double *dORow = dO.data() + row * dv;
  const double *qRow = p.q.data() + row * d;
  double *out = g.output.data() + row * dv;
  // Dropout: the forward's keep factor z (1 / (1 - p) or 0, the Philox
  // stream of common/Philox.h) scales the weights the output used, so
  // dV gets p·z·dO and dP = z·(dO · v); D = sum p·dP = dO · out.
  double rate = s.dropout.value_or(0.0);
  uint32_t threshold = philox::dropThreshold(rate);
  philox::Element e = ref::dropoutElement(p, b, h, qi);
  double delta = 0;
  for (int64_t j = 0; j < s.kvLen; ++j) {
    w.p[j] = w.scores[j] == ninf ? 0 : std::exp(w.scores[j] - lse);
    if (w.p[j] == 0)
      continue;
    double z = 1;
    if (rate > 0) {
      e.key = static_cast<uint32_t>(j);
      z = philox::keep(e, threshold) ? 1 / (1 - rate) : 0;
    }
    const double *vRow = p.v.data() + (kvBase + j) * dv;
    double dp = 0;
    for (int64_t c = 0; c < dv; ++c) {
      out[c] += w.p[j] * z * vRow[c];
      dp += dORow[c] * vRow[c];
      g.dv[(kvBase + j) * dv + c] += w.p[j] * z * dORow[c];
    }
    w.scores[j] = z * dp; // reused: dP
    delta += w.p[j] * w.scores[j];
  }
  double *dqRow = g.dq.data() + row * d;
  for (int64_t j = 0; j < s.kvLen; ++j) {
    if (w.p[j] == 0)
      continue;
    double dr = w.p[j] * (w.scores[j] - delta) * w.slope[j];
    const double *kRow = p.k.data() + (kvBase + j) * d;
    double *dkRow = g.dk.data() + (kvBase + j) * d;
    for (int64_t c = 0; c < d; ++c) {
      dqRow[c] += p.scale * dr * kRow[c];
      dkRow[c] += p.scale * dr * qRow[c];
    }
    if (p.bias)
      w.dbias[biasIndex(p.bias->shape, b, h, qi, j)] += dr;
  }
}

} // namespace

llvm::Expected<ReferenceGradients>
mlir::attn::rt::referenceAttentionBackward(const KernelSignature &sig,
                                           const AttentionArgs &args,
                                           unsigned numThreads) {
  auto problem = ref::makeReferenceProblem(sig, args);
  if (!problem)
    return problem.takeError();
  const ReferenceProblem &p = *problem;
  if (!p.gradOutput)
    return makeError("grad_output: missing; the backward reference needs dO");
  const AttentionSpec &s = p.spec;
  int64_t d = s.headDim, dv = s.effectiveValueDim();
  std::vector<double> dO = ref::toLogicalDoubles(
      *p.gradOutput, s.layout, s.batch, s.numHeads, s.queryLen, dv);
  ReferenceGradients g;
  g.dq.assign(s.batch * s.numHeads * s.queryLen * d, 0.0);
  g.dk.assign(s.batch * s.numKvHeads * s.kvLen * d, 0.0);
  g.dv.assign(s.batch * s.numKvHeads * s.kvLen * dv, 0.0);
  g.output.assign(s.batch * s.numHeads * s.queryLen * dv, 0.0);
  g.lse.assign(s.batch * s.numHeads * s.queryLen, 0.0);
  int64_t biasElems = 0;
  if (p.bias) {
    biasElems = 1;
    for (int64_t n : p.bias->shape)
      biasElems *= n;
  }
  int64_t groups = s.batch * s.numKvHeads, group = s.numHeads / s.numKvHeads;
  // One d(bias) per thread (thread t < max(1, groups)).
  std::vector<std::vector<double>> dbiasOf(std::max<int64_t>(1, groups));
  ref::forEachThread(numThreads, groups, [&](unsigned t, unsigned n) {
    RowScratch w;
    w.scores.resize(s.kvLen);
    w.slope.resize(s.kvLen);
    w.p.resize(s.kvLen);
    w.dbias.assign(biasElems, 0.0);
    // Each thread owns whole K/V heads: their dK/dV rows, and the dQ rows
    // of their query heads.
    for (int64_t item = t; item < groups; item += n) {
      int64_t b = item / s.numKvHeads, hk = item % s.numKvHeads;
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h)
        for (int64_t qi = 0; qi < s.queryLen; ++qi)
          backwardRow(p, dO, b, h, qi, w, g);
    }
    dbiasOf[t] = std::move(w.dbias);
  });
  // d(bias) summed over threads in thread order: deterministic for a count.
  g.dbias.assign(biasElems, 0.0);
  for (const std::vector<double> &part : dbiasOf)
    for (int64_t i = 0; i < static_cast<int64_t>(part.size()); ++i)
      g.dbias[i] += part[i];
  return g;
}
