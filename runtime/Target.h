//===- Target.h - where a kernel runs --------------------------*- C++ -*-===//
//
// The target is one argument of Runtime::compile: backends slot in behind
// the same API. Only the CPU backend exists in this build.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_TARGET_H
#define ATTN_RUNTIME_TARGET_H

#include "llvm/ADT/StringRef.h"

#include <optional>

namespace mlir::attn::rt {

enum class Target { Cpu, Cuda };

const char *stringifyTarget(Target t);
/// "cpu" or "cuda".
std::optional<Target> parseTarget(llvm::StringRef s);

} // namespace mlir::attn::rt

#endif
