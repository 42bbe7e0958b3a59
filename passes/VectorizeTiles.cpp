//===- VectorizeTiles.cpp - tile-level attn ops -> vector code ------------===//
//
// Register-blocked vector code for the flash-form tile ops. The matmul is an
// outer-product micro-kernel: `micro-rows` rows × two vectors of f32
// accumulators stay in registers across the reduction, each step loading two
// vectors of the right-hand tile and broadcasting one left-hand scalar per
// row. Row-wise steps (mask, soft-cap, online softmax, finalize) unroll
// over the tile's vectors so LLVM keeps a row in registers.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/IndexMath.h"
#include "passes/MaskBuilder.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNVECTORIZETILES
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

class TileVectorizer {
public:
  TileVectorizer(Operation *op, int64_t width, int64_t microRows,
                 int64_t fullWidth)
      : b(op->getLoc(), op), im{b}, width(width), microRows(microRows),
        fullWidth(fullWidth), f32(b.getF32Type()),
        vecTy(VectorType::get({width}, f32)) {}

  void lower(TilePackOp op);
  void lower(TileMatmulOp op);
  void lower(TileSoftcapOp op);
  void lower(TileMaskOp op);
  void lower(TileOnlineSoftmaxOp op);
  void lower(TileFinalizeOp op);
  void lower(TileCombineOp op);

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

  ImplicitLocOpBuilder b;
  IndexMath im;
  int64_t width, microRows, fullWidth;
  Type f32;
  VectorType vecTy;
};

Value TileVectorizer::readRow(Value mem, Value row, int64_t col, int64_t cols) {
  auto memTy = cast<MemRefType>(mem.getType());
  Type elt = memTy.getElementType();
  auto srcVecTy = VectorType::get({width}, elt);
  Value pad = arith::ConstantOp::create(b, b.getFloatAttr(elt, 0.0));
  bool inBounds = col + width <= cols;
  Value v = vector::TransferReadOp::create(b, srcVecTy, mem,
                                           ValueRange{row, im.c(col)}, pad,
                                           ArrayRef<bool>{inBounds});
  if (elt != f32)
    v = arith::ExtFOp::create(b, vecTy, v);
  return v;
}

void TileVectorizer::lower(TilePackOp op) {
  Value src = op.getSource(), dst = op.getDest();
  int64_t srcCols = cols(src), dstRows = rows(dst), dstCols = cols(dst);
  Value srcRows = memref::DimOp::create(b, src, 0);
  std::optional<float> scale;
  if (auto s = op.getScale())
    scale = s->convertToFloat();
  if (!op.getTranspose()) {
    loop(im.c(0), srcRows, 1, [&](Value r) {
      for (int64_t c = 0; c < dstCols; c += width) {
        Value v = readRow(src, r, c, srcCols);
        if (scale)
          v = arith::MulFOp::create(b, v, splat(*scale));
        storeRow(v, dst, r, c, dstCols);
      }
    });
    loop(srcRows, im.c(dstRows), 1, [&](Value r) {
      for (int64_t c = 0; c < dstCols; c += width)
        storeRow(splat(0.0f), dst, r, c, dstCols);
    });
    return;
  }
  // Transposed: source row r becomes destination column r.
  loop(im.c(0), srcRows, 1, [&](Value r) {
    for (int64_t c = 0; c < srcCols; c += width) {
      Value v = readRow(src, r, c, srcCols);
      if (scale)
        v = arith::MulFOp::create(b, v, splat(*scale));
      for (int64_t l = 0; l < width && c + l < srcCols; ++l) {
        Value e = vector::ExtractOp::create(b, v, ArrayRef<int64_t>{l});
        memref::StoreOp::create(b, e, dst, ValueRange{im.c(c + l), r});
      }
    }
  });
  Value zero = scalar(0.0f);
  loop(srcRows, im.c(dstCols), 1, [&](Value r) {
    loop(im.c(0), im.c(dstRows), 1, [&](Value d) {
      memref::StoreOp::create(b, zero, dst, ValueRange{d, r});
    });
  });
}

