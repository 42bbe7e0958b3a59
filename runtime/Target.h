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

/// Whether code generated for `cpu` (empty: the host CPU and its features)
/// may use AMX-BF16 tile instructions (amx-tile + amx-bf16). The native
/// target must be initialized for a named CPU.
bool cpuHasAmxBf16(llvm::StringRef cpu);

/// Asks the OS for the AMX tile-data state of this process (Linux:
/// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); AMX instructions
/// fault without it. Asked once; later calls return the first answer.
llvm::Error requestAmxTileData();

/// How CompileOptions::bf16Matmul resolves for `cpu` on this host: "amx"
/// where the option says so, or says "auto" and AMX is usable (the CPU has
/// it and the OS grants it), else "fma".
llvm::StringRef resolveBf16Matmul(llvm::StringRef option, llvm::StringRef cpu);

} // namespace mlir::attn::rt

#endif
