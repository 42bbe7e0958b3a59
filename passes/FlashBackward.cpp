//===- FlashBackward.cpp - attn.attention_grad -> flash-form tile loops ---===//
//
// The FlashAttention-2 backward on the CPU, as tile ops (vectorized by
// attn-vectorize-tiles like the forward's). One parallel loop holds two
// kinds of work items:
//
// - K/V items (batch, K/V head, KV tile): K and V of the tile stay packed;
//   a loop over query blocks (`attn.q_tile_loop`, narrowed to the blocks
//   the mask lets see the tile by attn-mask-aware-iteration) recomputes
//   Sᵀ = K·Qᵀ, P = exp(S - lse), dPᵀ = V·dOᵀ, dS = P (dP - D) and
//   accumulates dV += Pᵀ·dO and dK += dSᵀ·Q for the whole GQA group (the
//   sum over its query heads) in registers-sized tiles, stored once.
// - Q items (batch, K/V head, query block), the dQ pass: a loop over KV
//   tiles (`attn.kv_tile_loop`, narrowed exactly as the forward's)
//   recomputes the same S and dS and accumulates dQ += dS·K.
//
// Each gradient element is written by one item that sums in a fixed
// order, so results are bit-identical run to run whatever the threads
// (no atomics). D = rowsum(dO ∘ O) is recomputed per query block where it
// is used (cost: one row dot per block against four matmuls), so the two
// kinds of items are independent and one loop runs them all.
//
//===----------------------------------------------------------------------===//
#include "passes/FlashEmitter.h"
#include "passes/ScoreModDerivative.h"
#include "passes/ScoreModifiers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kPad = 16; // tile widths are padded to whole vectors
/// KV tiles per K/V item (see BackwardLowering::tkv).
constexpr int64_t kKvItemTiles = 4;

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

class BackwardLowering {
public:
  BackwardLowering(AttentionGradOp op, const FlashGeometry &g)
      : op(op), b(op.getLoc(), op), im{b}, g(g) {}

  LogicalResult run();

private:
  /// The tiles of one query block (both kinds of items).
  struct QueryTiles {
    Value qt, qRows, doT, doRows, oRows, lse, delta;
    Value b0, hkv; ///< whose block it holds (packQueries)
  };
  Value inputBuffer(Value tensor, bool unitInner) {
    return tensorAsBuffer(b, tensor, unitInner);
  }
  Value outputBuffer(Value result);
  Value logical(Value buffer);
  Value tile(ArrayRef<int64_t> shape) {
    return memref::AllocaOp::create(b, MemRefType::get(shape, b.getF32Type()));
  }
  void fill(Value buffer, float value) {
    Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(value));
    linalg::FillOp::create(b, c, buffer);
  }
  OpFoldResult idx(int64_t v) { return b.getIndexAttr(v); }
  Value view2d(Value src, Value b0, Value h, Value s0, OpFoldResult rows,
               int64_t dim) {
    return rankReducedView(b, src, {b0, h, s0, idx(0)},
                           {idx(1), idx(1), rows, idx(dim)},
                           {ShapedType::kDynamic, dim});
  }
  Value kvLimit(Value b0);
  QueryTiles allocQueryTiles(bool rowMajorQ);
  /// Packs the query block at q0 of (b0, hkv): Qᵀ (scaled by `qScale`),
  /// Q rows (scaled, when allocated), dOᵀ, dO, the lse and D.
  void packQueries(QueryTiles &t, Value b0, Value hkv, Value q0,
                   std::optional<float> qScale);
  /// S, masks and dS of the KV tile at j0 against the query block at q0:
  /// leaves P in `s` and dS in `dp` (`slope`: scratch of s's shape, for
  /// the score modifiers' derivative; null without them).
  void scoreTile(const QueryTiles &t, Value k, Value v, Value s, Value dp,
                 Value slope, Value q0, Value j0, Value limit);
  /// Multiplies the key-major tile `x` at (q0, j0) by the forward's
  /// dropout factors Z (1 / (1 - p) where kept, else 0); no-op without
  /// dropout.
  void applyDropout(const QueryTiles &t, Value x, Value q0, Value j0);
  /// Calls `body(n, m, h, qi, kj)` for every score s[n, m] of the group's
  /// rows in the key-major tile `s` at (q0, j0), as the forward's per-score
  /// hooks (TileFlash.cpp) do; indices clamped so operand reads stay in
  /// bounds (padding pairs are masked anyway).
  void forEachScore(
      const QueryTiles &t, Value s, Value q0, Value j0,
      llvm::function_ref<void(Value, Value, Value, Value, Value)> body);
  /// The scratch `scoreTile` wants for `slope` (d score_mod / d score),
  /// shaped like `s`; null without a score_mod.
  Value slopeTile(Value s) {
    if (!mods.scoreMod)
      return Value();
    return tile(cast<MemRefType>(s.getType()).getShape());
  }
  void emitKvItem(Value item);
  void emitQueryItem(Value item);
  /// Stores rows of `acc` into `dst` (converting to its element type).
  void storeRows(Value acc, Value dst, Value ones);

  AttentionGradOp op;
  ImplicitLocOpBuilder b;
  IndexMath im;
  FlashGeometry g;
  int64_t dPad = 0, kvBlocks = 0;
  /// Keys per K/V item: several KV tiles, so that each query block's packs
  /// (two of them transposes) serve more of the item's matmul work.
  int64_t tkv = 0;
  Value q, k, v, o, dO, lse, kvLengths, dq, dk, dv;
  /// The dropout state's buffer ([seed, offset]); null without dropout.
  Value dropoutState;
  ScoreModifiers mods;
  SmallVector<Operation *> toErase;
};

