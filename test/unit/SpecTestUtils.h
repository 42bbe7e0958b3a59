//===- SpecTestUtils.h - attention specs for the unit tests ----*- C++ -*-===//
#ifndef ATTN_TEST_UNIT_SPECTESTUTILS_H
#define ATTN_TEST_UNIT_SPECTESTUTILS_H

#include "dialect/AttentionSpec.h"

#include "gtest/gtest.h"

#include <string>

namespace attn_test {

/// The spec of these sizes, element type, layout and lse result; the rest
/// (mask, scale, ...) as AttentionSpec has it.
inline mlir::attn::AttentionSpec
makeSpec(int64_t b, int64_t hq, int64_t hkv, int64_t sq, int64_t skv, int64_t d,
         mlir::attn::ElementType dtype = mlir::attn::ElementType::F32,
         mlir::attn::Layout layout = mlir::attn::Layout::BHSD,
         bool lse = false) {
  mlir::attn::AttentionSpec s;
  s.batch = b;
  s.numHeads = hq;
  s.numKvHeads = hkv;
  s.queryLen = sq;
  s.kvLen = skv;
  s.headDim = d;
  s.dtype = dtype;
  s.layout = layout;
  s.returnLse = lse;
  return s;
}

/// The spec of a shorthand ("gqa:hq=8,hkv=2,s=64,d=64,causal") that must
/// parse; a test failure (and a default spec) otherwise.
inline mlir::attn::AttentionSpec specOf(const std::string &shorthand) {
  std::string error;
  auto spec = mlir::attn::parseSpecShorthand(shorthand, error);
  EXPECT_TRUE(spec.has_value()) << shorthand << ": " << error;
  return spec.value_or(mlir::attn::AttentionSpec());
}

} // namespace attn_test

#endif
