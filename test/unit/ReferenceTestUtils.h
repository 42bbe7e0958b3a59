//===- ReferenceTestUtils.h - kernel results against float64 ---*- C++ -*-===//
#ifndef ATTN_TEST_UNIT_REFERENCETESTUTILS_H
#define ATTN_TEST_UNIT_REFERENCETESTUTILS_H

#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

#include "gtest/gtest.h"

namespace attn_test {

/// After a kernel run on `buffers`: the outputs match the float64
/// reference of `sig` within the dtype's tolerance (runtime/Check.h) and
/// nothing but the outputs was written.
inline void expectMatchesReference(const mlir::attn::rt::KernelSignature &sig,
                                   const mlir::attn::rt::HostBuffers &buffers) {
  using namespace mlir::attn::rt;
  auto ref = referenceAttention(sig, buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  CheckReport report = checkAgainstReference(
      sig, buffers.args(), *ref, toleranceFor(dtypeOf(sig.spec.dtype)));
  EXPECT_TRUE(report.passed) << report.summary();
  EXPECT_EQ(buffers.strayWrites(), "");
}

} // namespace attn_test

#endif
