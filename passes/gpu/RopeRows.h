//===- RopeRows.h - rotary embedding of one row element on the GPU -*- C++
//-*-===//
//
// The GPU kernels rotate rows element by element (one thread per element
// or per 16-byte chunk of them), so the pair of common/Rope.h is found
// from the element's dim at run time: its pair index, its partner dim and
// whether it is the pair's first member (the inverse of rope::pairDims).
// Internal to passes/gpu/.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPU_ROPEROWS_H
#define ATTN_PASSES_GPU_ROPEROWS_H

#include "common/Rope.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn::gpu_kernels {

/// Element `idx` of `mem` as f32.
Value loadF32(ImplicitLocOpBuilder &b, Value mem, ValueRange idx);

/// Element `d` (index, inside the row) of a row at position `pos` (index,
/// inside the tables), as f32: x(d) turned with its partner by the angle
/// of cos/sin[pos, pair] when d < rotaryDim, x(d) itself past it. `x(col)`
/// returns element `col` of the row as f32.
Value ropeElement(ImplicitLocOpBuilder &b, rope::Form form, int64_t rotaryDim,
                  Value cos, Value sin, Value pos, Value d,
                  function_ref<Value(Value col)> x);

} // namespace mlir::attn::gpu_kernels

#endif
