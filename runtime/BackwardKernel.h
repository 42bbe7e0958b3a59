//===- BackwardKernel.h - the backward kernel's buffer-level function -*- C++
//-*-===//
#ifndef ATTN_RUNTIME_BACKWARDKERNEL_H
#define ATTN_RUNTIME_BACKWARDKERNEL_H

#include "runtime/KernelBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::attn::rt {

/// The MLIR element type of a buffer dtype.
Type kernelElementType(MLIRContext *ctx, DType t);

/// The kernel function of a signature under construction: inputs read as
/// tensors (by ArgRole), outputs as (tensor type, destination buffer).
struct KernelFuncBody {
  func::FuncOp func;
  DenseMap<unsigned, Value> inputs;
  SmallVector<std::pair<Type, Value>> outputs;
};

/// Creates `km.module` holding `@attention` with one strided memref per
/// buffer of `km.signature`, inputs through bufferization.to_tensor; the
/// builder is left in its body.
KernelFuncBody beginKernelFunc(OpBuilder &b, KernelModule &km);

/// Materializes `results` (in output order) into the output buffers and
/// returns.
void endKernelFunc(OpBuilder &b, const KernelFuncBody &body,
                   ValueRange results);

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