Value BackwardLowering::logical(Value buffer) {
  return logicalView(b, buffer, op.getLayoutOrDefault());
}

Value BackwardLowering::outputBuffer(Value result) {
  // Static sizes only (unsupported() rejects the others): no dynamic dims.
  return resultBuffer(
      b, op, result, /*unitInner=*/true, [] { return SmallVector<Value>(); },
      toErase);
}

LogicalResult BackwardLowering::run() {
  b.setInsertionPoint(op);
  dPad = roundUp(g.headDim, kPad);
  tkv = std::min(kKvItemTiles * g.tk,
                 roundUp(std::max<int64_t>(g.kvCapacity, 1), kPad));
  tkv = std::max(tkv, g.tk);
  kvBlocks = (g.kvCapacity + tkv - 1) / tkv;
  q = logical(inputBuffer(op.getQuery(), true));
  k = logical(inputBuffer(op.getKey(), true));
  v = logical(inputBuffer(op.getValue(), true));
  o = logical(inputBuffer(op.getOutput(), true));
  dO = logical(inputBuffer(op.getGradOutput(), true));
  lse = inputBuffer(op.getLse(), false);
  kvLengths = inputBuffer(op.getKvLengths(), false);
  if (op.getDropoutP() && !op.getDropoutP()->isZero())
    dropoutState = inputBuffer(op.getDropoutState(), false);
  mods.bias = inputBuffer(op.getBias(), false);
  mods.boolMask = inputBuffer(op.getBoolMask(), false);
  mods.qSeg = inputBuffer(op.getQSegmentIds(), false);
  mods.kvSeg = inputBuffer(op.getKvSegmentIds(), false);
  if (!op.getScoreMod().empty()) {
    mods.scoreMod = &op.getScoreMod();
    mods.scoreModGrad = &op.getScoreModGrad();
  }
  if (!op.getMaskMod().empty())
    mods.maskMod = &op.getMaskMod();
  dq = logical(outputBuffer(op.getGradQuery()));
  dk = logical(outputBuffer(op.getGradKey()));
  dv = logical(outputBuffer(op.getGradValue()));

  int64_t kvItems = g.batch * g.kvHeads * kvBlocks;
  int64_t qItems = g.batch * g.kvHeads * g.qBlocks;
  int64_t items = kvItems + qItems;
  auto forall = scf::ForallOp::create(b, ArrayRef<OpFoldResult>{idx(items)},
                                      ValueRange(), std::nullopt);
  markWorkItems(forall);
  if (items > 0) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    auto scope = memref::AllocaScopeOp::create(b, TypeRange());
    b.createBlock(&scope.getBodyRegion());
    Value item = forall.getInductionVar(0);
    // K/V items first: they cost more (four matmuls per block, not three).
    auto ifKv = scf::IfOp::create(b, im.lt(item, im.c(kvItems)),
                                  /*withElseRegion=*/true);
    b.setInsertionPointToStart(ifKv.thenBlock());
    emitKvItem(item);
    b.setInsertionPointToStart(ifKv.elseBlock());
    emitQueryItem(im.sub(item, kvItems));
    b.setInsertionPointToEnd(&scope.getBodyRegion().front());
    memref::AllocaScopeReturnOp::create(b, ValueRange());
  }
  for (Operation *dead : toErase)
    dead->erase();
  if (op->use_empty())
    op->erase();
  return success();
}

