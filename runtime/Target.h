//===- Target.h - where a kernel runs --------------------------*- C++ -*-===//
//
// The target is one argument of Runtime::compile: backends slot in behind
// the same API (the host CPU through the JIT, CUDA through the driver).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_TARGET_H
#define ATTN_RUNTIME_TARGET_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace mlir::attn::rt {

enum class Target { Cpu, Cuda };

const char *stringifyTarget(Target t);
/// "cpu" or "cuda".
std::optional<Target> parseTarget(llvm::StringRef s);

/// Checks that `cpu` (a CompileOptions::cpu, non-empty) names a CPU the host
/// triple's LLVM back end knows and, on x86-64, one that runs 64-bit code:
/// LLVM aborts the process on either, so they must be errors before any
/// code generation. The native target must be initialized
/// (initializeRuntimeOnce).
llvm::Error validateCpuName(llvm::StringRef cpu);

} // namespace mlir::attn::rt

#endif
