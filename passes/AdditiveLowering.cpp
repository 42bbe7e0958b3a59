//===- AdditiveLowering.cpp - attn.additive_attention -> tile loops -------===//
//
// One work item = (batch, chunk of query blocks). It projects the keys it
// needs once, Pk = K · W_kᵀ (tile_pack + tile_matmul per KV tile into a heap
// buffer of the valid keys only), then, per query block, Pq = Q · W_qᵀ and
// the flash loop over KV tiles: tile_additive_scores (w · tanh(Pk + Pq +
// bias), the hot loop), masks, tile_online_softmax and acc += P · V. With
// the weights result a second pass over the tiles recomputes the scores and
// stores exp(s - lse). score_bias is not applied: every score of a row gets
// the same constant, which the softmax cancels exactly.
//
// Chunking trades the projection's reuse against parallelism: Pk of a
// sequence is recomputed once per chunk (kChunkRows queries), never per
// query block or per (query, key) pair.
//
//===----------------------------------------------------------------------===//
#include "passes/FlashEmitter.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Queries per work item: the projected keys of a sequence are reused by
/// this many queries before a chunk recomputes them.
constexpr int64_t kChunkRows = 256;

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

class AdditiveLowering {
public:
  AdditiveLowering(AdditiveAttentionOp op, int64_t tileRows, int64_t tileKv)
      : op(op), b(op.getLoc(), op), im{b}, tileRows(tileRows), tileKv(tileKv) {}
  LogicalResult run();

private:
  LogicalResult chooseTiles();
  OpFoldResult dim(Value buffer, unsigned i) {
    int64_t s = cast<MemRefType>(buffer.getType()).getDimSize(i);
    if (!ShapedType::isDynamic(s))
      return b.getIndexAttr(s);
    return memref::DimOp::create(b, buffer, i).getResult();
  }
  Value scratchTile(ArrayRef<int64_t> shape) {
    return memref::AllocaOp::create(b, MemRefType::get(shape, b.getF32Type()));
  }
  Value heapTile(ArrayRef<int64_t> shape) {
    return memref::AllocOp::create(b, MemRefType::get(shape, b.getF32Type()),
                                   ValueRange(), b.getI64IntegerAttr(64));
  }
  void fill(Value buffer, float value) {
    Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(value));
    linalg::FillOp::create(b, c, buffer);
  }
  /// Rows [r0, r0 + n) of batch `b0` of a [B, S, D] buffer as [n, D].
  Value rowsOf(Value buffer, Value b0, Value r0, Value n) {
    int64_t d = cast<MemRefType>(buffer.getType()).getDimSize(2);
    return rankReducedView(b, buffer, {b0, r0, b.getIndexAttr(0)},
                           {b.getIndexAttr(1), n, b.getIndexAttr(d)},
                           {ShapedType::kDynamic, d});
  }
  /// A [n] f32 row packed (zero padded) from a [1, n'] buffer.
  Value packRow(Value source2d, int64_t n);
  void emitItem(Value item);
  /// Pk rows [0, tiles * tk) of sequence b0.
  void projectKeys(Value b0, Value kvLimit, Value tiles);
  /// Scores of the KV tile at j0 for the query block at q0, masked.
  void scoreTile(Value b0, Value q0, Value qValid, Value j0, Value kvLimit);
  void emitQueryBlock(Value b0, Value qb, Value kvLimit, Value tiles);

  AdditiveAttentionOp op;
  ImplicitLocOpBuilder b;
  IndexMath im;
  int64_t tileRows, tileKv;
  int64_t hidden = 0, hPad = 0, dq = 0, dk = 0, dv = 0, dvPad = 0;
  int64_t tq = 0, rowsPad = 0, tk = 0, blocksPerChunk = 0;
  Value query, key, value, wq, wk, ws, bias, lengths, boolMask;
  Value output, weights;
  OpFoldResult batch, qLen, kvLen, qBlocks, chunks;
  // Per item.
  Value wqT, wkT, wRow, biasRow, pk, kTile, qTile, pq, sTile, vTile, acc;
  Value rowMax, rowSum, lse;
  SmallVector<Operation *> toErase;
};