void TileVectorizer::matmulBlock(TileMatmulOp op, Value m0, int64_t nRows,
                                 Value n0, int64_t vecs) {
  Value lhs = op.getLhs(), rhs = op.getRhs(), acc = op.getAcc();
  SmallVector<Value> init;
  SmallVector<Value> rowIdx, colIdx;
  for (int64_t i = 0; i < nRows; ++i)
    rowIdx.push_back(im.add(m0, i));
  for (int64_t j = 0; j < vecs; ++j)
    colIdx.push_back(im.add(n0, j * width));
  for (int64_t i = 0; i < nRows; ++i)
    for (int64_t j = 0; j < vecs; ++j)
      init.push_back(op.getAccumulate() ? load(acc, {rowIdx[i], colIdx[j]})
                                        : splat(0.0f));
  bool lhsT = op.getTransposeLhs();
  int64_t depth = lhsT ? rows(lhs) : cols(lhs);
  auto kLoop = scf::ForOp::create(
      b, im.c(0), im.c(depth), im.c(1), init,
      [&](OpBuilder &, Location, Value k, ValueRange accs) {
        SmallVector<Value> bVecs, next;
        for (int64_t j = 0; j < vecs; ++j)
          bVecs.push_back(loadF32(rhs, {k, colIdx[j]}));
        for (int64_t i = 0; i < nRows; ++i) {
          Value a = loadScalarF32(lhs, lhsT ? ValueRange{k, rowIdx[i]}
                                            : ValueRange{rowIdx[i], k});
          Value aVec = vector::BroadcastOp::create(b, vecTy, a);
          for (int64_t j = 0; j < vecs; ++j)
            next.push_back(
                vector::FMAOp::create(b, aVec, bVecs[j], accs[i * vecs + j]));
        }
        scf::YieldOp::create(b, next);
      });
  for (int64_t i = 0; i < nRows; ++i)
    for (int64_t j = 0; j < vecs; ++j)
      store(kLoop.getResult(i * vecs + j), acc, {rowIdx[i], colIdx[j]});
}

void TileVectorizer::dotBlock(TileMatmulOp op, Value m0, int64_t nRows,
                              int64_t nCols) {
  // acc[m, n] (+)= dot(lhs[m, :], rhs[n, :]): vectors run along K; each of
  // the nRows × nCols accumulators is reduced once at the end.
  Value lhs = op.getLhs(), rhs = op.getRhs(), acc = op.getAcc();
  int64_t depth = cols(lhs);
  SmallVector<Value> rowIdx;
  for (int64_t i = 0; i < nRows; ++i)
    rowIdx.push_back(im.add(m0, i));
  SmallVector<Value> init(nRows * nCols, splat(0.0f));
  Value pad = scalar(0.0f);
  auto kLoop = scf::ForOp::create(
      b, im.c(0), im.c(depth), im.c(width), init,
      [&](OpBuilder &, Location, Value k, ValueRange accs) {
        bool exact = depth % width == 0;
        auto read = [&](Value mem, Value row) -> Value {
          if (exact)
            return loadF32(mem, {row, k});
          Type elt = cast<MemRefType>(mem.getType()).getElementType();
          Value eltPad =
              elt == f32
                  ? pad
                  : arith::ConstantOp::create(b, b.getFloatAttr(elt, 0.0));
          Value v = vector::TransferReadOp::create(
              b, VectorType::get({width}, elt), mem, ValueRange{row, k}, eltPad,
              ArrayRef<bool>{false});
          return elt == f32 ? v : arith::ExtFOp::create(b, vecTy, v);
        };
        SmallVector<Value> qs, next;
        for (int64_t j = 0; j < nCols; ++j)
          qs.push_back(read(rhs, im.c(j)));
        for (int64_t i = 0; i < nRows; ++i) {
          Value a = read(lhs, rowIdx[i]);
          for (int64_t j = 0; j < nCols; ++j)
            next.push_back(
                vector::FMAOp::create(b, a, qs[j], accs[i * nCols + j]));
        }
        scf::YieldOp::create(b, next);
      });
  if (nRows * nCols <= width) {
    // One shuffle-and-add tree for all nRows × nCols dot products, then one
    // short vector store per row.
    Value sums = sumAcross(SmallVector<Value>(kLoop.getResults()));
    auto rowTy = VectorType::get({nCols}, f32);
    for (int64_t i = 0; i < nRows; ++i) {
      Value row = vector::ExtractStridedSliceOp::create(
          b, sums, ArrayRef<int64_t>{i * nCols}, ArrayRef<int64_t>{nCols},
          ArrayRef<int64_t>{1});
      SmallVector<Value, 2> at = {rowIdx[i], im.c(0)};
      if (op.getAccumulate())
        row = arith::AddFOp::create(
            b, vector::LoadOp::create(b, rowTy, acc, at), row);
      vector::StoreOp::create(b, row, acc, at);
    }
    return;
  }
  for (int64_t i = 0; i < nRows; ++i)
    for (int64_t j = 0; j < nCols; ++j) {
      // reassoc: a tree of adds, not 16 dependent ones.
      Value dot = vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                              kLoop.getResult(i * nCols + j),
                                              arith::FastMathFlags::reassoc);
      SmallVector<Value, 2> at = {rowIdx[i], im.c(j)};
      if (op.getAccumulate())
        dot = arith::AddFOp::create(b, memref::LoadOp::create(b, acc, at), dot);
      memref::StoreOp::create(b, dot, acc, at);
    }
}

