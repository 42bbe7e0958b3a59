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
#include "passes/AmxTiles.h"
#include "passes/IndexMath.h"
#include "passes/MaskBuilder.h"
#include "passes/Passes.h"
#include "passes/TileVectorizer.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
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
using namespace mlir::attn::detail;

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
  // One K step: load the B row's vectors, broadcast each A scalar, FMA.
  auto stepK = [&](Value k, ValueRange accs) {
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
    return next;
  };
  // `kUnroll` steps per iteration (the GEMMs' option), the rest one by one.
  auto kLoops = [&](int64_t from, int64_t to, int64_t unroll,
                    ValueRange accs) -> SmallVector<Value> {
    if (from >= to)
      return SmallVector<Value>(accs);
    auto loop = scf::ForOp::create(
        b, im.c(from), im.c(to), im.c(unroll), accs,
        [&](OpBuilder &, Location, Value k, ValueRange iter) {
          SmallVector<Value> cur(iter);
          for (int64_t u = 0; u < unroll; ++u)
            cur = stepK(u ? im.add(k, u) : k, cur);
          scf::YieldOp::create(b, cur);
        });
    return SmallVector<Value>(loop.getResults());
  };
  int64_t unrolled = depth - depth % kUnroll;
  SmallVector<Value> results =
      kLoops(unrolled, depth, 1, kLoops(0, unrolled, kUnroll, init));
  for (int64_t i = 0; i < nRows; ++i)
    for (int64_t j = 0; j < vecs; ++j)
      store(results[i * vecs + j], acc, {rowIdx[i], colIdx[j]});
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
    int64_t vecs = microCols;
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

namespace {

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
    if (microRows <= 0 || microCols <= 0 || kUnroll <= 0) {
      getOperation().emitError(
          "micro-rows, micro-cols and k-unroll must be positive");
      return signalPassFailure();
    }
    AmxPlan plan;
    if (amx)
      plan = AmxPlan::build(getOperation());
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<TilePackOp, TileMatmulOp, TileSoftcapOp, TileMaskOp,
              TileDropoutOp, TileOnlineSoftmaxOp, TileFinalizeOp, TileCombineOp,
              TileRowDotOp, TileSoftmaxGradOp, TileAdditiveScoresOp,
              TileStoreProbsOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (lowerOnAmx(op, plan))
        continue;
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
      TileVectorizer v(op, opWidth, microRows, width, microCols, kUnroll);
      llvm::TypeSwitch<Operation *>(op)
          .Case<TilePackOp, TileMatmulOp, TileSoftcapOp, TileMaskOp,
                TileDropoutOp, TileOnlineSoftmaxOp, TileFinalizeOp,
                TileCombineOp, TileRowDotOp, TileSoftmaxGradOp,
                TileAdditiveScoresOp, TileStoreProbsOp>(
              [&](auto tileOp) { v.lower(tileOp); });
      op->erase();
    }
  }

  /// Lowers (and erases) `op` if it is a pack or matmul the plan takes.
  static bool lowerOnAmx(Operation *op, const AmxPlan &plan) {
    ImplicitLocOpBuilder b(op->getLoc(), op);
    if (auto pack = dyn_cast<TilePackOp>(op)) {
      const AmxPlan::Copy *copy = plan.copyOf(rootBuffer(pack.getDest()));
      if (!copy)
        return false;
      lowerAmxPack(b, pack, *copy);
    } else if (auto mm = dyn_cast<TileMatmulOp>(op)) {
      if (!plan.matmuls.count(op))
        return false;
      lowerAmxMatmul(b, mm, plan);
    } else {
      return false;
    }
    op->erase();
    return true;
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
    if (auto dr = dyn_cast<TileDropoutOp>(op))
      return dr.getProbs().getType().getDimSize(1);
    if (auto sc = dyn_cast<TileSoftcapOp>(op))
      return sc.getScores().getType().getDimSize(1);
    if (auto sg = dyn_cast<TileSoftmaxGradOp>(op))
      return sg.getScores().getType().getDimSize(1);
    if (auto as = dyn_cast<TileAdditiveScoresOp>(op))
      return as.getKeys().getType().getDimSize(1);
    if (auto sp = dyn_cast<TileStoreProbsOp>(op))
      return sp.getScores().getType().getDimSize(1);
    if (auto rd = dyn_cast<TileRowDotOp>(op))
      return rd.getLhs().getType().getDimSize(1);
    return 0;
  }
};

} // namespace
