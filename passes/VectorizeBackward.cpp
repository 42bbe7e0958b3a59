//===- VectorizeBackward.cpp - the backward's tile ops -> vector code -----===//
//
// tile_softmax_grad runs one query row per lane down a key-major tile, as
// the forward's softmax does: lse and D are loaded once per column vector,
// then per key one exp, a subtract and two multiplies (three with
// softcap; a multiply and a select more with a score_mod's slope).
// tile_rowdot multiplies rows along their columns and reduces
// each row once.
//
//===----------------------------------------------------------------------===//
#include "passes/TileVectorizer.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

void TileVectorizer::lower(TileRowDotOp op) {
  Value a = op.getLhs(), c = op.getRhs(), out = op.getOut();
  int64_t n = cols(a);
  loop(im.c(0), im.c(rows(a)), 1, [&](Value r) {
    Value acc = splat(0.0f);
    for (int64_t col = 0; col < n; col += width)
      acc = vector::FMAOp::create(b, load(a, {r, im.c(col)}),
                                  load(c, {r, im.c(col)}), acc);
    Value sum = vector::ReductionOp::create(b, vector::CombiningKind::ADD, acc,
                                            arith::FastMathFlags::reassoc);
    memref::StoreOp::create(b, sum, out, ValueRange{r});
  });
}

void TileVectorizer::lower(TileSoftmaxGradOp op) {
  Value s = op.getScores(), dp = op.getDp(), slope = op.getSlope();
  int64_t nc = cols(s) / width;
  std::optional<float> cap;
  if (auto c = op.getSoftcap())
    cap = c->convertToFloat();
  // A row that saw nothing (lse = -inf) gives P = 0: as if lse were +inf,
  // so that exp(s - lse) needs no select per element.
  SmallVector<Value> lse, delta;
  Value negInf = splat(kNegInf), posInf = splat(-kNegInf);
  for (int64_t ci = 0; ci < nc; ++ci) {
    Value l = load(op.getLse(), {im.c(ci * width)});
    Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, l, negInf);
    lse.push_back(arith::SelectOp::create(b, none, posInf, l));
    delta.push_back(load(op.getDelta(), {im.c(ci * width)}));
  }
  loop(im.c(0), im.c(rows(s)), 1, [&](Value n) {
    for (int64_t ci = 0; ci < nc; ++ci) {
      Value col = im.c(ci * width);
      Value sv = load(s, {n, col});
      Value p = math::ExpOp::create(b, arith::SubFOp::create(b, sv, lse[ci]));
      Value ds = arith::MulFOp::create(
          b, p, arith::SubFOp::create(b, load(dp, {n, col}), delta[ci]));
      if (cap) {
        // 1 - tanh² of the capped score s = cap·tanh: 1 - (s / cap)². A
        // masked score (-inf) is clamped to -cap first (factor 0, P = 0),
        // which leaves every real capped score (inside (-cap, cap)) as is.
        Value t = arith::MulFOp::create(
            b, arith::MaxNumFOp::create(b, sv, splat(-*cap)), splat(1 / *cap));
        Value f = arith::SubFOp::create(b, splat(1.0f),
                                        arith::MulFOp::create(b, t, t));
        ds = arith::MulFOp::create(b, ds, f);
      }
      if (slope) {
        // A masked pair's slope is whatever the modifier gave there (NaN
        // included): the select keeps its dS exactly 0.
        ds = arith::MulFOp::create(b, ds, load(slope, {n, col}));
        Value seen =
            arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, p, splat(0.0f));
        ds = arith::SelectOp::create(b, seen, ds, splat(0.0f));
      }
      store(p, s, {n, col});
      store(ds, dp, {n, col});
    }
  });
}
