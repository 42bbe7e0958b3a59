//===- BackwardKernel.h - the backward kernel's buffer-level function -*- C++
//-*-===//
#ifndef ATTN_RUNTIME_BACKWARDKERNEL_H
#define ATTN_RUNTIME_BACKWARDKERNEL_H

#include "runtime/KernelBuilder.h"

namespace mlir::attn::rt {

/// Builds the kernel computing attn.attention_grad for `spec` (buffers of
/// signatureForBackwardSpec) in a new module of `ctx`. Static sizes only;
/// attention sinks are rejected.
llvm::Expected<KernelModule>
buildBackwardKernelModule(MLIRContext *ctx, const AttentionSpec &spec);

/// The backward of the one attn.attention in `mlirText` (the forward, as
/// buildKernelModule(ctx, mlirText) takes it): its spec, its bool_mask,
/// bias (no gradient: grad_bias is not produced), kv_lengths and segment
/// ids as input buffers in operand order, its score_mod (differentiated at
/// compile time) and mask_mod regions, and the programs the reference
/// evaluates them with.
llvm::Expected<KernelModule>
buildBackwardKernelModule(MLIRContext *ctx, llvm::StringRef mlirText);

} // namespace mlir::attn::rt

#endif
