//===- ReferenceAdditive.cpp - float64 additive attention -----------------===//
//
// attn.additive_attention as its definition reads (AttnOps.td), in double:
//   pq[b, q, h] = sum_d Wq[h, d] q[b, q, d],  pk[b, k, h] = sum_d Wk[h, d] k[b,
//   k, d] s[b, q, k]  = sum_h w[h] tanh(pq + pk + bias[h]) + score_bias s =
//   -inf where k >= kv_lengths[b] or !bool_mask[b, q, k] weights = softmax over
//   k (all 0 when every key is masked) out[b, q] = sum_k weights[b, q, k] v[b,
//   k]
// Unfused and unblocked on purpose: it shares no code with the kernel.
//
//===----------------------------------------------------------------------===//
#include "runtime/AdditiveKernel.h"
#include "runtime/Errors.h"
#include "runtime/Reference.h"

#include <cmath>
#include <limits>
#include <map>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

/// Element (i, j[, l]) of a bound buffer.
double at(const BufferRef &buf, int64_t i, int64_t j = 0, int64_t l = 0) {
  int64_t off = i * buf.strides[0];
  if (buf.shape.size() > 1)
    off += j * buf.strides[1];
  if (buf.shape.size() > 2)
    off += l * buf.strides[2];
  return loadAsDouble(buf, off);
}

bool maskAt(const BufferRef &buf, int64_t b, int64_t q, int64_t k) {
  int64_t off = b * buf.strides[0] + q * buf.strides[1] + k * buf.strides[2];
  return static_cast<const uint8_t *>(buf.data)[off] != 0;
}

/// rows[r, h] = sum_d w[h, d] x[b, r, d] for r < n.
std::vector<double> project(const BufferRef &x, const BufferRef &w, int64_t b,
                            int64_t n, int64_t hidden) {
  int64_t dim = x.shape[2];
  std::vector<double> out(n * hidden, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t h = 0; h < hidden; ++h) {
      double sum = 0;
      for (int64_t d = 0; d < dim; ++d)
        sum += at(w, h, d) * at(x, b, r, d);
      out[r * hidden + h] = sum;
    }
  return out;
}

} // namespace

llvm::Expected<AdditiveReference>
mlir::attn::rt::referenceAdditive(const KernelSignature &kernelSig,
                                  const AttentionArgs &args) {
  if (!kernelSig.additive)
    return makeError("referenceAdditive: not an additive-attention kernel");
  // Inputs only: the reference writes nothing.
  KernelSignature inputs = kernelSig;
  llvm::erase_if(inputs.args, [](const ArgInfo &a) { return a.isOutput; });
  AttentionArgs inArgs = args;
  inArgs.output = BufferRef();
  inArgs.weights.reset();
  auto bound = bindArguments(inputs, inArgs);
  if (!bound)
    return bound.takeError();
  std::map<ArgRole, const BufferRef *> buf;
  for (auto [info, ref] : llvm::zip(inputs.args, *bound))
    buf[info.role] = &ref;
  auto get = [&](ArgRole r) -> const BufferRef * {
    auto it = buf.find(r);
    return it == buf.end() ? nullptr : it->second;
  };
  const BufferRef &q = *get(ArgRole::Query), &k = *get(ArgRole::Key),
                  &v = *get(ArgRole::Value);
  int64_t nb = q.shape[0], sq = q.shape[1], skv = k.shape[1], dv = v.shape[2];
  int64_t hidden = get(ArgRole::QueryWeight)->shape[0];
  const BufferRef *bias = get(ArgRole::Bias), *sb = get(ArgRole::ScoreBias),
                  *len = get(ArgRole::KvLengths),
                  *mask = get(ArgRole::BoolMask);
  const BufferRef &ws = *get(ArgRole::ScoreWeight);
  double scoreBias = sb ? at(*sb, 0) : 0.0;
  AdditiveReference out;
  out.output.assign(nb * sq * dv, 0.0);
  out.weights.assign(nb * sq * skv, 0.0);
  const double negInf = -std::numeric_limits<double>::infinity();
  for (int64_t b = 0; b < nb; ++b) {
    std::vector<double> pq =
        project(q, *get(ArgRole::QueryWeight), b, sq, hidden);
    std::vector<double> pk =
        project(k, *get(ArgRole::KeyWeight), b, skv, hidden);
    int64_t valid = len ? static_cast<int64_t>(at(*len, b)) : skv;
    for (int64_t i = 0; i < sq; ++i) {
      std::vector<double> s(skv, negInf);
      double mx = negInf;
      for (int64_t j = 0; j < skv; ++j) {
        if (j >= valid || (mask && !maskAt(*mask, b, i, j)))
          continue;
        double sum = scoreBias;
        for (int64_t h = 0; h < hidden; ++h)
          sum +=
              at(ws, 0, h) * std::tanh(pq[i * hidden + h] + pk[j * hidden + h] +
                                       (bias ? at(*bias, h) : 0.0));
        s[j] = sum;
        mx = std::max(mx, sum);
      }
      if (mx == negInf)
        continue; // nothing visible: weights and output stay 0
      double denom = 0;
      for (int64_t j = 0; j < skv; ++j)
        denom += s[j] == negInf ? 0.0 : std::exp(s[j] - mx);
      double *w = &out.weights[(b * sq + i) * skv];
      double *o = &out.output[(b * sq + i) * dv];
      for (int64_t j = 0; j < skv; ++j) {
        w[j] = s[j] == negInf ? 0.0 : std::exp(s[j] - mx) / denom;
        for (int64_t d = 0; d < dv; ++d)
          o[d] += w[j] * at(v, b, j, d);
      }
    }
  }
  return out;
}
