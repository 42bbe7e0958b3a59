//===- SoftmaxExp.h - the online softmax's short vector exp ----*- C++ -*-===//
//
// exp of the softmax's arguments (s - max <= 0, -inf, NaN) with AVX-512
// scalef: the generic approximation (attn-approximate-math) spends about
// 24 vector instructions per exp on clamps and on building 2^k from bits;
// this one spends 13 (docs/performance-notes.md, "CPU prefill").
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_SOFTMAXEXP_H
#define ATTN_PASSES_SOFTMAXEXP_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

namespace mlir::attn {

/// exp(x) for a vector of f32 that is <= 0, -inf or NaN (what the online
/// softmax feeds exp): k = round(x / ln 2) by the 1.5·2^23 trick,
/// Cody-Waite r = x - k ln 2, a degree-6 minimax polynomial for e^r on
/// [-ln2/2, ln2/2] (1.9e-9) and llvm.ldexp (vscalefps on AVX-512); x below
/// -87.3 (-inf included) gives exactly 0 through one compare (no clamp),
/// NaN stays NaN. Positive arguments are outside the contract (up to 88.7
/// they still come out right; above, NaN or inf).
Value emitNonPositiveExp(OpBuilder &b, Location loc, Value x);

} // namespace mlir::attn

#endif
