//===- LayerSpec.h - a multi-head attention layer without MLIR --*- C++ -*-===//
//
// The plain description of one attn.multi_head_attention that
// Runtime::compileLayer takes. Buffers (KernelSignature roles, in ABI
// order):
//   query [B, Sq, E], [key [B, Skv, Ekv], value [B, Skv, Ekv]] (cross),
//   qkv_weight [(Hq + 2·Hkv)·D, E] | query_weight [Hq·D, E],
//     key_weight [Hkv·D, Ekv], value_weight [Hkv·Dv, Ekv],
//   [qkv_bias [(Hq + 2·Hkv)·D] | query_bias, key_bias, value_bias],
//   out_weight [E_out, Hq·Dv], [out_bias [E_out]],
//   [bool_mask (boolMaskShape) i1], [kv_lengths [B] i32],
//   [dropout_state [2] i64], output [B, Sq, E_out],
//   [weights [B, Hq, Sq, Skv]].
// The weights and biases are bound once, by the Layer (Runtime.h).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_LAYERSPEC_H
#define ATTN_RUNTIME_LAYERSPEC_H

#include "dialect/AttentionSpec.h"

#include <string>

namespace mlir::attn::rt {

struct LayerSpec {
  /// The attention inside, in the bshd layout the projections produce:
  /// batch, numHeads, numKvHeads, queryLen, kvLen (= queryLen for
  /// self-attention), headDim, valueDim, dtype, mask, scale, withKvLengths
  /// and dropout. Static sizes; its layout is ignored (bshd), softcap,
  /// sinks and returnLse are not taken.
  AttentionSpec attention;
  int64_t embed = 64;      ///< E, the query input's features
  int64_t kvEmbed = 0;     ///< Ekv of the key/value inputs (cross; 0: E)
  int64_t outEmbed = 0;    ///< E_out (0: E)
  bool cross = false;      ///< key and value inputs of their own
  bool combinedQkv = true; ///< one qkv_weight, else three (Dv may differ)
  bool withQkvBias = true; ///< the input projection's bias(es)
  bool withOutBias = true; ///< out_bias
  /// Empty: no bool_mask; else its shape, broadcastable to
  /// [B, Hq, Sq, Skv] (e.g. [B, 1, 1, Skv]: a key padding mask).
  llvm::SmallVector<int64_t, 4> boolMaskShape;
  bool returnWeights = false; ///< the per-head attention weights

  bool operator==(const LayerSpec &) const = default;
  int64_t effectiveKvEmbed() const { return kvEmbed ? kvEmbed : embed; }
  int64_t effectiveOutEmbed() const { return outEmbed ? outEmbed : embed; }
  /// Empty when valid, else what is wrong.
  std::string validate() const;
  /// A cache key holding every field.
  std::string key() const;
  /// 2 flops per multiply-add of the four projections, plus the
  /// attention's (AttentionSpec::flops).
  double flops() const;
};

} // namespace mlir::attn::rt

#endif
