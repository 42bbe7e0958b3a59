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

} // namespace mlir::attn::rt

#endif