Value BackwardLowering::kvLimit(Value b0) {
  Value limit = im.c(g.kvCapacity);
  if (!kvLengths)
    return limit;
  Value len = memref::LoadOp::create(b, kvLengths, ValueRange{b0});
  Value lenIdx = arith::IndexCastOp::create(b, b.getIndexType(), len);
  return im.max(im.c(0), im.min(lenIdx, limit));
}

BackwardLowering::QueryTiles BackwardLowering::allocQueryTiles(bool rowMajorQ) {
  QueryTiles t;
  t.qt = tile({dPad, g.rowsPad});
  if (rowMajorQ)
    t.qRows = tile({g.rowsPad, dPad});
  t.doT = tile({g.dvPad, g.rowsPad});
  t.doRows = tile({g.rowsPad, g.dvPad});
  t.oRows = tile({g.rowsPad, g.dvPad});
  t.lse = tile({g.rowsPad});
  t.delta = tile({g.rowsPad});
  return t;
}

void BackwardLowering::packQueries(QueryTiles &t, Value b0, Value hkv, Value q0,
                                   std::optional<float> qScale) {
  t.b0 = b0;
  t.hkv = hkv;
  // Padding rows (past the group's rows, past Sq) must stay inert: zero Q,
  // dO and O, and lse +inf so that P = exp(s - lse) is 0 there.
  if (g.rowsPad != g.rows) {
    for (Value z : {t.qt, t.qRows, t.doT, t.doRows, t.oRows})
      if (z)
        fill(z, 0.0f);
  }
  fill(t.lse, std::numeric_limits<float>::infinity());
  Value qValid = im.min(im.c(g.tq), im.sub(im.c(g.qLen), q0));
  FloatAttr scale = qScale ? b.getF32FloatAttr(*qScale) : FloatAttr();
  auto heads = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(heads.getBody());
    Value gi = heads.getInductionVar();
    Value h = im.add(im.mul(hkv, g.group), gi);
    Value r0 = im.mul(gi, g.tq);
    auto cols = [&](Value tileT, int64_t dim) {
      return rankReducedView(b, tileT, {idx(0), r0}, {idx(dim), idx(g.tq)},
                             {dim, g.tq});
    };
    auto rows = [&](Value tileR, int64_t dim) {
      return rankReducedView(b, tileR, {r0, idx(0)}, {idx(g.tq), idx(dim)},
                             {g.tq, dim});
    };
    Value qSrc = view2d(q, b0, h, q0, qValid, g.headDim);
    TilePackOp::create(b, qSrc, cols(t.qt, dPad), scale, /*transpose=*/true);
    if (t.qRows)
      TilePackOp::create(b, qSrc, rows(t.qRows, dPad), scale, false);
    Value doSrc = view2d(dO, b0, h, q0, qValid, g.valueDim);
    TilePackOp::create(b, doSrc, cols(t.doT, g.dvPad), FloatAttr(), true);
    TilePackOp::create(b, doSrc, rows(t.doRows, g.dvPad), FloatAttr(), false);
    TilePackOp::create(b, view2d(o, b0, h, q0, qValid, g.valueDim),
                       rows(t.oRows, g.dvPad), FloatAttr(), false);
    auto copy = scf::ForOp::create(b, im.c(0), qValid, im.c(1));
    b.setInsertionPointToStart(copy.getBody());
    Value i = copy.getInductionVar();
    Value l = memref::LoadOp::create(b, lse, ValueRange{b0, h, im.add(q0, i)});
    memref::StoreOp::create(b, l, t.lse, ValueRange{im.add(r0, i)});
  }
  TileRowDotOp::create(b, t.doRows, t.oRows, t.delta);
}

