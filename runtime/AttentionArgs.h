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
/// [B, Hq, Sq] f32. Which optional buffers are required is the kernel's
/// signature.
struct AttentionArgs {
  BufferRef query, key, value, output;
  std::optional<BufferRef> boolMask, bias, kvLengths, qSegmentIds, kvSegmentIds,
      lse;

  const BufferRef *get(ArgRole role) const;
  BufferRef *get(ArgRole role);
  void set(ArgRole role, BufferRef buffer);
};

/// Checks `args` against `sig` and returns the buffers in ABI order. The
/// error names the buffer and the mismatch: a missing or unexpected
/// buffer, null data, wrong dtype, rank or shape, innermost stride != 1,
/// negative strides, an output whose elements overlap, or kv_lengths
/// values outside [0, Skv] (host buffers only: device-resident lengths are
/// checked by the CUDA backend).
llvm::Expected<llvm::SmallVector<BufferRef, 6>>
bindArguments(const KernelSignature &sig, const AttentionArgs &args);

} // namespace mlir::attn::rt

#endif