Value TileVectorizer::sumAcross(ArrayRef<Value> accs) {
  // Pad to a power of two with zero vectors.
  int64_t count = llvm::PowerOf2Ceil(accs.size());
  SmallVector<Value> vecs(accs);
  while (static_cast<int64_t>(vecs.size()) < count)
    vecs.push_back(splat(0.0f));
  // Every vector is a row of segments of equal length, each the partial
  // sums of one accumulator (`owners`). Pairing x and y halves each
  // segment: lo takes the first half of every segment of x then of y, hi
  // the second halves, and lo + hi has twice the segments.
  SmallVector<SmallVector<int64_t>> owners;
  for (int64_t i = 0; i < count; ++i)
    owners.push_back({i});
  int64_t n = width; // lanes per vector
  while (vecs.size() > 1) {
    int64_t segs = owners[0].size(), len = n / segs;
    SmallVector<Value> nextVecs;
    SmallVector<SmallVector<int64_t>> nextOwners;
    for (size_t v = 0; v + 1 < vecs.size(); v += 2) {
      SmallVector<int64_t> lo, hi, own;
      for (int64_t s = 0; s < segs; ++s)
        for (int64_t side = 0; side < 2; ++side) {
          for (int64_t i = 0; i < len / 2; ++i) {
            lo.push_back(side * n + s * len + i);
            hi.push_back(side * n + s * len + len / 2 + i);
          }
          own.push_back(owners[v + side][s]);
        }
      Value a = vector::ShuffleOp::create(b, vecs[v], vecs[v + 1], lo);
      Value c = vector::ShuffleOp::create(b, vecs[v], vecs[v + 1], hi);
      nextVecs.push_back(arith::AddFOp::create(b, a, c));
      nextOwners.push_back(own);
    }
    vecs = nextVecs;
    owners = nextOwners;
  }
  Value v = vecs[0];
  SmallVector<int64_t> own = owners[0];
  // Fewer accumulators than lanes: fold the remaining segments in place.
  while (static_cast<int64_t>(own.size()) < n) {
    int64_t len = n / own.size();
    SmallVector<int64_t> lo, hi;
    for (size_t s = 0; s < own.size(); ++s)
      for (int64_t i = 0; i < len / 2; ++i) {
        lo.push_back(s * len + i);
        hi.push_back(s * len + len / 2 + i);
      }
    v = arith::AddFOp::create(b, vector::ShuffleOp::create(b, v, v, lo),
                              vector::ShuffleOp::create(b, v, v, hi));
    n /= 2;
  }
  // Lane i holds owner own[i]: put owner o at lane o.
  SmallVector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i)
    perm[own[i]] = i;
  bool identity = llvm::all_of(llvm::seq<int64_t>(0, n),
                               [&](int64_t i) { return perm[i] == i; });
  if (!identity)
    v = vector::ShuffleOp::create(b, v, v, perm);
  return v;
}

