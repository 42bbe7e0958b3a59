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

/// A batch, query length or KV length known only at run time (`?` in the
/// shorthand and in MLIR shapes): one kernel serves every value.
inline constexpr int64_t kDynamicSize = ShapedType::kDynamic;

/// A block-sparse mask (attn.attention's block_mask, FlexAttention's
/// BlockMask): kv_num_blocks [B or 1, Hq or 1, ceil(Sq / qBlock)] and
/// kv_indices [.., maxBlocks] i32.
struct BlockSparseSpec {
  int64_t qBlock = 128, kvBlock = 128;
  bool perBatch = false; ///< B lists, else one shared by the batch
  bool perHead = false;  ///< Hq lists, else one shared by the heads
  int64_t maxBlocks = 0; ///< kv_indices' last dim; 0: ceil(Skv / kvBlock)
  bool operator==(const BlockSparseSpec &) const = default;
};

struct AttentionSpec {
  /// batch, queryLen and kvLen may be kDynamicSize; everything else is
  /// compiled in.
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
  /// Dropout probability p in [0, 1) on the attention weights; the kernel
  /// then takes a [2] i64 (seed, offset) operand. Absent: no dropout.
  std::optional<double> dropout;
  /// Block-sparse mask operands (kv_num_blocks, kv_indices); absent: none.
  std::optional<BlockSparseSpec> blockSparse;

  bool operator==(const AttentionSpec &) const = default;

  int64_t effectiveValueDim() const { return valueDim ? valueDim : headDim; }
  /// True when batch, queryLen or kvLen is kDynamicSize.
  bool hasDynamicSizes() const;
  /// The spec with run-time batch, query and KV lengths: the kernel that
  /// serves every size of this one. Sq = 1 stays static (decode is its own
  /// kernel kind, with dot-product tiles).
  AttentionSpec withRunTimeSizes() const;
  /// The spec with its run-time sizes set to `batch`, `queryLen`, `kvLen`
  /// (static ones stay).
  AttentionSpec withSizes(int64_t batch, int64_t queryLen, int64_t kvLen) const;
  /// Empty when the spec is consistent; otherwise a one-line reason.
  std::string validate() const;
  /// A stable, human-readable key (the shorthand form), e.g. for caches.
  std::string key() const;
  /// Physical shapes of q, k, v and output in the spec's layout (with
  /// kDynamicSize for run-time sizes).
  SmallVector<int64_t, 4> queryShape() const;
  SmallVector<int64_t, 4> keyShape() const;
  SmallVector<int64_t, 4> valueShape() const;
  SmallVector<int64_t, 4> outputShape() const;
  /// Shapes of kv_num_blocks and kv_indices (blockSparse set).
  SmallVector<int64_t, 4> numBlocksShape() const;
  SmallVector<int64_t, 4> blockIndicesShape() const;
  /// Multiply-adds of Q·Kᵀ and P·V counted as 2 flops each, over the
  /// positions the mask leaves visible (exact for structured masks); 0 with
  /// run-time sizes.
  double flops() const;
};

/// Builds the MLIR element type for `t`.
Type getElementType(MLIRContext *ctx, ElementType t);

/// Creates `func.func @name(q, k, v[, kv_lengths][, sinks][, dropout_state]
/// [, kv_num_blocks, kv_indices])
/// -> (out[, lse])`
/// holding
/// one attn.attention for `spec`, at the builder's insertion point.
/// Fails (with a diagnostic at `loc`) when `spec.validate()` does.
FailureOr<func::FuncOp> buildAttentionFunc(OpBuilder &builder, Location loc,
                                           const AttentionSpec &spec,
                                           StringRef name = "attention");

/// Parses the shorthand `KIND:key=value,...` (KIND: mha|mqa|gqa; keys b, hq,
/// hkv, sq, skv, s, d, dv, dtype, layout, causal, offset, window=L:R,
/// dilation, global, scale, softcap, ragged, lse, sinks, dropout,
/// blocks=BQ:BK[:head][:batch][:maxN]; b, sq, skv
/// and s
/// may be `?`). On failure returns
/// nullopt and sets `error` to a one-line message naming the bad key.
std::optional<AttentionSpec> parseSpecShorthand(llvm::StringRef text,
                                                std::string &error);

} // namespace mlir::attn

#endif
