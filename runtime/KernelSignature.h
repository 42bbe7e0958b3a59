//===- KernelSignature.h - the buffers a compiled kernel takes -*- C++ -*-===//
//
// A kernel's ABI is `_mlir_ciface_attention(memref*..., begin, end)` with one
// memref per buffer, in the operand order of attn.attention followed by its
// results (see docs/runtime.md). KernelSignature lists those buffers with the
// exact dtype and shape each must have, so that calls can be validated
// before any JIT code touches memory.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KERNELSIGNATURE_H
#define ATTN_RUNTIME_KERNELSIGNATURE_H

#include "dialect/AttentionSpec.h"
#include "runtime/AdditiveSpec.h"
#include "runtime/Buffer.h"
#include "runtime/LayerSpec.h"

#include "llvm/ADT/SmallVector.h"

#include <memory>
#include <optional>
#include <string>

namespace mlir::attn::rt {

class RegionProgram;

/// What a kernel buffer holds; the enumerator order is the ABI order
/// (except Sinks, see there).
enum class ArgRole {
  Query,
  Key,
  Value,
  BoolMask,
  Bias,
  KvLengths,
  QSegmentIds,
  KvSegmentIds,
  Output,
  Lse,
  /// After Lse so that the C API's attn_arg_role values stay stable; in
  /// the ABI the sinks come after the segment ids (operand order).
  Sinks,
  // The backward kernel (attn.attention_grad): its extra input dO and its
  // results, in ABI order query, key, value, [kv_lengths], output,
  // grad_output, lse, grad_query, grad_key, grad_value. Output and Lse are
  // inputs there.
  GradOutput,
  GradQuery,
  GradKey,
  GradValue,
  GradBias,
  /// Dropout's [seed, offset] i64 state (attn.attention's `dropout`
  /// operand). Last so that the C API's values stay stable; in the ABI it
  /// comes after the sinks (operand order).
  DropoutState,
  // attn.additive_attention (AdditiveSpec.h); Bias, BoolMask and
  // KvLengths keep their names there. Last, for the C API's values.
  QueryWeight,
  KeyWeight,
  ScoreWeight,
  ScoreBias,
  /// The attention weights result [B, Sq, Skv] ([B, Hq, Sq, Skv] for a
  /// layer).
  Weights,
  // attn.multi_head_attention (LayerSpec.h): the input projection (Query
  // and KeyWeight keep their names there), its biases and the output
  // projection. Last, for the C API's values.
  ValueWeight,
  QkvWeight,
  QkvBias,
  QueryBias,
  KeyBias,
  ValueBias,
  OutWeight,
  OutBias,
  /// attn.attention's block-sparse mask (`block_mask`): [B', H', Qblocks]
  /// and [B', H', Qblocks, maxBlocks] i32. Last, for the C API's values; in
  /// the ABI they follow the dropout state (operand order).
  KvNumBlocks,
  KvIndices,
};

/// Every role, in enumerator order.
llvm::ArrayRef<ArgRole> allArgRoles();

/// "query", "kv_lengths", ... (the operand names of attn.attention).
const char *stringifyArgRole(ArgRole r);

struct ArgInfo {
  ArgRole role;
  DType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  /// The ABI memref has a static innermost stride of 1.
  bool unitInnerStride = true;
  /// Written by the kernel.
  bool isOutput = false;
};

struct KernelSignature {
  /// Buffers in ABI order (the trailing begin/end indices are implicit).
  llvm::SmallVector<ArgInfo, 6> args;
  /// The op's shapes, dtype, layout, mask and attributes as a spec. Exact
  /// when the op has no bool_mask, bias, segment ids or regions (see
  /// `isPlainSpec`); otherwise those come on top of it.
  AttentionSpec spec;
  bool hasScoreMod = false;
  /// The kernel computes attn.attention_grad (signatureForBackwardSpec).
  bool isBackward = false;
  bool hasMaskMod = false;
  /// The kernel computes attn.additive_attention of this spec
  /// (signatureForAdditiveSpec); `spec` then holds only its batch, Sq and
  /// Skv, for the checks shared with attention kernels.
  std::optional<AdditiveSpec> additive;
  /// The kernel computes attn.multi_head_attention of this spec
  /// (signatureForLayerSpec); `spec` is its attention.
  std::optional<LayerSpec> layer;
  /// The regions as programs for the float64 reference (RegionInterpreter.h);
  /// null when absent or not interpretable (`regionError` says why).
  std::shared_ptr<const RegionProgram> scoreModProgram, maskModProgram;
  std::string regionError;

  const ArgInfo *find(ArgRole role) const;
  bool has(ArgRole role) const { return find(role) != nullptr; }
  /// True when `spec` alone describes the computation.
  bool isPlainSpec() const;
};

/// Element dtype of the spec's q/k/v/output buffers.
DType dtypeOf(ElementType t);

/// The signature of the kernel built for `spec` (q, k, v, [kv_lengths],
/// [sinks], [dropout_state], out, [lse]).
KernelSignature signatureForSpec(const AttentionSpec &spec);

/// The signature of the backward kernel of `spec` (attn.attention_grad): q,
/// k, v, [kv_lengths], output, grad_output, lse (inputs), grad_query,
/// grad_key, grad_value (outputs). `isBackward` is set.
KernelSignature signatureForBackwardSpec(const AttentionSpec &spec);

/// The signature of the additive-attention kernel of `spec` (the buffers
/// of AdditiveSpec.h in that order).
KernelSignature signatureForAdditiveSpec(const AdditiveSpec &spec);
/// The signature of the layer kernel of `spec` (the buffers of LayerSpec.h
/// in that order).
KernelSignature signatureForLayerSpec(const LayerSpec &spec);

} // namespace mlir::attn::rt

#endif
