//===- VectorizeSoftmax.cpp - row-wise softmax tile ops -> vector code ----===//
//
// The online-softmax step (rescale the accumulator by the new row maxima),
// the final normalization into the output (and lse), and the merge of
// split-KV partials (tile_combine, with a static or run-time split count).
// Each unrolls over the tile's vectors so that LLVM keeps a row in
// registers.
//
//===----------------------------------------------------------------------===//
#include "passes/SoftmaxExp.h"
#include "passes/TileVectorizer.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

namespace {
/// The running max of a column: max(running, s) skipping a NaN s, as
/// arith.maxnumf, but as select(s > running, s, running), which is one
/// vmaxps (maxnumf costs a compare and a blend more: 3 of the ~17 vector
/// instructions per score before the exp).
Value runningMax(ImplicitLocOpBuilder &b, Value running, Value s) {
  Value greater =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, s, running);
  return arith::SelectOp::create(b, greater, s, running);
}
} // namespace

Value TileVectorizer::softmaxExp(Value x) {
  // AVX-512 (vscalefps): the short form; otherwise math.exp, which
  // attn-approximate-math turns into MLIR's polynomial.
  if (fullWidth >= 16)
    return emitNonPositiveExp(b, b.getLoc(), x);
  return math::ExpOp::create(b, x);
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
        scf::YieldOp::create(b, ValueRange{runningMax(b, it[0], loadW(i))});
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
        Value p = softmaxExp(arith::SubFOp::create(b, loadW(i), shiftW));
        vector::StoreOp::create(b, p, flat, ValueRange{i});
        scf::YieldOp::create(b, ValueRange{arith::AddFOp::create(b, it[0], p)});
      });
  Value alpha = softmaxExp(arith::SubFOp::create(b, oldMax, shift));
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
            next.push_back(runningMax(
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
          Value p = softmaxExp(
              arith::SubFOp::create(b, load(s, {n, col}), shift[ci]));
          store(p, s, {n, col});
          next.push_back(arith::AddFOp::create(b, it[ci], p));
        }
        scf::YieldOp::create(b, next);
      });
  for (int64_t ci = 0; ci < nc; ++ci) {
    int64_t c = ci * width;
    Value col = im.c(c);
    Value alpha = softmaxExp(arith::SubFOp::create(b, oldMax[ci], shift[ci]));
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
  // The split count is static, or chosen by the kernel at run time.
  auto partsTy = cast<MemRefType>(parts.getType());
  int64_t staticSplits = partsTy.getDimSize(0);
  auto splitCount = [&]() -> Value {
    if (ShapedType::isDynamic(staticSplits))
      return memref::DimOp::create(b, parts, 0);
    return im.c(staticSplits);
  };
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
        b, im.c(0), splitCount(), im.c(1), ValueRange{scalar(kNegInf)},
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
        b, im.c(0), splitCount(), im.c(1), init,
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
