//===- TileVectorizer.h - tile ops -> vector code -------------*- C++ -*-===//
//
// The lowering of each tile op (attn-vectorize-tiles): VectorizeTiles.cpp
// holds packs, matmuls, masks and the pass; VectorizeSoftmax.cpp the
// row-wise softmax steps (online softmax, finalize, split combine);
// VectorizeBackward.cpp the backward's (softmax gradient, row dot);
// VectorizeAdditive.cpp additive attention's scores and weights.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_TILEVECTORIZER_H
#define ATTN_PASSES_TILEVECTORIZER_H

#include "dialect/AttnOps.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

namespace mlir::attn::detail {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// Lowers tile ops to vector code at their position, one op per instance.
class TileVectorizer {
public:
  TileVectorizer(Operation *op, int64_t width, int64_t microRows,
                 int64_t fullWidth, int64_t microCols = 2, int64_t kUnroll = 1)
      : b(op->getLoc(), op), im{b}, width(width), microRows(microRows),
        microCols(microCols), kUnroll(kUnroll), fullWidth(fullWidth),
        f32(b.getF32Type()), vecTy(VectorType::get({width}, f32)) {}

  void lower(TilePackOp op);
  void lower(TileMatmulOp op);
  void lower(TileSoftcapOp op);
  void lower(TileMaskOp op);
  void lower(TileDropoutOp op);
  void lower(TileOnlineSoftmaxOp op);
  void lower(TileFinalizeOp op);
  void lower(TileCombineOp op);
  void lower(TileRowDotOp op);
  void lower(TileSoftmaxGradOp op);
  void lower(TileAdditiveScoresOp op);
  void lower(TileStoreProbsOp op);

private:
  Value splat(float v) {
    return arith::ConstantOp::create(b, vecTy,
                                     DenseElementsAttr::get(vecTy, v));
  }
  Value scalar(float v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value load(Value mem, ValueRange idx) {
    return vector::LoadOp::create(b, vecTy, mem, idx);
  }
  /// `width` elements of `mem` (f32, f16 or bf16) at `idx`, as f32.
  Value loadF32(Value mem, ValueRange idx) {
    Type elt = cast<MemRefType>(mem.getType()).getElementType();
    if (elt == f32)
      return load(mem, idx);
    Value v =
        vector::LoadOp::create(b, VectorType::get({width}, elt), mem, idx);
    return arith::ExtFOp::create(b, vecTy, v);
  }
  /// One element of `mem` at `idx`, as f32.
  Value loadScalarF32(Value mem, ValueRange idx) {
    Value v = memref::LoadOp::create(b, mem, idx);
    if (v.getType() != f32)
      v = arith::ExtFOp::create(b, f32, v);
    return v;
  }
  void store(Value v, Value mem, ValueRange idx) {
    vector::StoreOp::create(b, v, mem, idx);
  }
  /// Stores `width` lanes at (row, col), dropping lanes past `cols`.
  void storeRow(Value v, Value mem, Value row, int64_t col, int64_t cols) {
    vector::TransferWriteOp::create(b, v, mem, ValueRange{row, im.c(col)},
                                    ArrayRef<bool>{col + width <= cols});
  }
  /// scf.for lb..ub step `step` with the body emitted by `body(iv)`.
  template <typename Fn> void loop(Value lb, Value ub, int64_t step, Fn body) {
    auto f = scf::ForOp::create(b, lb, ub, im.c(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(f.getBody());
    body(f.getInductionVar());
  }
  /// Reads `width` elements of row `row` from column `col` as f32 (zero past
  /// the end of the row), converting from f16/bf16.
  Value readRow(Value mem, Value row, int64_t col, int64_t cols);
  void matmulBlock(TileMatmulOp op, Value m0, int64_t rows, Value n0,
                   int64_t vecs);
  void dotBlock(TileMatmulOp op, Value m0, int64_t nRows, int64_t nCols);
  /// scores[n0 + j, m0 + i] for nKeys keys × nRows queries
  /// (VectorizeAdditive.cpp).
  void additiveBlock(TileAdditiveScoresOp op, Value m0, int64_t nRows, Value n0,
                     int64_t nKeys);
  int64_t cols(Value mem) {
    return cast<MemRefType>(mem.getType()).getDimSize(1);
  }
  int64_t rows(Value mem) {
    return cast<MemRefType>(mem.getType()).getDimSize(0);
  }

  /// Sums each of `accs` (vectors of `width` lanes) across its lanes: one
  /// vector whose lane i is the sum of accs[i], built by a shuffle-and-add
  /// tree (log2(width) levels, no per-vector horizontal reductions).
  Value sumAcross(ArrayRef<Value> accs);
  /// The online softmax of a narrow key-major tile ([keys, R], R < the full
  /// vector width) on flat full-width vectors (width / R keys each);
  /// false when the tile does not allow it.
  bool lowerFlatSoftmax(TileOnlineSoftmaxOp op);
  /// exp of an online-softmax argument (<= 0, -inf or NaN): the short
  /// AVX-512 form (SoftmaxExp.h) at full width 16, else math.exp.
  Value softmaxExp(Value x);

  ImplicitLocOpBuilder b;
  IndexMath im;
  int64_t width, microRows, microCols, kUnroll, fullWidth;
  Type f32;
  VectorType vecTy;
};

} // namespace mlir::attn::detail

#endif