void TileVectorizer::lower(TileMatmulOp op) {
  int64_t m = rows(op.getAcc()), n = cols(op.getAcc());
  if (op.getTransposeRhs()) {
    // Few columns (the query rows of a decode step): all of them per block.
    int64_t blockRows = std::max<int64_t>(1, 16 / n); // 16 accumulators
    int64_t mainRows = m - m % blockRows;
    if (mainRows > 0)
      loop(im.c(0), im.c(mainRows), blockRows,
           [&](Value m0) { dotBlock(op, m0, blockRows, n); });
    if (m % blockRows)
      dotBlock(op, im.c(mainRows), m % blockRows, n);
    return;
  }
  int64_t mainRows = m - m % microRows;
  auto columns = [&](Value m0, int64_t nRows) {
    // Blocks fewer rows than micro-rows (the rows of a decode step) take
    // wider column blocks where registers allow (AVX-512: 32), up to 16
    // accumulators, so each broadcast of the left-hand side feeds more FMAs.
    int64_t vecs = 2;
    if (nRows < microRows && fullWidth >= 16)
      vecs =
          std::clamp<int64_t>(16 / nRows, 2, std::max<int64_t>(2, n / width));
    int64_t block = vecs * width;
    int64_t mainCols = n - n % block;
    if (mainCols > 0)
      loop(im.c(0), im.c(mainCols), block,
           [&](Value n0) { matmulBlock(op, m0, nRows, n0, vecs); });
    for (int64_t c = mainCols; c < n; c += width)
      matmulBlock(op, m0, nRows, im.c(c), 1);
  };
  if (mainRows > 0)
    loop(im.c(0), im.c(mainRows), microRows,
         [&](Value m0) { columns(m0, microRows); });
  if (m % microRows)
    columns(im.c(mainRows), m % microRows);
}

void TileVectorizer::lower(TileSoftcapOp op) {
  Value s = op.getScores();
  float cap = op.getCap().convertToFloat();
  loop(im.c(0), im.c(rows(s)), 1, [&](Value r) {
    for (int64_t c = 0; c < cols(s); c += width) {
      Value v = load(s, {r, im.c(c)});
      Value t = math::TanhOp::create(
          b, arith::MulFOp::create(b, v, splat(1.0f / cap)));
      store(arith::MulFOp::create(b, t, splat(cap)), s, {r, im.c(c)});
    }
  });
}

void TileVectorizer::lower(TileMaskOp op) {
  Value s = op.getScores();
  MaskSpec m;
  if (auto attr = op.getMaskAttr())
    m = attr.getSpec();
  Type i32 = b.getI32Type();
  auto i32Vec = VectorType::get({width}, i32);
  auto toI32 = [&](Value idx) {
    return arith::IndexCastOp::create(b, i32, idx);
  };
  auto splatI = [&](Value x) -> Value {
    return vector::BroadcastOp::create(b, VectorType::get({width}, x.getType()),
                                       x);
  };
  auto constI = [&](int64_t x) {
    return arith::ConstantOp::create(
        b, i32Vec, DenseElementsAttr::get(i32Vec, static_cast<int32_t>(x)));
  };
  SmallVector<int32_t> lanes(width);
  for (int64_t l = 0; l < width; ++l)
    lanes[l] = l;
  Value iota = arith::ConstantOp::create(
      b, i32Vec, DenseElementsAttr::get(i32Vec, ArrayRef<int32_t>(lanes)));
  Value limit = toI32(op.getKvLimit());
  Value kvStart = toI32(op.getKvStart());
  Value negInf = splat(kNegInf);
  int64_t tq = op.getRowsPerHead();
  using P = arith::CmpIPredicate;
  MaskBuilder masks(b, m);
  // Query positions of each column vector, computed once per tile.
  SmallVector<Value> positions;
  Value base = splatI(toI32(im.add(op.getQStart(), m.qOffset)));
  for (int64_t c = 0; c < cols(s); c += width) {
    Value col = arith::AddIOp::create(b, iota, constI(c));
    positions.push_back(arith::AddIOp::create(
        b, base, arith::RemUIOp::create(b, col, constI(tq))));
  }
  loop(im.c(0), im.c(rows(s)), 1, [&](Value n) {
    Value jScalar = arith::AddIOp::create(b, kvStart, toI32(n));
    Value j = splatI(jScalar);
    Value inRange = splatI(arith::CmpIOp::create(b, P::slt, jScalar, limit));
    for (auto [idx, i] : llvm::enumerate(positions)) {
      Value keep = masks.allows(i, j, inRange);
      Value c = im.c(idx * width);
      Value v = load(s, {n, c});
      store(arith::SelectOp::create(b, keep, v, negInf), s, {n, c});
    }
  });
}