LogicalResult AdditiveLowering::chooseTiles() {
  auto qs = op.getQuery().getType().getShape();
  auto ks = op.getKey().getType().getShape();
  auto vs = op.getValue().getType().getShape();
  hidden = op.getHiddenSize();
  dq = qs[2];
  dk = ks[2];
  dv = vs[2];
  for (auto [size, what] : {std::pair{hidden, "hidden size H"},
                            {dq, "query dim Dq"},
                            {dk, "key dim Dk"},
                            {dv, "value dim Dv"}})
    if (ShapedType::isDynamic(size))
      return op.emitOpError("attn-tile-flash: the ")
             << what
             << " must be static (only batch, Sq and Skv may be run-time "
                "sizes)";
  if (tileRows < 1 || tileKv < 16 || tileKv % 16 != 0)
    return op.emitOpError("attn-tile-flash: tile-rows must be positive and "
                          "tile-kv a positive multiple of 16");
  hPad = roundUp(hidden, 16);
  dvPad = roundUp(dv, 16);
  int64_t sq = qs[1];
  tq = ShapedType::isDynamic(sq) ? tileRows
                                 : std::max<int64_t>(1, std::min(tileRows, sq));
  // Whole (or quarter/half) vectors of query rows for the lane-per-row ops.
  rowsPad = tq <= 4 ? 4 : tq <= 8 ? 8 : roundUp(tq, 16);
  tk = tileKv;
  blocksPerChunk = std::max<int64_t>(1, kChunkRows / tq);
  return success();
}

Value AdditiveLowering::packRow(Value source2d, int64_t n) {
  Value row2d = scratchTile({1, n});
  TilePackOp::create(b, source2d, row2d, FloatAttr(), UnitAttr());
  return memref::CollapseShapeOp::create(
      b, row2d, ArrayRef<ReassociationIndices>{{0, 1}});
}

LogicalResult AdditiveLowering::run() {
  if (failed(chooseTiles()))
    return failure();
  b.setInsertionPoint(op);
  query = tensorAsBuffer(b, op.getQuery(), true);
  key = tensorAsBuffer(b, op.getKey(), true);
  value = tensorAsBuffer(b, op.getValue(), true);
  wq = tensorAsBuffer(b, op.getQueryWeight(), true);
  wk = tensorAsBuffer(b, op.getKeyWeight(), true);
  ws = tensorAsBuffer(b, op.getScoreWeight(), true);
  if (Value bt = op.getBias()) {
    // [H] -> [1, H], so the 2-D pack pads it like the score weight.
    auto ty = cast<RankedTensorType>(bt.getType());
    auto ty2 = RankedTensorType::get({1, hidden}, ty.getElementType());
    bias =
        tensorAsBuffer(b,
                       tensor::ExpandShapeOp::create(
                           b, ty2, bt, ArrayRef<ReassociationIndices>{{0, 1}}),
                       true);
  }
  lengths = tensorAsBuffer(b, op.getKvLengths(), false);
  boolMask = tensorAsBuffer(b, op.getBoolMask(), false);
  auto sizesLike = [&](Value result) {
    return [&, result] {
      SmallVector<Value> out;
      auto shape = cast<RankedTensorType>(result.getType()).getShape();
      // Output [B, Sq, Dv] and weights [B, Sq, Skv]: B and Sq are the
      // query's, Skv the key's.
      for (auto [i, d] : llvm::enumerate(shape))
        if (ShapedType::isDynamic(d))
          out.push_back(memref::DimOp::create(b, i == 2 ? key : query,
                                              i == 2 ? 1 : unsigned(i)));
      return out;
    };
  };
  output = resultBuffer(b, op, op.getOutput(), true, sizesLike(op.getOutput()),
                        toErase);
  if (Value w = op.getWeights())
    weights = resultBuffer(b, op, w, true, sizesLike(w), toErase);

  batch = dim(query, 0);
  qLen = dim(query, 1);
  kvLen = dim(key, 1);
  qBlocks = im.ceilDiv(qLen, b.getIndexAttr(tq));
  chunks = im.ceilDiv(qBlocks, b.getIndexAttr(blocksPerChunk));
  OpFoldResult items = im.mul(batch, chunks);
  auto forall = scf::ForallOp::create(b, ArrayRef<OpFoldResult>{items},
                                      ValueRange(), std::nullopt);
  markWorkItems(forall);
  if (IndexMath::known(items) != 0) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    auto scope = memref::AllocaScopeOp::create(b, TypeRange());
    b.createBlock(&scope.getBodyRegion());
    emitItem(forall.getInductionVar(0));
    memref::AllocaScopeReturnOp::create(b, ValueRange());
  }
  for (Operation *dead : toErase)
    dead->erase();
  if (op->use_empty())
    op->erase();
  return success();
}

