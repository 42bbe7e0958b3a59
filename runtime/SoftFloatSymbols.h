//===- SoftFloatSymbols.h - f16/bf16 helpers for JIT code ------*- C++ -*-===//
//
// Without native instructions (F16C for half, AVX512-BF16 for bfloat),
// LLVM lowers f32 <-> f16/bf16 conversions to compiler-rt/libgcc calls such
// as __truncsfbf2. Debian 12's libgcc (GCC 12) has no __truncsfbf2, so bf16
// kernels failed to link on AVX2 hosts ("Symbols not found"). The runtime
// defines these helpers itself, with round-to-nearest-even, for every JIT.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_SOFTFLOATSYMBOLS_H
#define ATTN_RUNTIME_SOFTFLOATSYMBOLS_H

#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"

namespace mlir::attn::rt {

/// __truncsfbf2, __truncsfhf2 and __extendhfsf2 for `interner`'s JIT, and
/// memrefCopy (what memref.copy of strided buffers calls).
llvm::orc::SymbolMap softFloatSymbols(llvm::orc::MangleAndInterner interner);

} // namespace mlir::attn::rt

#endif
