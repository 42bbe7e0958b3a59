//===- AmxTiles.h - bf16 tile matmuls on AMX --------------------*- C++ -*-===//
//
// attn-vectorize-tiles{amx}: which tile buffers of a function get bf16
// copies in the layouts AMX reads, and which tile matmuls run as AMX tile
// products (VectorizeAmx.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_AMXTILES_H
#define ATTN_PASSES_AMXTILES_H

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/ADT/DenseMap.h"

namespace mlir::attn::detail {

/// The AMX side of one function. Only bf16 data qualifies: its packs are
/// exact in bf16, so the products differ from the FMA kernel's only by P
/// being rounded to bf16 before P·V (as GPU kernels do).
struct AmxPlan {
  enum class Layout {
    RowMajor, ///< [r, c] bf16: the left-hand tile of Sᵀ = K·Qᵀ
    Pairs,    ///< [r/2, 2c] bf16, rows r, r+1 interleaved: V of P·V
    PairsOfT, ///< Qᵀ [D, n] as [D/2, 2n]: the pairs of each Q row
  };
  struct Copy {
    Value buffer; ///< the bf16 buffer
    Layout layout;
  };
  /// f32 tile buffer (a memref.alloca) -> its bf16 copy; the packs into it
  /// write only the copy.
  llvm::DenseMap<Value, Copy> copies;
  /// Matmul -> bf16 scratch of P ([rows, tk]) for P·V; null for Q·Kᵀ.
  llvm::DenseMap<Operation *, Value> matmuls;
  /// Qᵀ buffer -> the scale its packs leave out (Sᵀ is scaled in f32).
  llvm::DenseMap<Value, float> scales;

  /// Picks the matmuls and allocates the copies (next to their buffers).
  static AmxPlan build(func::FuncOp f);
  const Copy *copyOf(Value buffer) const;
};

/// The buffer `view` is a (sub)view of.
Value rootBuffer(Value view);

/// Packs `op`'s source into its destination's bf16 copy.
void lowerAmxPack(ImplicitLocOpBuilder &b, TilePackOp op,
                  const AmxPlan::Copy &copy);
/// Lowers a matmul the plan picked to AMX tile products.
void lowerAmxMatmul(ImplicitLocOpBuilder &b, TileMatmulOp op,
                    const AmxPlan &plan);

} // namespace mlir::attn::detail

#endif
