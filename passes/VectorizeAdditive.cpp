//===- VectorizeAdditive.cpp - additive-attention tile ops -> vectors -----===//
//
// tile_additive_scores is a matmul-shaped loop whose inner product is
// w·tanh(k + q) instead of k·q: a register block of queries × keys, the
// hidden dim h innermost and on vector lanes (keys and queries are both
// h-contiguous rows), one accumulator per (query, key) pair, reduced by one
// shuffle-and-add tree per block as the decode dot products of tile_matmul
// are. Vectorizing over h rather than over queries keeps every lane busy
// for a single query (seed 002's decoder step) as for a block of them.
//
//===----------------------------------------------------------------------===//
#include "passes/TileVectorizer.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

void TileVectorizer::additiveBlock(TileAdditiveScoresOp op, Value m0,
                                   int64_t nRows, Value n0, int64_t nKeys) {
  Value keys = op.getKeys(), queries = op.getQueries(), w = op.getW();
  Value bias = op.getBias();
  int64_t hidden = cols(keys);
  SmallVector<Value> init(nRows * nKeys, splat(0.0f));
  auto hLoop = scf::ForOp::create(
      b, im.c(0), im.c(hidden), im.c(width), init,
      [&](OpBuilder &, Location, Value h, ValueRange accs) {
        SmallVector<Value> qs, ks, next;
        Value bv = bias ? load(bias, {h}) : Value();
        for (int64_t i = 0; i < nRows; ++i) {
          Value q = load(queries, {im.add(m0, i), h});
          qs.push_back(bv ? arith::AddFOp::create(b, q, bv).getResult() : q);
        }
        for (int64_t j = 0; j < nKeys; ++j)
          ks.push_back(load(keys, {im.add(n0, j), h}));
        Value wv = load(w, {h});
        // Key-major accumulators: lane j * nRows + i of the reduced vector
        // is scores[n0 + j, m0 + i], so each key's row is one short store.
        for (int64_t j = 0; j < nKeys; ++j)
          for (int64_t i = 0; i < nRows; ++i) {
            Value t =
                math::TanhOp::create(b, arith::AddFOp::create(b, ks[j], qs[i]));
            next.push_back(
                vector::FMAOp::create(b, wv, t, accs[j * nRows + i]));
          }
        scf::YieldOp::create(b, next);
      });
  Value sums = sumAcross(SmallVector<Value>(hLoop.getResults()));
  for (int64_t j = 0; j < nKeys; ++j) {
    Value row = vector::ExtractStridedSliceOp::create(
        b, sums, ArrayRef<int64_t>{j * nRows}, ArrayRef<int64_t>{nRows},
        ArrayRef<int64_t>{1});
    vector::StoreOp::create(b, row, op.getScores(),
                            ValueRange{im.add(n0, j), m0});
  }
}

void TileVectorizer::lower(TileAdditiveScoresOp op) {
  Value s = op.getScores();
  int64_t n = rows(s), m = cols(s);
  // Blocks of width accumulators: 4 queries × width/4 keys while four
  // query rows remain, then one query × width keys.
  auto keyBlocks = [&](Value m0, int64_t nRows) {
    int64_t nKeys = std::min<int64_t>(width / nRows, n);
    int64_t mainKeys = n - n % nKeys;
    loop(im.c(0), im.c(mainKeys), nKeys,
         [&](Value n0) { additiveBlock(op, m0, nRows, n0, nKeys); });
    if (n % nKeys)
      additiveBlock(op, m0, nRows, im.c(mainKeys), n % nKeys);
  };
  Value rowsValid = im.min(op.getRows(), im.c(m));
  Value rows4 = im.mul(im.div(rowsValid, 4), 4);
  if (m >= 4 && width >= 4)
    loop(im.c(0), rows4, 4, [&](Value m0) { keyBlocks(m0, 4); });
  loop(rows4, rowsValid, 1, [&](Value m0) { keyBlocks(m0, 1); });
  // Columns past the valid rows are 0 (finite for the softmax steps).
  Value zero = scalar(0.0f);
  loop(rowsValid, im.c(m), 1, [&](Value col) {
    loop(im.c(0), im.c(n), 1, [&](Value r) {
      memref::StoreOp::create(b, zero, s, ValueRange{r, col});
    });
  });
}

void TileVectorizer::lower(TileStoreProbsOp op) {
  Value s = op.getScores(), lse = op.getLse(), probs = op.getProbs();
  Value negInf = splat(kNegInf), zero = splat(0.0f);
  SmallVector<Value> lses, empty;
  for (int64_t c = 0; c < cols(s); c += width) {
    Value l = load(lse, {im.c(c)});
    Value isEmpty =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, l, negInf);
    empty.push_back(isEmpty);
    // An empty row shifts by 0: exp(-inf - 0) = 0, never NaN.
    lses.push_back(arith::SelectOp::create(b, isEmpty, zero, l));
  }
  loop(im.c(0), im.c(rows(s)), 1, [&](Value r) {
    for (auto [i, l] : llvm::enumerate(lses)) {
      Value c = im.c(i * width);
      Value e =
          math::ExpOp::create(b, arith::SubFOp::create(b, load(s, {r, c}), l));
      store(arith::SelectOp::create(b, empty[i], zero, e), s, {r, c});
    }
  });
  // The transposed store: weights rows are queries, contiguous along keys.
  Type elt = cast<MemRefType>(probs.getType()).getElementType();
  Value qRows = memref::DimOp::create(b, probs, 0);
  Value keyCols = memref::DimOp::create(b, probs, 1);
  loop(im.c(0), qRows, 1, [&](Value m) {
    loop(im.c(0), keyCols, 1, [&](Value k) {
      Value v = memref::LoadOp::create(b, s, ValueRange{k, m});
      if (elt != f32)
        v = arith::TruncFOp::create(b, elt, v);
      memref::StoreOp::create(b, v, probs, ValueRange{m, k});
    });
  });
}