bool TileVectorizer::lowerFlatSoftmax(TileOnlineSoftmaxOp op) {
  Value s = op.getScores(), acc = op.getAcc();
  auto sTy = cast<MemRefType>(s.getType());
  int64_t keys = sTy.getDimSize(0), r = sTy.getDimSize(1), w = fullWidth;
  auto rowTy = cast<MemRefType>(op.getRowMax().getType());
  // r = 0 (an empty tile, legal IR) takes the column path: no division.
  if (r < 1 || r >= w || w % r != 0 || (keys * r) % w != 0 ||
      !sTy.getLayout().isIdentity() || rowTy.getDimSize(0) != r ||
      !rowTy.getLayout().isIdentity() ||
      !cast<MemRefType>(op.getRowSum().getType()).getLayout().isIdentity() ||
      cols(acc) % w != 0)
    return false;
  // Lane l of a flat vector is row l % r of key l / r: the tile is
  // width / r keys per vector, every row's lanes r apart.
  auto wTy = VectorType::get({w}, f32), rTy = VectorType::get({r}, f32);
  auto constW = [&](float v) -> Value {
    return arith::ConstantOp::create(b, wTy, DenseElementsAttr::get(wTy, v));
  };
  auto constR = [&](float v) -> Value {
    return arith::ConstantOp::create(b, rTy, DenseElementsAttr::get(rTy, v));
  };
  // Folds a flat vector to its r rows (halves added or maxed).
  auto fold = [&](Value v, bool isMax) {
    for (int64_t len = w; len > r; len /= 2) {
      auto half = [&](int64_t at) -> Value {
        return vector::ExtractStridedSliceOp::create(
            b, v, ArrayRef<int64_t>{at}, ArrayRef<int64_t>{len / 2},
            ArrayRef<int64_t>{1});
      };
      Value lo = half(0), hi = half(len / 2);
      v = isMax ? Value(arith::MaxNumFOp::create(b, lo, hi))
                : Value(arith::AddFOp::create(b, lo, hi));
    }
    return v;
  };
  Value flat = memref::CollapseShapeOp::create(
      b, s, ArrayRef<ReassociationIndices>{{0, 1}});
  Value total = im.c(keys * r);
  auto loadW = [&](Value i) -> Value {
    return vector::LoadOp::create(b, wTy, flat, ValueRange{i});
  };
  auto maxLoop = scf::ForOp::create(
      b, im.c(0), total, im.c(w), ValueRange{constW(kNegInf)},
      [&](OpBuilder &, Location, Value i, ValueRange it) {
        scf::YieldOp::create(
            b, ValueRange{arith::MaxNumFOp::create(b, it[0], loadW(i))});
      });
  Value zero = im.c(0);
  Value oldMax = vector::LoadOp::create(b, rTy, op.getRowMax(), zero);
  Value newMax =
      arith::MaxNumFOp::create(b, oldMax, fold(maxLoop.getResult(0), true));
  // Rows that have seen nothing shift by 0: exp(-inf) is exactly 0.
  Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, newMax,
                                     constR(kNegInf));
  Value shift = arith::SelectOp::create(b, none, constR(0.0f), newMax);
  SmallVector<int64_t> spread(w);
  for (int64_t l = 0; l < w; ++l)
    spread[l] = l % r;
  Value shiftW = vector::ShuffleOp::create(b, shift, shift, spread);
  auto expLoop = scf::ForOp::create(
      b, im.c(0), total, im.c(w), ValueRange{constW(0.0f)},
      [&](OpBuilder &, Location, Value i, ValueRange it) {
        Value p =
            math::ExpOp::create(b, arith::SubFOp::create(b, loadW(i), shiftW));
        vector::StoreOp::create(b, p, flat, ValueRange{i});
        scf::YieldOp::create(b, ValueRange{arith::AddFOp::create(b, it[0], p)});
      });
  Value alpha = math::ExpOp::create(b, arith::SubFOp::create(b, oldMax, shift));
  Value sum = arith::AddFOp::create(
      b,
      arith::MulFOp::create(
          b, vector::LoadOp::create(b, rTy, op.getRowSum(), zero), alpha),
      fold(expLoop.getResult(0), false));
  vector::StoreOp::create(b, sum, op.getRowSum(), zero);
  vector::StoreOp::create(b, newMax, op.getRowMax(), zero);
  for (int64_t l = 0; l < rows(acc); ++l) {
    Value a = vector::BroadcastOp::create(
        b, wTy, vector::ExtractOp::create(b, alpha, ArrayRef<int64_t>{l}));
    Value row = im.c(l);
    for (int64_t d = 0; d < cols(acc); d += w) {
      Value at = im.c(d);
      Value v = vector::LoadOp::create(b, wTy, acc, ValueRange{row, at});
      vector::StoreOp::create(b, arith::MulFOp::create(b, v, a), acc,
                              ValueRange{row, at});
    }
  }
  return true;
}

