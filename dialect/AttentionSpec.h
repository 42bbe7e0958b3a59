//===- AttentionSpec.h - a plain description of one attention --*- C++ -*-===//
//
// AttentionSpec is the plain struct the runtime and tools use to ask for an
// attention kernel without writing MLIR. buildAttentionFunc turns it into a
// `func.func` holding one `attn.attention`.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_ATTENTIONSPEC_H
#define ATTN_DIALECT_ATTENTIONSPEC_H

#include "dialect/AttnOps.h"
#include "dialect/MaskSpec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::attn {

enum class ElementType { F32, F16, BF16 };

/// Name as written in MLIR and in the shorthand: "f32", "f16", "bf16".
const char *stringifyElementType(ElementType t);
std::optional<ElementType> parseElementType(llvm::StringRef s);
/// Bytes per element.
int64_t elementBytes(ElementType t);

struct AttentionSpec {
  int64_t batch = 1;
  int64_t numHeads = 1;   ///< Hq
  int64_t numKvHeads = 1; ///< Hkv; Hq % Hkv == 0
  int64_t queryLen = 1;   ///< Sq
  int64_t kvLen = 1;      ///< Skv
  int64_t headDim = 64;   ///< D
  int64_t valueDim = 0;   ///< Dv; 0 means equal to headDim
  ElementType dtype = ElementType::F32;
  Layout layout = Layout::BHSD;
  MaskSpec mask;
  std::optional<float> scale;   ///< default 1/sqrt(D)
  std::optional<float> softcap; ///< absent: no soft-capping
  bool withKvLengths = false;   ///< ragged batch: a [B] i32 operand
  bool returnLse = false;       ///< also return the [B, Hq, Sq] f32 lse
  bool withSinks = false;       ///< attention sinks: a [Hq] f32 operand

  bool operator==(const AttentionSpec &) const = default;

  int64_t effectiveValueDim() const { return valueDim ? valueDim : headDim; }
  /// Empty when the spec is consistent; otherwise a one-line reason.
  std::string validate() const;
  /// A stable, human-readable key (the shorthand form), e.g. for caches.
  std::string key() const;
  /// Physical shapes of q, k, v and output in the spec's layout.
  SmallVector<int64_t, 4> queryShape() const;
  SmallVector<int64_t, 4> keyShape() const;
  SmallVector<int64_t, 4> valueShape() const;
  SmallVector<int64_t, 4> outputShape() const;
  /// Multiply-adds of Q·Kᵀ and P·V counted as 2 flops each, over the
  /// positions the mask leaves visible (exact for structured masks).
  double flops() const;
};

/// Builds the MLIR element type for `t`.
Type getElementType(MLIRContext *ctx, ElementType t);

/// Creates `func.func @name(q, k, v[, kv_lengths][, sinks]) -> (out[, lse])`
/// holding
/// one attn.attention for `spec`, at the builder's insertion point.
/// Fails (with a diagnostic at `loc`) when `spec.validate()` does.
FailureOr<func::FuncOp> buildAttentionFunc(OpBuilder &builder, Location loc,
                                           const AttentionSpec &spec,
                                           StringRef name = "attention");

/// Parses the shorthand `KIND:key=value,...` (KIND: mha|mqa|gqa; keys b, hq,
/// hkv, sq, skv, s, d, dv, dtype, layout, causal, offset, window=L:R,
/// dilation, global, scale, softcap, ragged, lse, sinks). On failure returns
/// nullopt and sets `error` to a one-line message naming the bad key.
std::optional<AttentionSpec> parseSpecShorthand(llvm::StringRef text,
                                                std::string &error);

} // namespace mlir::attn

#endif
