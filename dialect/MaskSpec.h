//===- MaskSpec.h - structured mask semantics, MLIR-free -------*- C++ -*-===//
//
// The one definition of which (query, key) pairs a structured mask allows;
// #attn.mask, the spec builder and the passes all defer to it.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_MASKSPEC_H
#define ATTN_DIALECT_MASKSPEC_H

#include <cstdint>

namespace mlir::attn {

struct MaskSpec {
  bool causal = false;
  int64_t qOffset = 0;
  int64_t windowLeft = -1;  ///< -1: unbounded
  int64_t windowRight = -1; ///< -1: unbounded
  int64_t dilation = 1;
  int64_t globalTokens = 0;

  bool operator==(const MaskSpec &) const = default;

  bool hasWindow() const { return windowLeft >= 0 || windowRight >= 0; }
  /// True when no pair is ever masked.
  bool isTrivial() const { return !causal && !hasWindow() && dilation == 1; }

  /// May query absolute position `i` (q index + qOffset) attend to key `j`?
  /// Global tokens see and are seen by everything, except that a causal
  /// mask never lets a query look ahead.
  bool allows(int64_t i, int64_t j) const {
    if (causal && j > i)
      return false;
    if (globalTokens > 0 && (j < globalTokens || i < globalTokens))
      return true;
    int64_t distance = i - j;
    if (windowLeft >= 0 && distance > windowLeft)
      return false;
    if (windowRight >= 0 && -distance > windowRight)
      return false;
    return dilation == 1 || distance % dilation == 0;
  }
};

} // namespace mlir::attn

#endif
