//===- AttnTileOps.cpp - verifiers of the tile-level ops ------------------===//
#include "dialect/AttnOps.h"
#include "dialect/Limits.h"
#include "dialect/VerifyUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using mlir::attn::verify::sizesAgree;
using mlir::attn::verify::sizeStr;

namespace {
bool fits(int64_t inner, int64_t outer) {
  return ShapedType::isDynamic(inner) || ShapedType::isDynamic(outer) ||
         inner <= outer;
}
/// The dims of `v` that attn-vectorize-tiles unrolls over (loop bounds and
/// vector counts taken from the type) must be static: a `?` there would
/// lower to loops that never run, a silently wrong kernel. The generated
/// code leaves only row counts dynamic (pack sources, finalize and combine
/// outputs, combine splits).
LogicalResult verifyStaticDims(Operation *op, StringRef name, Value v,
                               ArrayRef<unsigned> dims) {
  auto ty = cast<MemRefType>(v.getType());
  for (unsigned d : dims)
    if (ty.isDynamicDim(d))
      return op->emitOpError() << name << " " << ty << " needs a static dim "
                               << d << " (the CPU lowering unrolls over it)";
  return success();
}
/// Every tile op: no static operand dim past limits::kMaxTileDim.
LogicalResult verifyTileSizes(Operation *op) {
  for (Value v : op->getOperands())
    if (auto ty = dyn_cast<MemRefType>(v.getType()))
      for (int64_t d : ty.getShape())
        if (!ShapedType::isDynamic(d) && d > limits::kMaxTileDim)
          return op->emitOpError()
                 << "tile " << ty << " has a dim past " << limits::kMaxTileDim;
  return success();
}
} // namespace

LogicalResult TilePackOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "source", getSource(), {1})) ||
      failed(verifyStaticDims(*this, "dest", getDest(), {0, 1})))
    return failure();
  auto src = getSource().getType(), dst = getDest().getType();
  int64_t rows = src.getDimSize(0), cols = src.getDimSize(1);
  if (getTranspose())
    std::swap(rows, cols);
  if (!fits(rows, dst.getDimSize(0)) || !fits(cols, dst.getDimSize(1)))
    return emitOpError() << "source " << src << " does not fit in dest " << dst
                         << (getTranspose() ? " (transposed)" : "");
  return success();
}

LogicalResult TileMatmulOp::verify() {
  if (failed(verifyTileSizes(*this)))
    return failure();
  auto a = getLhs().getType(), b = getRhs().getType(), c = getAcc().getType();
  if (!a.hasStaticShape() || !b.hasStaticShape() || !c.hasStaticShape())
    return emitOpError("tiles must have static shapes");
  int64_t m = a.getDimSize(0), k = a.getDimSize(1);
  if (getTransposeLhs())
    std::swap(m, k);
  int64_t bk = b.getDimSize(0), bn = b.getDimSize(1);
  if (getTransposeRhs())
    std::swap(bk, bn);
  if (k != bk || m != c.getDimSize(0) || bn != c.getDimSize(1))
    return emitOpError() << "shapes " << a << (getTransposeLhs() ? "ᵀ" : "")
                         << " · " << b << (getTransposeRhs() ? "ᵀ" : "")
                         << " -> " << c << " do not form a matrix product";
  return success();
}

LogicalResult TileOnlineSoftmaxOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "scores", getScores(), {0, 1})) ||
      failed(verifyStaticDims(*this, "acc", getAcc(), {0, 1})) ||
      failed(verifyStaticDims(*this, "row_max", getRowMax(), {0})) ||
      failed(verifyStaticDims(*this, "row_sum", getRowSum(), {0})))
    return failure();
  int64_t rows = getScores().getType().getDimSize(1); // key-major scores
  if (getAcc().getType().getDimSize(0) > rows ||
      getRowMax().getType().getDimSize(0) != rows ||
      getRowSum().getType().getDimSize(0) != rows)
    return emitOpError() << "scores columns, row_max and row_sum must count "
                            "the same query rows ("
                         << sizeStr(rows) << "), acc at most as many";
  return success();
}

LogicalResult TileSoftcapOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "scores", getScores(), {0, 1})))
    return failure();
  float cap = getCap().convertToFloat();
  if (!(cap > 0.0f) || std::isinf(cap))
    return emitOpError() << "cap must be positive and finite, got " << cap;
  return success();
}

LogicalResult TileMaskOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "scores", getScores(), {0, 1})))
    return failure();
  if (getRowsPerHead() < 1)
    return emitOpError() << "rows_per_head must be >= 1, got "
                         << getRowsPerHead();
  return success();
}

LogicalResult TileDropoutOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "probs", getProbs(), {0, 1})))
    return failure();
  double p = getP().convertToDouble();
  if (!(p >= 0.0 && p < 1.0))
    return emitOpError() << "p must be in [0, 1), got " << p;
  if (getRowsPerHead() < 1)
    return emitOpError() << "rows_per_head must be >= 1, got "
                         << getRowsPerHead();
  if (getNumHeads() < 1)
    return emitOpError() << "num_heads must be >= 1, got " << getNumHeads();
  if (getProbs().getType().getDimSize(0) % 4 != 0)
    return emitOpError() << "the key dim of " << getProbs().getType()
                         << " must be a multiple of 4 (four keys per Philox "
                         << "call)";
  return success();
}

