//===- MaskBuilder.h - IR for structured-mask predicates --------*- C++ -*-===//
//
// The one place that turns a MaskSpec (dialect/MaskSpec.h, the semantics)
// into IR: "may query i see key j" per pair, "which keys can a block of
// queries see" and "is every pair of a tile visible". The CPU vector code,
// mask-aware iteration and the GPU kernels all build their masks here, so
// a new mask parameter is added in one place.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_MASKBUILDER_H
#define ATTN_PASSES_MASKBUILDER_H

#include "dialect/MaskSpec.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn {

class MaskBuilder {
public:
  MaskBuilder(ImplicitLocOpBuilder &b, const MaskSpec &mask)
      : b(b), mask(mask) {}

  /// `known` and "query position `q` may see key `k`" (MaskSpec::allows;
  /// `q` includes the mask's q_offset). `q` and `k` have one type: index,
  /// an integer or a vector of integers (one pair per lane); the result is
  /// i1 or a vector of i1. `known` may be null (nothing known); the result
  /// is null when the mask allows every pair and nothing was known.
  Value allows(Value q, Value k, Value known = {});

  /// The keys queries at positions [qLo, qHi] (index values) may see,
  /// global tokens left aside: `first` (>= 0) and `last`, null where the
  /// mask does not bound them. Keys outside hold no visible pair unless
  /// global tokens are involved.
  struct KeyRange {
    Value first, last;
  };
  KeyRange visibleKeys(Value qLo, Value qHi);

  /// The dual, for the backward's loops over query blocks: the query
  /// positions that may see some key of [kLo, kHi] (index values), null
  /// where unbounded. With global tokens only the causal bound is kept.
  KeyRange visibleQueries(Value kLo, Value kHi);

  /// `inBounds` and "every pair of queries [qLo, qHi] × keys [k0, kLast]
  /// is visible" (index values). Conservative: false with dilation, and
  /// global tokens never make a tile fully visible.
  Value fullyVisible(Value inBounds, Value qLo, Value qHi, Value k0,
                     Value kLast);

  const MaskSpec &spec() const { return mask; }

private:
  /// `v` as a constant of type `t` (index, integer or a vector splat).
  Value constant(Type t, int64_t v);
  Value cmp(int pred, Value x, Value y);
  Value both(Value x, Value y);

  ImplicitLocOpBuilder &b;
  MaskSpec mask;
};

} // namespace mlir::attn

#endif
