//===- Check.cpp - kernel vs reference ------------------------------------===//
#include "runtime/Check.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

using namespace mlir::attn;
using namespace mlir::attn::rt;

Tolerance mlir::attn::rt::toleranceFor(DType dtype) {
  switch (dtype) {
  case DType::F16:
    return {2e-3, 2e-5};
  case DType::BF16:
    return {1.6e-2, 2e-5};
  default:
    return {2e-5, 2e-5};
  }
}

std::string CheckReport::summary() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "max abs err " << llvm::format("%.3g", maxAbsError) << ", max rel err "
     << llvm::format("%.3g", maxRelError) << ", lse err "
     << llvm::format("%.3g", maxLseError) << ": " << (passed ? "PASS" : "FAIL");
  if (!firstFailure.empty())
    os << " (" << firstFailure << ")";
  return s;
}

namespace {

std::string indexString(std::initializer_list<int64_t> idx) {
  std::string s = "[";
  for (int64_t i : idx)
    s += (s.size() > 1 ? ", " : "") + std::to_string(i);
  return s + "]";
}

std::string valueString(double v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.6g", v);
  return s;
}

} // namespace

CheckReport mlir::attn::rt::checkAgainstReference(const KernelSignature &sig,
                                                  const AttentionArgs &args,
                                                  const ReferenceResult &ref,
                                                  Tolerance tol) {
  CheckReport r;
  const AttentionSpec &s = sig.spec;
  int64_t dv = s.effectiveValueDim();
  const BufferRef &out = args.output;
  auto st = out.effectiveStrides();
  auto fail = [&](std::string what) {
    if (r.firstFailure.empty())
      r.firstFailure = std::move(what);
  };

  double refMax = 0;
  for (double v : ref.output)
    refMax = std::max(refMax, std::abs(v));
  size_t i = 0;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.numHeads; ++h)
      for (int64_t q = 0; q < s.queryLen; ++q)
        for (int64_t d = 0; d < dv; ++d, ++i) {
          int64_t hh = h, qq = q;
          if (s.layout == Layout::BSHD)
            std::swap(hh, qq);
          double got = loadAsDouble(out, b * st[0] + hh * st[1] + qq * st[2] +
                                             d * st[3]);
          double want = ref.output[i];
          if (!std::isfinite(got)) {
            ++r.badValues;
            fail("output" + indexString({b, h, q, d}) + " = " +
                 valueString(got) + " (ref " + valueString(want) + ")");
            continue;
          }
          double err = std::abs(got - want);
          if (err > r.maxAbsError) {
            r.maxAbsError = err;
            if (err > tol.output * refMax)
              fail("output" + indexString({b, h, q, d}) + " = " +
                   valueString(got) + " (ref " + valueString(want) + ")");
          }
        }
  r.maxRelError = refMax > 0          ? r.maxAbsError / refMax
                  : r.maxAbsError > 0 ? std::numeric_limits<double>::infinity()
                                      : 0.0;

  if (const BufferRef *lse = args.get(ArgRole::Lse);
      lse && sig.has(ArgRole::Lse)) {
    auto ls = lse->effectiveStrides();
    size_t j = 0;
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.numHeads; ++h)
        for (int64_t q = 0; q < s.queryLen; ++q, ++j) {
          double got = loadAsDouble(*lse, b * ls[0] + h * ls[1] + q * ls[2]);
          double want = ref.lse[j];
          bool wantInf = std::isinf(want) && want < 0;
          bool gotInf = std::isinf(got) && got < 0;
          if (std::isnan(got) || wantInf != gotInf ||
              (!wantInf && !std::isfinite(got))) {
            ++r.badValues;
            fail("lse" + indexString({b, h, q}) + " = " + valueString(got) +
                 " (ref " + valueString(want) + ")");
            continue;
          }
          if (wantInf)
            continue;
          double err = std::abs(got - want) / std::max(1.0, std::abs(want));
          if (err > r.maxLseError) {
            r.maxLseError = err;
            if (err > tol.lse)
              fail("lse" + indexString({b, h, q}) + " = " + valueString(got) +
                   " (ref " + valueString(want) + ")");
          }
        }
  }
  r.passed = r.badValues == 0 && r.maxRelError <= tol.output &&
             r.maxLseError <= tol.lse;
  return r;
}