void AdditiveLowering::emitItem(Value item) {
  Value b0 = im.div(item, chunks);
  Value chunk = im.rem(item, chunks);
  Value kvLimit = im.v(kvLen);
  if (lengths) {
    Value len = memref::LoadOp::create(b, lengths, ValueRange{b0});
    Value lenIdx = arith::IndexCastOp::create(b, b.getIndexType(), len);
    kvLimit = im.max(im.c(0), im.min(lenIdx, kvLimit));
  }
  // The item's weights, transposed and zero padded to whole vectors of h;
  // on the heap (up to 4 MiB each: too much for a thread's stack).
  wqT = heapTile({dq, hPad});
  TilePackOp::create(b, wq, wqT, FloatAttr(), b.getUnitAttr());
  wkT = heapTile({dk, hPad});
  TilePackOp::create(b, wk, wkT, FloatAttr(), b.getUnitAttr());
  wRow = packRow(ws, hPad);
  biasRow = bias ? packRow(bias, hPad) : Value();
  kTile = scratchTile({tk, dk});
  qTile = scratchTile({rowsPad, dq});
  pq = scratchTile({rowsPad, hPad});
  sTile = scratchTile({tk, rowsPad});
  vTile = scratchTile({tk, dvPad});
  acc = scratchTile({rowsPad, dvPad});
  rowMax = scratchTile({rowsPad});
  rowSum = scratchTile({rowsPad});
  lse = scratchTile({rowsPad});

  Value tiles = im.ceilDiv(kvLimit, tk);
  pk = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic, hPad}, b.getF32Type()),
      ValueRange{im.mul(tiles, tk)}, b.getI64IntegerAttr(64));
  projectKeys(b0, kvLimit, tiles);
  Value qbBegin = im.mul(chunk, blocksPerChunk);
  Value qbEnd = im.min(im.add(qbBegin, blocksPerChunk), im.v(qBlocks));
  auto qLoop = scf::ForOp::create(b, qbBegin, qbEnd, im.c(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(qLoop.getBody());
    emitQueryBlock(b0, qLoop.getInductionVar(), kvLimit, tiles);
  }
  for (Value heap : {pk, wqT, wkT})
    memref::DeallocOp::create(b, heap);
}

