//===- ReferenceLayer.cpp - float64 multi-head attention layer ------------===//
//
// Deliberately direct: every projection is a triple loop in double, the
// heads are read out of the projected rows by index arithmetic, and each
// query row's weights are materialised.
//
//===----------------------------------------------------------------------===//
#include "common/Philox.h"
#include "runtime/Errors.h"
#include "runtime/Layer.h"
#include "runtime/Reference.h"
#include "runtime/ReferenceDetail.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

/// y[m, n] = sum_k x[m, k] w[n, k] + bias[n] over a [M, K] buffer `x`
/// viewed through its strides as rows (rank 3 [B, S, K] or rank 2).
std::vector<double> linear(const std::vector<double> &x, int64_t m, int64_t k,
                           const BufferRef &w, const BufferRef *bias,
                           int64_t row0 = 0, int64_t n = -1) {
  if (n < 0)
    n = w.shape[0];
  std::vector<double> wd(n * k), y(m * n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      wd[r * k + c] =
          loadAsDouble(w, (row0 + r) * w.strides[0] + c * w.strides[1]);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < n; ++r) {
      double acc =
          bias ? loadAsDouble(*bias, (row0 + r) * bias->strides[0]) : 0.0;
      for (int64_t c = 0; c < k; ++c)
        acc += x[i * k + c] * wd[r * k + c];
      y[i * n + r] = acc;
    }
  return y;
}

std::vector<double> rowsOf(const BufferRef &buf) {
  int64_t b = buf.shape[0], s = buf.shape[1], e = buf.shape[2];
  std::vector<double> out(b * s * e);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < s; ++j)
      for (int64_t c = 0; c < e; ++c)
        out[(i * s + j) * e + c] = loadAsDouble(
            buf, i * buf.strides[0] + j * buf.strides[1] + c * buf.strides[2]);
  return out;
}

/// [B·S, H·D] rows -> logical [B, H, S, D].
std::vector<double> headsOf(const std::vector<double> &y, int64_t b, int64_t s,
                            int64_t h, int64_t d) {
  std::vector<double> out(b * h * s * d);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t hh = 0; hh < h; ++hh)
      for (int64_t j = 0; j < s; ++j)
        for (int64_t c = 0; c < d; ++c)
          out[((i * h + hh) * s + j) * d + c] =
              y[(i * s + j) * (h * d) + hh * d + c];
  return out;
}

} // namespace

llvm::Expected<LayerReference>
mlir::attn::rt::referenceLayer(const KernelSignature &sig,
                               const AttentionArgs &args) {
  if (!sig.layer)
    return makeError("referenceLayer needs a layer signature");
  KernelSignature inputs = sig;
  llvm::erase_if(inputs.args, [](const ArgInfo &a) { return a.isOutput; });
  AttentionArgs inArgs = args;
  inArgs.weights.reset();
  auto bound = bindArguments(inputs, inArgs);
  if (!bound)
    return bound.takeError();
  auto find = [&](ArgRole role) -> const BufferRef * {
    for (auto [info, buf] : llvm::zip(inputs.args, *bound))
      if (info.role == role)
        return &buf;
    return nullptr;
  };
  const LayerSpec &ls = *sig.layer;
  const AttentionSpec &s = sig.spec;
  int64_t b = s.batch, sq = s.queryLen, skv = s.kvLen, hq = s.numHeads,
          hkv = s.numKvHeads, d = s.headDim, dv = s.effectiveValueDim();
  int64_t e = ls.embed, ekv = ls.effectiveKvEmbed();
  std::vector<double> xq = rowsOf(*find(ArgRole::Query));
  std::vector<double> xk = ls.cross ? rowsOf(*find(ArgRole::Key)) : xq;
  std::vector<double> xv = ls.cross ? rowsOf(*find(ArgRole::Value)) : xq;
  std::vector<double> q, k, v;
  if (ls.combinedQkv) {
    const BufferRef &w = *find(ArgRole::QkvWeight);
    const BufferRef *bias = find(ArgRole::QkvBias);
    q = linear(xq, b * sq, e, w, bias, 0, hq * d);
    k = linear(xk, b * skv, ekv, w, bias, hq * d, hkv * d);
    v = linear(xv, b * skv, ekv, w, bias, (hq + hkv) * d, hkv * d);
  } else {
    q = linear(xq, b * sq, e, *find(ArgRole::QueryWeight),
               find(ArgRole::QueryBias));
    k = linear(xk, b * skv, ekv, *find(ArgRole::KeyWeight),
               find(ArgRole::KeyBias));
    v = linear(xv, b * skv, ekv, *find(ArgRole::ValueWeight),
               find(ArgRole::ValueBias));
  }
  ref::ReferenceProblem p;
  p.spec = s;
  p.spec.layout = Layout::BHSD; // the logical arrays below
  p.q = headsOf(q, b, sq, hq, d);
  p.k = headsOf(k, b, skv, hkv, d);
  p.v = headsOf(v, b, skv, hkv, dv);
  if (const BufferRef *m = find(ArgRole::BoolMask))
    p.boolMask = *m;
  if (const BufferRef *len = find(ArgRole::KvLengths))
    p.kvLengths = *len;
  if (const BufferRef *state = find(ArgRole::DropoutState)) {
    const char *base = static_cast<const char *>(state->data);
    std::memcpy(&p.dropoutSeed, base, 8);
    std::memcpy(&p.dropoutOffset, base + state->strides[0] * 8, 8);
  }
  p.scale = s.scale ? *s.scale : 1.0f / std::sqrt(static_cast<float>(d));

  LayerReference result;
  if (ls.returnWeights)
    result.weights.assign(b * hq * sq * skv, 0.0);
  // The attention output in the [B·Sq, Hq·Dv] rows the output projection
  // reads.
  std::vector<double> a(b * sq * hq * dv, 0.0), scores(skv), w(skv);
  double rate = s.dropout.value_or(0.0);
  uint32_t threshold = philox::dropThreshold(rate);
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t qi = 0; qi < sq; ++qi) {
        double maxScore = ref::referenceLogits(p, bi, h, qi, scores.data());
        if (maxScore == ninf)
          continue; // sees nothing: output and weights 0
        double sum = 0;
        for (int64_t j = 0; j < skv; ++j) {
          w[j] = scores[j] == ninf ? 0.0 : std::exp(scores[j] - maxScore);
          sum += w[j];
        }
        philox::Element el;
        el.seed = p.dropoutSeed;
        el.offset = static_cast<uint32_t>(p.dropoutOffset);
        el.batch = uint32_t(bi);
        el.head = uint32_t(h);
        el.numHeads = uint32_t(hq);
        el.query = uint32_t(qi);
        int64_t hk = h / (hq / hkv);
        double *out = &a[(bi * sq + qi) * hq * dv + h * dv];
        for (int64_t j = 0; j < skv; ++j) {
          double pw = w[j] / sum;
          if (rate > 0) {
            el.key = uint32_t(j);
            pw = philox::keep(el, threshold) ? pw / (1 - rate) : 0.0;
          }
          if (ls.returnWeights)
            result.weights[((bi * hq + h) * sq + qi) * skv + j] = pw;
          const double *vRow = &p.v[((bi * hkv + hk) * skv + j) * dv];
          for (int64_t c = 0; c < dv; ++c)
            out[c] += pw * vRow[c];
        }
      }
  result.output = linear(a, b * sq, hq * dv, *find(ArgRole::OutWeight),
                         find(ArgRole::OutBias));
  return result;
}