void BackwardLowering::forEachScore(
    const QueryTiles &t, Value s, Value q0, Value j0,
    llvm::function_ref<void(Value, Value, Value, Value, Value)> body) {
  int64_t keys = cast<MemRefType>(s.getType()).getDimSize(0);
  auto rows = scf::ForOp::create(b, im.c(0), im.c(g.rows), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(rows.getBody());
  Value m = rows.getInductionVar();
  Value h = im.add(im.mul(t.hkv, g.group), im.div(m, g.tq));
  Value qi = im.min(im.add(q0, im.rem(m, g.tq)), im.c(g.qLen - 1));
  auto cols = scf::ForOp::create(b, im.c(0), im.c(keys), im.c(1));
  b.setInsertionPointToStart(cols.getBody());
  Value n = cols.getInductionVar();
  body(n, m, h, qi, im.min(im.add(j0, n), im.c(g.kvCapacity - 1)));
}

void BackwardLowering::scoreTile(const QueryTiles &t, Value kt, Value vt,
                                 Value s, Value dp, Value slope, Value q0,
                                 Value j0, Value limit) {
  TileMatmulOp::create(b, kt, t.qt, s, /*accumulate=*/false,
                       /*transpose_lhs=*/false, /*transpose_rhs=*/false);
  // Bias and score_mod on the scaled logit, d score_mod / d logit into
  // `slope` (the bias adds 1).
  if (mods.modifiesScores())
    forEachScore(t, s, q0, j0,
                 [&](Value n, Value m, Value h, Value qi, Value kj) {
                   Value raw = memref::LoadOp::create(b, s, ValueRange{n, m});
                   Value dr;
                   Value mod = modifyScore(b, im, mods, raw, t.b0, h, qi, kj,
                                           slope ? &dr : nullptr);
                   memref::StoreOp::create(b, mod, s, ValueRange{n, m});
                   if (slope)
                     memref::StoreOp::create(b, dr, slope, ValueRange{n, m});
                 });
  FloatAttr cap = op.getSoftcapAttr();
  if (cap)
    TileSoftcapOp::create(b, s, cap);
  TileMaskOp::create(b, s, q0, j0, limit, op.getMaskAttr(),
                     b.getI64IntegerAttr(g.tq));
  // bool_mask, segment ids and mask_mod, after softcap as in the forward.
  if (mods.masks()) {
    Value negInf = arith::ConstantOp::create(
        b, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    forEachScore(
        t, s, q0, j0, [&](Value n, Value m, Value h, Value qi, Value kj) {
          Value keep = customMasksAllow(b, im, mods, t.b0, h, qi, kj);
          Value x = memref::LoadOp::create(b, s, ValueRange{n, m});
          memref::StoreOp::create(b,
                                  arith::SelectOp::create(b, keep, x, negInf),
                                  s, ValueRange{n, m});
        });
  }
  TileMatmulOp::create(b, vt, t.doT, dp, false, false, false);
  // dP of the undropped weights: Z · (dO · V), as the forward's output
  // saw V only through kept weights.
  applyDropout(t, dp, q0, j0);
  TileSoftmaxGradOp::create(b, s, dp, t.lse, t.delta, slope, cap);
}

void BackwardLowering::applyDropout(const QueryTiles &t, Value x, Value q0,
                                    Value j0) {
  if (!dropoutState)
    return;
  // Loaded where used: items stay self-contained (the loads are two
  // scalars against a tile's matmuls).
  Value seed = memref::LoadOp::create(b, dropoutState, ValueRange{im.c(0)});
  Value offset = memref::LoadOp::create(b, dropoutState, ValueRange{im.c(1)});
  // The tile's columns are laid out like the forward's (query head
  // hkv * group + m / tq, query q0 + m mod tq), so the same Philox words.
  TileDropoutOp::create(
      b, x, seed, offset, t.b0, im.mul(t.hkv, g.group), q0, j0,
      b.getF64FloatAttr(op.getDropoutP()->convertToDouble()),
      b.getI64IntegerAttr(g.heads), b.getI64IntegerAttr(g.tq));
}

void BackwardLowering::storeRows(Value acc, Value dst, Value ones) {
  // tile_finalize divides by row_sum: ones make it a converting store.
  TileFinalizeOp::create(b, acc, ones, ones, dst, Value());
}

void BackwardLowering::emitKvItem(Value item) {
  Value kb = im.rem(item, kvBlocks);
  Value rest = im.div(item, kvBlocks);
  Value hkv = im.rem(rest, g.kvHeads), b0 = im.div(rest, g.kvHeads);
  Value j0 = im.mul(kb, tkv);
  Value limit = kvLimit(b0);
  Value kvValid = im.max(im.c(0), im.min(im.c(tkv), im.sub(limit, j0)));
  Value kt = tile({tkv, dPad}), vt = tile({tkv, g.dvPad});
  Value dkAcc = tile({tkv, dPad}), dvAcc = tile({tkv, g.dvPad});
  Value s = tile({tkv, g.rowsPad}), dp = tile({tkv, g.rowsPad});
  Value slope = slopeTile(s);
  Value ones = tile({tkv});
  QueryTiles t = allocQueryTiles(/*rowMajorQ=*/true);
  TilePackOp::create(b, view2d(k, b0, hkv, j0, kvValid, g.headDim), kt,
                     FloatAttr(), false);
  TilePackOp::create(b, view2d(v, b0, hkv, j0, kvValid, g.valueDim), vt,
                     FloatAttr(), false);
  fill(dkAcc, 0.0f);
  fill(dvAcc, 0.0f);
  fill(ones, 1.0f);
  auto qLoop = scf::ForOp::create(b, im.c(0), im.c(g.qBlocks), im.c(1));
  AttnDialect::QTileLoopAttrHelper(b.getContext())
      .setAttr(qLoop, b.getI64IntegerAttr(tkv));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(qLoop.getBody());
    Value q0 = im.mul(qLoop.getInductionVar(), g.tq);
    packQueries(t, b0, hkv, q0, op.getScaleOrDefault());
    scoreTile(t, kt, vt, s, dp, slope, q0, j0, limit);
    // dV += (P Z)ᵀ·dO (the weights the forward's output used) and
    // dK += dSᵀ·(scale Q), over the group's query heads.
    applyDropout(t, s, q0, j0);
    TileMatmulOp::create(b, s, t.doRows, dvAcc, true, false, false);
    TileMatmulOp::create(b, dp, t.qRows, dkAcc, true, false, false);
  }
  // Keys past kv_lengths (but inside the buffer) get zeros.
  Value rows = im.min(im.c(tkv), im.sub(im.c(g.kvCapacity), j0));
  storeRows(dkAcc, view2d(dk, b0, hkv, j0, rows, g.headDim), ones);
  storeRows(dvAcc, view2d(dv, b0, hkv, j0, rows, g.valueDim), ones);
}

void BackwardLowering::emitQueryItem(Value item) {
  Value qb = im.rem(item, g.qBlocks);
  Value rest = im.div(item, g.qBlocks);
  Value hkv = im.rem(rest, g.kvHeads), b0 = im.div(rest, g.kvHeads);
  Value q0 = im.mul(qb, g.tq);
  Value limit = kvLimit(b0);
  Value kt = tile({g.tk, dPad}), vt = tile({g.tk, g.dvPad});
  Value s = tile({g.tk, g.rowsPad}), dp = tile({g.tk, g.rowsPad});
  Value slope = slopeTile(s);
  Value dqAcc = tile({g.rowsPad, dPad}), ones = tile({g.rowsPad});
  QueryTiles t = allocQueryTiles(/*rowMajorQ=*/false);
  // Q unscaled, K scaled: S = (scale K)·Qᵀ and dQ = dS·(scale K).
  packQueries(t, b0, hkv, q0, std::nullopt);
  fill(dqAcc, 0.0f);
  fill(ones, 1.0f);
  auto kvLoop =
      scf::ForOp::create(b, im.c(0), im.ceilDiv(limit, g.tk), im.c(1));
  AttnDialect::KvTileLoopAttrHelper(b.getContext())
      .setAttr(kvLoop, b.getI64IntegerAttr(g.tk));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(kvLoop.getBody());
    Value j0 = im.mul(kvLoop.getInductionVar(), g.tk);
    Value kvValid = im.min(im.c(g.tk), im.sub(limit, j0));
    TilePackOp::create(b, view2d(k, b0, hkv, j0, kvValid, g.headDim), kt,
                       b.getF32FloatAttr(op.getScaleOrDefault()), false);
    TilePackOp::create(b, view2d(v, b0, hkv, j0, kvValid, g.valueDim), vt,
                       FloatAttr(), false);
    scoreTile(t, kt, vt, s, dp, slope, q0, j0, limit);
    TileMatmulOp::create(b, dp, kt, dqAcc, true, /*transpose_lhs=*/true, false);
  }
  Value qValid = im.min(im.c(g.tq), im.sub(im.c(g.qLen), q0));
  auto heads = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(heads.getBody());
  Value gi = heads.getInductionVar();
  Value h = im.add(im.mul(hkv, g.group), gi);
  Value r0 = im.mul(gi, g.tq);
  Value acc = rankReducedView(b, dqAcc, {r0, idx(0)}, {idx(g.tq), idx(dPad)},
                              {g.tq, dPad});
  Value onesRows = rankReducedView(b, ones, {r0}, {idx(g.tq)}, {g.tq});
  storeRows(acc, view2d(dq, b0, h, q0, qValid, g.headDim), onesRows);
}