LogicalResult TileFinalizeOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "output", getOutput(), {1})))
    return failure();
  auto acc = getAcc().getType(), out = getOutput().getType();
  int64_t rows = acc.getDimSize(0);
  if (!sizesAgree(getRowMax().getType().getDimSize(0), rows) ||
      !sizesAgree(getRowSum().getType().getDimSize(0), rows))
    return emitOpError() << "row_max and row_sum must count the rows of acc ("
                         << sizeStr(rows) << ")";
  if (!fits(out.getDimSize(0), rows) ||
      !fits(out.getDimSize(1), acc.getDimSize(1)))
    return emitOpError() << "output " << out << " does not fit in acc " << acc;
  if (getLse() &&
      !sizesAgree(getLse().getType().getDimSize(0), out.getDimSize(0)))
    return emitOpError() << "lse must count the rows of output";
  return success();
}

LogicalResult TileCombineOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "output", getOutput(), {1})))
    return failure();
  auto parts = getParts().getType(), lse = getPartLse().getType();
  auto out = getOutput().getType();
  if (!sizesAgree(lse.getDimSize(0), parts.getDimSize(0)) ||
      !sizesAgree(lse.getDimSize(1), parts.getDimSize(1)))
    return emitOpError() << "part_lse " << lse << " must be [splits, rows] of "
                         << parts;
  if (!fits(out.getDimSize(0), parts.getDimSize(1)) ||
      !fits(out.getDimSize(1), parts.getDimSize(2)))
    return emitOpError() << "output " << out << " does not fit in the parts "
                         << parts;
  if (getLse() &&
      !sizesAgree(getLse().getType().getDimSize(0), out.getDimSize(0)))
    return emitOpError() << "lse must count the rows of output";
  return success();
}

LogicalResult TileRowDotOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "lhs", getLhs(), {0, 1})))
    return failure();
  auto a = getLhs().getType(), b = getRhs().getType();
  if (!sizesAgree(a.getDimSize(0), b.getDimSize(0)) ||
      !sizesAgree(a.getDimSize(1), b.getDimSize(1)) ||
      !sizesAgree(getOut().getType().getDimSize(0), a.getDimSize(0)))
    return emitOpError() << "lhs " << a << ", rhs " << b << " and out "
                         << getOut().getType()
                         << " must have the same rows (and lhs, rhs the same "
                            "columns)";
  return success();
}

LogicalResult TileSoftmaxGradOp::verify() {
  if (failed(verifyTileSizes(*this)))
    return failure();
  auto s = getScores().getType(), dp = getDp().getType();
  if (!s.hasStaticShape() || s.getShape() != dp.getShape())
    return emitOpError() << "scores " << s << " and dp " << dp
                         << " must have one static shape";
  if (Value slope = getSlope())
    if (cast<MemRefType>(slope.getType()).getShape() != s.getShape())
      return emitOpError() << "slope " << slope.getType()
                           << " must have the shape of scores " << s;
  int64_t rows = s.getDimSize(1); // key-major
  if (getLse().getType().getDimSize(0) != rows ||
      getDelta().getType().getDimSize(0) != rows)
    return emitOpError() << "lse and delta must count the query rows (columns "
                            "of scores: "
                         << rows << ")";
  if (auto cap = getSoftcap()) {
    float c = cap->convertToFloat();
    if (!(c > 0.0f) || std::isinf(c))
      return emitOpError() << "softcap must be positive and finite, got " << c;
  }
  return success();
}

LogicalResult TileAdditiveScoresOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "keys", getKeys(), {0, 1})) ||
      failed(verifyStaticDims(*this, "queries", getQueries(), {0, 1})) ||
      failed(verifyStaticDims(*this, "w", getW(), {0})) ||
      failed(verifyStaticDims(*this, "scores", getScores(), {0, 1})))
    return failure();
  auto k = getKeys().getType(), q = getQueries().getType();
  auto s = getScores().getType();
  int64_t h = k.getDimSize(1);
  if (q.getDimSize(1) != h || getW().getType().getDimSize(0) != h ||
      (getBias() && getBias().getType().getDimSize(0) != h))
    return emitOpError() << "keys " << k << ", queries " << q << ", w "
                         << getW().getType()
                         << " and bias must share the hidden size";
  if (s.getDimSize(0) != k.getDimSize(0) || s.getDimSize(1) != q.getDimSize(0))
    return emitOpError() << "scores " << s << " must be [keys, query rows] = ["
                         << k.getDimSize(0) << ", " << q.getDimSize(0) << "]";
  return success();
}

LogicalResult TileStoreProbsOp::verify() {
  if (failed(verifyTileSizes(*this)) ||
      failed(verifyStaticDims(*this, "scores", getScores(), {0, 1})) ||
      failed(verifyStaticDims(*this, "lse", getLse(), {0})))
    return failure();
  auto s = getScores().getType(), p = getProbs().getType();
  if (getLse().getType().getDimSize(0) != s.getDimSize(1))
    return emitOpError() << "lse " << getLse().getType()
                         << " must have one entry per column of " << s;
  if (!fits(p.getDimSize(0), s.getDimSize(1)) ||
      !fits(p.getDimSize(1), s.getDimSize(0)))
    return emitOpError() << "probs " << p
                         << " does not fit in the transpose of " << s;
  return success();
}
