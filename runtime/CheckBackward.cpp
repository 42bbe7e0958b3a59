//===- CheckBackward.cpp - kernel gradients vs the reference --------------===//
#include "runtime/CheckBackward.h"
#include "runtime/Reference.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>

using namespace mlir::attn;
using namespace mlir::attn::rt;

double mlir::attn::rt::gradientToleranceFor(DType dtype) {
  switch (dtype) {
  case DType::F16:
    return 3e-3;
  case DType::BF16:
    return 2e-2;
  default:
    return 5e-5;
  }
}

std::string GradientReport::summary() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "dq " << llvm::format("%.3g", dqError) << ", dk "
     << llvm::format("%.3g", dkError) << ", dv "
     << llvm::format("%.3g", dvError) << ": " << (passed ? "PASS" : "FAIL");
  if (!firstFailure.empty())
    os << " (" << firstFailure << ")";
  return s;
}

namespace {

/// Normwise relative error of one gradient buffer against logical
/// [B, heads, seq, dim] `ref`; +inf for a NaN/inf element or a nonzero
/// value where the reference is all zero.
double compare(const char *name, const BufferRef &buf, Layout layout,
               const std::vector<double> &ref, int64_t batch, int64_t heads,
               int64_t seq, int64_t dim, GradientReport &r) {
  auto st = buf.effectiveStrides();
  double refMax = 0, errMax = 0;
  for (double v : ref)
    refMax = std::max(refMax, std::fabs(v));
  size_t i = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < seq; ++s)
        for (int64_t d = 0; d < dim; ++d, ++i) {
          int64_t hh = h, ss = s;
          if (layout == Layout::BSHD)
            std::swap(hh, ss);
          double got = loadAsDouble(buf, b * st[0] + hh * st[1] + ss * st[2] +
                                             d * st[3]);
          if (!std::isfinite(got)) {
            ++r.badValues;
            if (r.firstFailure.empty())
              r.firstFailure = std::string(name) + "[" + std::to_string(b) +
                               ", " + std::to_string(h) + ", " +
                               std::to_string(s) + ", " + std::to_string(d) +
                               "] is not finite";
            errMax = std::numeric_limits<double>::infinity();
            continue;
          }
          errMax = std::max(errMax, std::fabs(got - ref[i]));
        }
  if (refMax > 0)
    return errMax / refMax;
  return errMax > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

} // namespace

GradientReport mlir::attn::rt::checkGradients(const KernelSignature &sig,
                                              const AttentionArgs &args,
                                              const ReferenceGradients &ref,
                                              double tolerance) {
  GradientReport r;
  const AttentionSpec &s = sig.spec;
  if (!args.gradQuery || !args.gradKey || !args.gradValue) {
    r.firstFailure = "missing gradient buffers";
    return r;
  }
  int64_t dv = s.effectiveValueDim();
  r.dqError = compare("grad_query", *args.gradQuery, s.layout, ref.dq, s.batch,
                      s.numHeads, s.queryLen, s.headDim, r);
  r.dkError = compare("grad_key", *args.gradKey, s.layout, ref.dk, s.batch,
                      s.numKvHeads, s.kvLen, s.headDim, r);
  r.dvError = compare("grad_value", *args.gradValue, s.layout, ref.dv, s.batch,
                      s.numKvHeads, s.kvLen, dv, r);
  r.passed = r.badValues == 0 && r.dqError <= tolerance &&
             r.dkError <= tolerance && r.dvError <= tolerance;
  if (!r.passed && r.firstFailure.empty())
    r.firstFailure = "past the tolerance " + std::to_string(tolerance);
  return r;
}