void TileVectorizer::lower(TileOnlineSoftmaxOp op) {
  if (lowerFlatSoftmax(op))
    return;
  // Key-major scores: each lane is one query row, so the running max and
  // sum are plain vector ops down the tile's rows (no horizontal reduction).
  // One loop down the keys carries every column vector: the max loop at
  // least 4 independent chains (keys unrolled when there are fewer
  // columns), the exp loop one exp per column per key; the order of each
  // column's max and sum is the same as one loop per column.
  Value s = op.getScores(), acc = op.getAcc();
  Value rowMax = op.getRowMax(), rowSum = op.getRowSum();
  int64_t keys = rows(s), dv = cols(acc);
  int64_t nc = cols(s) / width;
  int64_t unroll = 1;
  while (unroll * nc < 4 && keys % (2 * unroll) == 0)
    unroll *= 2;
  Value negInfVec = splat(kNegInf), zeroVec = splat(0.0f);
  auto maxLoop = scf::ForOp::create(
      b, im.c(0), im.c(keys), im.c(unroll),
      SmallVector<Value>(nc * unroll, negInfVec),
      [&](OpBuilder &, Location, Value n, ValueRange it) {
        SmallVector<Value> next;
        for (int64_t u = 0; u < unroll; ++u)
          for (int64_t ci = 0; ci < nc; ++ci)
            next.push_back(arith::MaxNumFOp::create(
                b, it[u * nc + ci], load(s, {im.add(n, u), im.c(ci * width)})));
        scf::YieldOp::create(b, next);
      });
  SmallVector<Value> oldMax, newMax, shift;
  for (int64_t ci = 0; ci < nc; ++ci) {
    Value m = maxLoop.getResult(ci);
    for (int64_t u = 1; u < unroll; ++u)
      m = arith::MaxNumFOp::create(b, m, maxLoop.getResult(u * nc + ci));
    oldMax.push_back(load(rowMax, {im.c(ci * width)}));
    newMax.push_back(arith::MaxNumFOp::create(b, oldMax.back(), m));
    // Rows that have seen nothing shift by 0: exp(-inf) is exactly 0.
    Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                       newMax.back(), negInfVec);
    shift.push_back(arith::SelectOp::create(b, none, zeroVec, newMax.back()));
  }
  auto expLoop = scf::ForOp::create(
      b, im.c(0), im.c(keys), im.c(1), SmallVector<Value>(nc, zeroVec),
      [&](OpBuilder &, Location, Value n, ValueRange it) {
        SmallVector<Value> next;
        for (int64_t ci = 0; ci < nc; ++ci) {
          Value col = im.c(ci * width);
          Value p = math::ExpOp::create(
              b, arith::SubFOp::create(b, load(s, {n, col}), shift[ci]));
          store(p, s, {n, col});
          next.push_back(arith::AddFOp::create(b, it[ci], p));
        }
        scf::YieldOp::create(b, next);
      });
  for (int64_t ci = 0; ci < nc; ++ci) {
    int64_t c = ci * width;
    Value col = im.c(c);
    Value alpha =
        math::ExpOp::create(b, arith::SubFOp::create(b, oldMax[ci], shift[ci]));
    Value sum = arith::AddFOp::create(
        b, arith::MulFOp::create(b, load(rowSum, {col}), alpha),
        expLoop.getResult(ci));
    store(sum, rowSum, {col});
    store(newMax[ci], rowMax, {col});
    for (int64_t l = 0; l < width && c + l < rows(acc); ++l) {
      Value a = vector::BroadcastOp::create(
          b, vecTy, vector::ExtractOp::create(b, alpha, ArrayRef<int64_t>{l}));
      Value r = im.c(c + l);
      for (int64_t d = 0; d < dv; d += width)
        store(arith::MulFOp::create(b, load(acc, {r, im.c(d)}), a), acc,
              {r, im.c(d)});
    }
  }
}

