//===- AttentionArgs.h - the buffers of one kernel call --------*- C++ -*-===//
#ifndef ATTN_RUNTIME_ATTENTIONARGS_H
#define ATTN_RUNTIME_ATTENTIONARGS_H

#include "runtime/Buffer.h"
#include "runtime/KernelSignature.h"

#include "llvm/Support/Error.h"

namespace mlir::attn::rt {

/// Caller-owned buffers, by role. Shapes are physical (the kernel's
/// layout); bool_mask and bias are [B, Hq, Sq, Skv] with size-1 dims where
/// the kernel's operand broadcasts; kv_lengths is [B] i32; lse is
/// [B, Hq, Sq] f32; sinks is [Hq] f32; dropout_state is [2] i64 (seed,
/// offset: the Philox stream's key and counter word 3). Which optional buffers
/// are required is the kernel's signature.
struct AttentionArgs {
  BufferRef query, key, value, output;
  std::optional<BufferRef> boolMask, bias, kvLengths, qSegmentIds, kvSegmentIds,
      sinks, lse, dropoutState;
  /// Backward kernels (Runtime::compileBackward): dO in, the gradients out
  /// (each shaped like its input); `output` and `lse` are inputs there.
  std::optional<BufferRef> gradOutput, gradQuery, gradKey, gradValue, gradBias;
  /// Additive-attention kernels (Runtime::compileAdditive, AdditiveSpec.h):
  /// the nn.Linear weights, the score bias and the weights result; `bias`
  /// is the [H] bias inside the tanh there.
  std::optional<BufferRef> queryWeight, keyWeight, scoreWeight, scoreBias,
      weights;
  /// Layer kernels (Runtime::compileLayer, LayerSpec.h): the projections'
  /// weights and biases (bound by the Layer); queryWeight and keyWeight
  /// are the separate Q and K weights there, weights the [B, Hq, Sq, Skv]
  /// attention weights.
  std::optional<BufferRef> valueWeight, qkvWeight, qkvBias, queryBias, keyBias,
      valueBias, outWeight, outBias;
  /// Block-sparse masks: kv_num_blocks [B', H', Qblocks] and kv_indices
  /// [B', H', Qblocks, maxBlocks] i32 (B' 1 or B, H' 1 or Hq).
  std::optional<BufferRef> kvNumBlocks, kvIndices;

  const BufferRef *get(ArgRole role) const;
  BufferRef *get(ArgRole role);
  void set(ArgRole role, BufferRef buffer);
};

/// The forward's call for the buffers of a backward call: its inputs, and
/// its output and lse as the forward's outputs (so that running the forward
/// kernel of a spec with lse on them fills the backward's O and lse).
AttentionArgs forwardArgsOf(const AttentionArgs &backward);

/// Checks `args` against `sig` and returns the buffers in ABI order. The
/// error names the buffer and the mismatch: a missing or unexpected
/// buffer, null data, wrong dtype, rank or shape, innermost stride != 1,
/// negative strides, an output whose elements overlap, an output whose
/// memory overlaps another buffer (checkDisjoint), or kv_lengths
/// values outside [0, Skv] (host buffers only: device-resident lengths are
/// checked by the CUDA backend), or a block mask whose counts leave
/// [0, maxBlocks] or whose listed indices leave [0, ceil(Skv / kv_block)) or
/// are not strictly ascending (the error names the operand and the
/// position). A kernel with run-time sizes (batch, Sq,
/// Skv: `?` in its signature) takes them from the query and key buffers;
/// sizes past the limits of dialect/Limits.h fail, naming the value.
llvm::Expected<llvm::SmallVector<BufferRef, 6>>
bindArguments(const KernelSignature &sig, const AttentionArgs &args);

/// One buffer of a call, for checkDisjoint.
struct BufferUse {
  const char *name;
  const BufferRef *buffer; ///< null: absent (skipped)
  bool written;
};

/// Fails, naming both buffers (prefixed by `what` when non-empty), when the
/// memory range of a written buffer (its first to its last element's byte)
/// overlaps the range of any other buffer in the same memory space: the
/// kernels read inputs while writing outputs, so an alias is a wrong
/// result, not an error they could see. Buffers without elements never
/// overlap. Conservative for interleaved strided views of one allocation.
llvm::Error checkDisjoint(llvm::ArrayRef<BufferUse> uses,
                          llvm::StringRef what = "");

} // namespace mlir::attn::rt

#endif
