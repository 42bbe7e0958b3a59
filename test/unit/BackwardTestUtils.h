//===- BackwardTestUtils.h - gradients vs the float64 reference -*- C++ -*-===//
#ifndef ATTN_TEST_UNIT_BACKWARDTESTUTILS_H
#define ATTN_TEST_UNIT_BACKWARDTESTUTILS_H

#include "runtime/CheckBackward.h"
#include "runtime/ReferenceBackward.h"

#include "gtest/gtest.h"

#include <iostream>

namespace attn_test {

/// Compares the gradients a backward kernel wrote into `args` with
/// referenceAttentionBackward under runtime/CheckBackward.h's tolerance
/// for the dtype, prints the errors, and adds a failure when they are
/// past it (or the reference fails). True when they pass.
inline bool gradientsMatchReference(const mlir::attn::rt::KernelSignature &sig,
                                    const mlir::attn::rt::AttentionArgs &args) {
  using namespace mlir::attn::rt;
  auto ref = referenceAttentionBackward(sig, args);
  if (!ref) {
    ADD_FAILURE() << llvm::toString(ref.takeError());
    return false;
  }
  GradientReport r = checkGradients(
      sig, args, *ref, gradientToleranceFor(dtypeOf(sig.spec.dtype)));
  EXPECT_TRUE(r.passed) << r.summary();
  std::cout << sig.spec.key() << ": " << r.summary() << "\n";
  return r.passed;
}

} // namespace attn_test

#endif