void TileVectorizer::lower(TileFinalizeOp op) {
  Value acc = op.getAcc(), out = op.getOutput(), lse = op.getLse();
  auto outTy = cast<MemRefType>(out.getType());
  Type elt = outTy.getElementType();
  int64_t outCols = outTy.getDimSize(1);
  Value outRows = memref::DimOp::create(b, out, 0);
  loop(im.c(0), outRows, 1, [&](Value r) {
    Value sum = memref::LoadOp::create(b, op.getRowSum(), ValueRange{r});
    Value empty =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, sum, scalar(0.0f));
    Value inv = arith::SelectOp::create(
        b, empty, scalar(0.0f), arith::DivFOp::create(b, scalar(1.0f), sum));
    Value invVec = vector::BroadcastOp::create(b, vecTy, inv);
    for (int64_t c = 0; c < outCols; c += width) {
      Value v = arith::MulFOp::create(b, load(acc, {r, im.c(c)}), invVec);
      if (elt != f32)
        v = arith::TruncFOp::create(b, VectorType::get({width}, elt), v);
      vector::TransferWriteOp::create(b, v, out, ValueRange{r, im.c(c)},
                                      ArrayRef<bool>{c + width <= outCols});
    }
    if (lse) {
      Value mx = memref::LoadOp::create(b, op.getRowMax(), ValueRange{r});
      Value val = arith::SelectOp::create(
          b, empty, scalar(kNegInf),
          arith::AddFOp::create(b, mx, math::LogOp::create(b, sum)));
      memref::StoreOp::create(b, val, lse, ValueRange{r});
    }
  });
}

void TileVectorizer::lower(TileCombineOp op) {
  Value parts = op.getParts(), partLse = op.getPartLse();
  Value out = op.getOutput(), lse = op.getLse();
  auto outTy = cast<MemRefType>(out.getType());
  Type elt = outTy.getElementType();
  auto partsTy = cast<MemRefType>(parts.getType());
  int64_t splits = partsTy.getDimSize(0);
  int64_t outCols = outTy.getDimSize(1);
  Value outRows = memref::DimOp::create(b, out, 0);
  // f16/bf16 parts (attn.merge_states) are read in their type, merged in f32.
  Type partElt = partsTy.getElementType();
  auto partVecTy = VectorType::get({width}, partElt);
  Value pad = partElt == f32
                  ? scalar(0.0f)
                  : arith::ConstantOp::create(b, b.getFloatAttr(partElt, 0.0));
  loop(im.c(0), outRows, 1, [&](Value r) {
    auto maxLoop = scf::ForOp::create(
        b, im.c(0), im.c(splits), im.c(1), ValueRange{scalar(kNegInf)},
        [&](OpBuilder &, Location, Value sp, ValueRange it) {
          Value l = memref::LoadOp::create(b, partLse, ValueRange{sp, r});
          scf::YieldOp::create(
              b, ValueRange{arith::MaxNumFOp::create(b, it[0], l)});
        });
    Value mx = maxLoop.getResult(0);
    Value empty = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mx,
                                        scalar(kNegInf));
    Value shift = arith::SelectOp::create(b, empty, scalar(0.0f), mx);
    SmallVector<Value> init = {scalar(0.0f)};
    for (int64_t c = 0; c < outCols; c += width)
      init.push_back(splat(0.0f));
    auto sumLoop = scf::ForOp::create(
        b, im.c(0), im.c(splits), im.c(1), init,
        [&](OpBuilder &, Location, Value sp, ValueRange it) {
          Value l = memref::LoadOp::create(b, partLse, ValueRange{sp, r});
          Value w = math::ExpOp::create(b, arith::SubFOp::create(b, l, shift));
          Value wVec = vector::BroadcastOp::create(b, vecTy, w);
          SmallVector<Value> next = {arith::AddFOp::create(b, it[0], w)};
          for (int64_t c = 0, i = 1; c < outCols; c += width, ++i) {
            Value v = vector::TransferReadOp::create(
                b, partVecTy, parts, ValueRange{sp, r, im.c(c)}, pad,
                ArrayRef<bool>{c + width <= outCols});
            if (partElt != f32)
              v = arith::ExtFOp::create(b, vecTy, v);
            next.push_back(vector::FMAOp::create(b, wVec, v, it[i]));
          }
          scf::YieldOp::create(b, next);
        });
    Value wsum = sumLoop.getResult(0);
    Value inv = arith::SelectOp::create(
        b, empty, scalar(0.0f), arith::DivFOp::create(b, scalar(1.0f), wsum));
    Value invVec = vector::BroadcastOp::create(b, vecTy, inv);
    for (int64_t c = 0, i = 1; c < outCols; c += width, ++i) {
      Value v = arith::MulFOp::create(b, sumLoop.getResult(i), invVec);
      if (elt != f32)
        v = arith::TruncFOp::create(b, VectorType::get({width}, elt), v);
      vector::TransferWriteOp::create(b, v, out, ValueRange{r, im.c(c)},
                                      ArrayRef<bool>{c + width <= outCols});
    }
    if (lse) {
      Value val = arith::SelectOp::create(
          b, empty, scalar(kNegInf),
          arith::AddFOp::create(b, mx, math::LogOp::create(b, wsum)));
      memref::StoreOp::create(b, val, lse, ValueRange{r});
    }
  });
}

