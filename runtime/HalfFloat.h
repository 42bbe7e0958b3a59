//===- HalfFloat.h - f16/bf16 <-> f32 for host buffers ---------*- C++ -*-===//
//
// Callers keep f16/bf16 tensors as raw uint16_t; these helpers convert with
// IEEE round-to-nearest-even (ties to even), keep infinities, map NaN to a
// quiet NaN, and produce f16 subnormals exactly. They are scalar and
// portable on purpose: host-side conversion is not on the hot path.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_HALFFLOAT_H
#define ATTN_RUNTIME_HALFFLOAT_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>

namespace mlir::attn::rt {

uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);
uint16_t floatToBFloat(float f);
float bfloatToFloat(uint16_t b);

/// Bulk forms; `dst` must hold `src.size()` elements.
void floatsToHalves(llvm::ArrayRef<float> src, uint16_t *dst);
void halvesToFloats(llvm::ArrayRef<uint16_t> src, float *dst);
void floatsToBFloats(llvm::ArrayRef<float> src, uint16_t *dst);
void bfloatsToFloats(llvm::ArrayRef<uint16_t> src, float *dst);

} // namespace mlir::attn::rt

#endif
