//===- AdditiveSpec.h - additive attention without MLIR --------*- C++ -*-===//
//
// The plain description of one attn.additive_attention (seed 002's
// AdditiveAttention) that Runtime::compileAdditive takes, like
// AttentionSpec for attn.attention. Buffers (KernelSignature roles):
//   query [B, Sq, Dq], key [B, Skv, Dk], value [B, Skv, Dv],
//   query_weight [H, Dq], key_weight [H, Dk], score_weight [1, H],
//   [bias [H]], [score_bias [1]], [kv_lengths [B] i32],
//   [bool_mask [B, Sq, Skv] i1], output [B, Sq, Dv], [weights [B, Sq, Skv]].
// batch, queryLen and kvLen may be kDynamicSize (taken from each call's
// query and key buffers).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_ADDITIVESPEC_H
#define ATTN_RUNTIME_ADDITIVESPEC_H

#include "dialect/AttentionSpec.h"

#include <string>

namespace mlir::attn::rt {

struct AdditiveSpec {
  int64_t batch = 1;
  int64_t queryLen = 1; ///< Sq (the seed: 1, one decoder state)
  int64_t kvLen = 1;    ///< Skv
  int64_t hidden = 64;  ///< H
  int64_t queryDim = 64, keyDim = 64, valueDim = 64;
  ElementType dtype = ElementType::F32;
  bool withBias = true;       ///< the seed's `bias` [H] inside the tanh
  bool withScoreBias = false; ///< score_proj.bias [1] (cancels in softmax)
  bool withKvLengths = false;
  bool withBoolMask = false;
  bool returnWeights = false; ///< the seed's second result

  bool operator==(const AdditiveSpec &) const = default;
  bool hasDynamicSizes() const;
  AdditiveSpec withSizes(int64_t batch, int64_t queryLen, int64_t kvLen) const;
  /// Empty when valid, else what is wrong (the op verifier's limits).
  std::string validate() const;
  /// A cache key holding every field.
  std::string key() const;
  /// 2·B·(Sq·Dq + Skv·Dk)·H projections + B·Sq·Skv·(3·H + 2·Dv) (a tanh
  /// counted as one flop).
  double flops() const;
};

} // namespace mlir::attn::rt

#endif