struct VectorizeTilesPass
    : attn::impl::AttnVectorizeTilesBase<VectorizeTilesPass> {
  using Base::Base;
  void runOnOperation() override {
    int64_t width = vectorWidth > 0 ? vectorWidth : hostVectorWidth();
    // The flash emitter pads tile widths to 16 elements: a vector must
    // divide that (wider ones read past the padding: NaN, wrong results).
    if (width != 4 && width != 8 && width != 16) {
      getOperation().emitError()
          << "vector-width must be 4, 8 or 16 (0: the host's), got " << width;
      return signalPassFailure();
    }
    if (microRows <= 0) {
      getOperation().emitError("micro-rows must be positive");
      return signalPassFailure();
    }
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<TilePackOp, TileMatmulOp, TileSoftcapOp, TileMaskOp,
              TileOnlineSoftmaxOp, TileFinalizeOp, TileCombineOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      // Lane-per-row ops use half vectors when a query block has fewer rows
      // than a full vector (small GQA groups in decode): less padding work.
      int64_t lanes = laneDim(op);
      // (Quarter vectors for the 4 rows of a small group.)
      int64_t opWidth = width;
      while (lanes > 0 && lanes % opWidth != 0 && opWidth > 4)
        opWidth /= 2;
      if (lanes > 0 && (opWidth < 4 || lanes % opWidth != 0)) {
        op->emitOpError() << "lane dimension " << lanes
                          << " must be a multiple of the vector width " << width
                          << " or of a fraction of it of at least 4 lanes";
        return signalPassFailure();
      }
      TileVectorizer v(op, opWidth, microRows, width);
      llvm::TypeSwitch<Operation *>(op)
          .Case<TilePackOp, TileMatmulOp, TileSoftcapOp, TileMaskOp,
                TileOnlineSoftmaxOp, TileFinalizeOp, TileCombineOp>(
              [&](auto tileOp) { v.lower(tileOp); });
      op->erase();
    }
  }

  /// The dimension an op spreads over vector lanes without masking (0 for
  /// ops that mask their tails).
  static int64_t laneDim(Operation *op) {
    if (auto mm = dyn_cast<TileMatmulOp>(op))
      return mm.getTransposeRhs() ? 0 : mm.getAcc().getType().getDimSize(1);
    if (auto m = dyn_cast<TileMaskOp>(op))
      return m.getScores().getType().getDimSize(1);
    if (auto sm = dyn_cast<TileOnlineSoftmaxOp>(op))
      return sm.getScores().getType().getDimSize(1);
    if (auto sc = dyn_cast<TileSoftcapOp>(op))
      return sc.getScores().getType().getDimSize(1);
    return 0;
  }
};

} // namespace