void AdditiveLowering::projectKeys(Value b0, Value kvLimit, Value tiles) {
  auto loop = scf::ForOp::create(b, im.c(0), tiles, im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value j0 = im.mul(loop.getInductionVar(), tk);
  Value valid = im.min(im.c(tk), im.sub(kvLimit, j0));
  TilePackOp::create(b, rowsOf(key, b0, j0, valid), kTile, FloatAttr(),
                     UnitAttr());
  Value pkRows =
      rankReducedView(b, pk, {j0, b.getIndexAttr(0)},
                      {b.getIndexAttr(tk), b.getIndexAttr(hPad)}, {tk, hPad});
  TileMatmulOp::create(b, kTile, wkT, pkRows, UnitAttr(), UnitAttr(),
                       UnitAttr());
}

void AdditiveLowering::scoreTile(Value b0, Value q0, Value qValid, Value j0,
                                 Value kvLimit) {
  Value pkRows =
      rankReducedView(b, pk, {j0, b.getIndexAttr(0)},
                      {b.getIndexAttr(tk), b.getIndexAttr(hPad)}, {tk, hPad});
  TileAdditiveScoresOp::create(b, pkRows, pq, wRow, biasRow, qValid, sTile);
  // Keys past the sequence's length: only the last tile has any.
  Value partial = im.lt(kvLimit, im.add(j0, tk));
  auto ifPartial = scf::IfOp::create(b, partial, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifPartial.thenBlock());
    TileMaskOp::create(b, sTile, q0, j0, kvLimit, MaskAttr(),
                       b.getI64IntegerAttr(rowsPad));
  }
  if (!boolMask)
    return;
  // Per-score reads of the (broadcast) mask; indices clamped into range
  // (padding rows and keys past the length are never used).
  auto shape = cast<MemRefType>(boolMask.getType()).getShape();
  Value negInf = arith::ConstantOp::create(
      b, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  auto rows = scf::ForOp::create(b, im.c(0), qValid, im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(rows.getBody());
  Value m = rows.getInductionVar();
  Value lastKey = im.max(im.c(0), im.sub(kvLimit, 1));
  auto cols = scf::ForOp::create(b, im.c(0), im.c(tk), im.c(1));
  b.setInsertionPointToStart(cols.getBody());
  Value n = cols.getInductionVar();
  Value idx[3] = {b0, im.add(q0, m), im.min(im.add(j0, n), lastKey)};
  SmallVector<Value> at;
  for (auto [size, i] : llvm::zip(shape, idx))
    at.push_back(size == 1 ? im.c(0) : i);
  Value keep = memref::LoadOp::create(b, boolMask, at);
  Value s = memref::LoadOp::create(b, sTile, ValueRange{n, m});
  memref::StoreOp::create(b, arith::SelectOp::create(b, keep, s, negInf), sTile,
                          ValueRange{n, m});
}

void AdditiveLowering::emitQueryBlock(Value b0, Value qb, Value kvLimit,
                                      Value tiles) {
  Value q0 = im.mul(qb, tq);
  Value qValid = im.min(im.c(tq), im.sub(im.v(qLen), q0));
  TilePackOp::create(b, rowsOf(query, b0, q0, qValid), qTile, FloatAttr(),
                     UnitAttr());
  TileMatmulOp::create(b, qTile, wqT, pq, UnitAttr(), UnitAttr(), UnitAttr());
  fill(acc, 0.0f);
  fill(rowSum, 0.0f);
  fill(rowMax, -std::numeric_limits<float>::infinity());
  auto kvLoop = scf::ForOp::create(b, im.c(0), tiles, im.c(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(kvLoop.getBody());
    Value j0 = im.mul(kvLoop.getInductionVar(), tk);
    scoreTile(b0, q0, qValid, j0, kvLimit);
    TileOnlineSoftmaxOp::create(b, sTile, acc, rowMax, rowSum);
    Value valid = im.min(im.c(tk), im.sub(kvLimit, j0));
    TilePackOp::create(b, rowsOf(value, b0, j0, valid), vTile, FloatAttr(),
                       UnitAttr());
    TileMatmulOp::create(b, sTile, vTile, acc, b.getUnitAttr(), b.getUnitAttr(),
                         UnitAttr());
  }
  TileFinalizeOp::create(b, acc, rowMax, rowSum, rowsOf(output, b0, q0, qValid),
                         weights ? lse : Value());
  if (!weights)
    return;
  // The weights: the same scores again, normalized by the final lse.
  auto wLoop = scf::ForOp::create(b, im.c(0), tiles, im.c(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(wLoop.getBody());
    Value j0 = im.mul(wLoop.getInductionVar(), tk);
    scoreTile(b0, q0, qValid, j0, kvLimit);
    Value valid = im.min(im.c(tk), im.sub(kvLimit, j0));
    Value dest = rankReducedView(b, weights, {b0, q0, j0},
                                 {b.getIndexAttr(1), qValid, valid},
                                 {ShapedType::kDynamic, ShapedType::kDynamic});
    TileStoreProbsOp::create(b, sTile, lse, dest);
  }
  // Keys past the sequence's length have weight 0.
  Value rest =
      rankReducedView(b, weights, {b0, q0, kvLimit},
                      {b.getIndexAttr(1), qValid, im.sub(im.v(kvLen), kvLimit)},
                      {ShapedType::kDynamic, ShapedType::kDynamic});
  Value zero = arith::ConstantOp::create(
      b, b.getFloatAttr(cast<MemRefType>(weights.getType()).getElementType(),
                        0.0));
  linalg::FillOp::create(b, zero, rest);
}

} // namespace

LogicalResult mlir::attn::lowerAdditiveAttention(AdditiveAttentionOp op,
                                                 int64_t tileRows,
                                                 int64_t tileKv) {
  return AdditiveLowering(op, tileRows, tileKv).run();
}
