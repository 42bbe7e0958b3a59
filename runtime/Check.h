//===- Check.h - compare a kernel's results with the reference -*- C++ -*-===//
//
// One definition of "numerically correct", shared by the unit tests and
// `attn-run --check`:
//
// - output: the normwise relative error max|out - ref| / max|ref| must not
//   exceed the dtype's tolerance (an all-zero reference, i.e. every row
//   masked, demands exact zeros). Absolute error relative to the output's
//   scale is what a flash kernel controls: per-element relative error is
//   meaningless for outputs that average to ~0.
// - lse: |lse - ref| / max(1, |ref|) within `lse`; rows that see nothing
//   must be -inf exactly.
// - a NaN or infinity in the output never passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CHECK_H
#define ATTN_RUNTIME_CHECK_H

#include "runtime/AttentionArgs.h"
#include "runtime/Reference.h"

#include <string>

namespace mlir::attn::rt {

struct Tolerance {
  double output;
  double lse;
};

/// f32 2e-5, f16 2e-3, bf16 1.6e-2 on the output (a few units of the
/// output's rounding: 2^-11 for f16, 2^-8 for bf16; f32 leaves room for
/// the polynomial exp and accumulation order); lse 2e-5 for all (it is
/// accumulated in f32 from inputs the reference sees bit-exactly).
Tolerance toleranceFor(DType dtype);

struct CheckReport {
  bool passed = false;
  double maxAbsError = 0;   ///< max |out - ref|
  double maxRelError = 0;   ///< maxAbsError / max|ref| (normwise)
  double maxLseError = 0;   ///< max |lse - ref| / max(1, |ref|)
  int64_t badValues = 0;    ///< NaN/inf outputs, -inf mismatches in lse
  std::string firstFailure; ///< e.g. "output[0, 3, 17, 5] = nan (ref 0.12)"

  /// "max abs err 1.2e-06, max rel err 3.4e-06, lse err 2e-07: PASS".
  std::string summary() const;
};

/// Compares the output (and lse, when the kernel has one) in `args` with
/// `ref`.
CheckReport checkAgainstReference(const KernelSignature &sig,
                                  const AttentionArgs &args,
                                  const ReferenceResult &ref, Tolerance tol);

} // namespace mlir::attn::rt

#endif
