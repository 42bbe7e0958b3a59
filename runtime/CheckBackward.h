//===- CheckBackward.h - compare gradients with the reference --*- C++ -*-===//
//
// The backward's pass/fail rule, shared by tests and `attn-run --backward
// --check`: for each of dQ, dK and dV the normwise relative error
// max|g - ref| / max|ref| within the dtype's gradient tolerance (an all-zero
// reference demands exact zeros); a NaN or infinity never passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CHECKBACKWARD_H
#define ATTN_RUNTIME_CHECKBACKWARD_H

#include "runtime/AttentionArgs.h"
#include "runtime/ReferenceBackward.h"

#include <string>

namespace mlir::attn::rt {

/// Gradient tolerances (normwise relative): f32 5e-5, f16 3e-3, bf16 2e-2.
/// Looser than the forward's: the kernel starts from the forward's rounded
/// O and lse, and dS = P (dP - D) loses bits to cancellation.
double gradientToleranceFor(DType dtype);

struct GradientReport {
  bool passed = false;
  double dqError = 0, dkError = 0, dvError = 0; ///< normwise relative
  int64_t badValues = 0;                        ///< NaN / inf
  std::string firstFailure;
  /// "dq 1.2e-06, dk 3.4e-06, dv 2e-07: PASS".
  std::string summary() const;
};

/// Compares grad_query, grad_key and grad_value in `args` (physical buffers
/// of a backward signature) with `ref` under `tolerance`.
GradientReport checkGradients(const KernelSignature &sig,
                              const AttentionArgs &args,
                              const ReferenceGradients &ref, double tolerance);

} // namespace mlir::attn::rt

#endif
