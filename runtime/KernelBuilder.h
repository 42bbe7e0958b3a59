//===- KernelBuilder.h - the buffer-level kernel function ------*- C++ -*-===//
//
// Wraps one attn.attention into the kernel ABI the lowering passes expect:
//
//   func.func @attention(%q: memref<..., strided<[?, ?, ?, 1], offset: ?>>,
//                        ..., %out: memref<...>[, %lse: memref<...>])
//       attributes {llvm.emit_c_interface} {
//     %qt = bufferization.to_tensor %q restrict ...
//     %o = attn.attention %qt, ... (a clone of the source op)
//     bufferization.materialize_in_destination %o in restrict writable %out
//   }
//
// Buffers follow the op's operand order, then its results; every memref has
// dynamic strides and offset so that callers' strided views need no copy.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KERNELBUILDER_H
#define ATTN_RUNTIME_KERNELBUILDER_H

#include "dialect/AttentionSpec.h"
#include "runtime/KernelSignature.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::attn::rt {

/// Name of the kernel function (and prefix of `<name>_work_items`).
inline constexpr const char *kKernelName = "attention";

/// Adds every dialect, extension and LLVM IR translation the runtime's
/// pipelines touch: the same set attn-opt registers, so a pipeline behaves
/// the same here and on the command line.
void registerRuntimeDialects(DialectRegistry &registry);

struct KernelModule {
  OwningOpRef<ModuleOp> module;
  KernelSignature signature;
};

/// The signature of the kernel wrapping `op`; fails (as an error naming the
/// operand) on dynamic shapes of an op with bool_mask, bias or segment ids
/// (other ops may have run-time batch, Sq and Skv).
llvm::Expected<KernelSignature> signatureForOp(AttentionOp op);

/// Builds the kernel for `spec` in a new module of `ctx`.
llvm::Expected<KernelModule> buildKernelModule(MLIRContext *ctx,
                                               const AttentionSpec &spec);

/// Parses `mlirText`, which must hold exactly one attn.attention inside a
/// function, and builds the kernel around a clone of it. Operands must be
/// arguments of that function; region bodies may use constants defined
/// outside the op (they are cloned) but no other outside values.
llvm::Expected<KernelModule> buildKernelModule(MLIRContext *ctx,
                                               llvm::StringRef mlirText);

/// Builds the kernel around a clone of `op` (which may live in another
/// module) in a new module of op's context.
llvm::Expected<KernelModule> wrapAttentionOp(AttentionOp op);

/// A new module (at op's location) holding `@funcName`, whose arguments
/// are `op`'s operands and whose body is a clone of `op` returning its
/// results: the one-op function Runtime::compileMlir takes. `retype` (when
/// given) maps argument and result types; the clone's result types follow.
struct OutlinedOp {
  OwningOpRef<ModuleOp> module;
  Operation *clone = nullptr;
};
OutlinedOp outlineIntoFunc(Operation *op, llvm::StringRef funcName,
                           llvm::function_ref<Type(Type)> retype = nullptr);

} // namespace mlir::attn::rt

#endif