/// Why `op` cannot be lowered yet, or empty.
std::string unsupported(AttentionGradOp op) {
  if (op.getGradBias())
    return "a bias gradient (grad_bias)";
  for (Value v : op->getOperands())
    if (!cast<ShapedType>(v.getType()).hasStaticShape())
      return "run-time sizes";
  return "";
}

} // namespace

LogicalResult mlir::attn::lowerAttentionGrad(AttentionGradOp op,
                                             int64_t tileRows, int64_t tileKv,
                                             int64_t parallelism) {
  if (std::string what = unsupported(op); !what.empty())
    return op.emitOpError("attn-tile-flash: the CPU backward does not take ")
           << what << " yet";
  // attn-differentiate-score-mod, when it has not run.
  if (!op.getScoreMod().empty() && op.getScoreModGrad().empty() &&
      failed(buildScoreModDerivative(op.getScoreMod(), op.getScoreModGrad())))
    return failure();
  auto qs = op.getLogicalShape(op.getQuery());
  auto ks = op.getLogicalShape(op.getKey());
  auto vs = op.getLogicalShape(op.getValue());
  std::string error;
  auto geometry = chooseFlashGeometry(qs[0], qs[1], ks[1], qs[2], qs[3], vs[3],
                                      ks[2], /*pageSize=*/0, tileRows, tileKv,
                                      /*kvSplits=*/1, parallelism, error);
  if (failed(geometry))
    return op.emitOpError() << error;
  return BackwardLowering(op, *geometry).run();
}
