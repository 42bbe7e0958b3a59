//===- TileFlash.cpp - attn.attention -> flash-form tile loops ------------===//
//
// One work item = (batch, K/V head, query block). It holds the queries of
// all Hq/Hkv heads of the group as one row block, so every K/V tile is packed
// once and used by the whole group. Per KV tile: pack Kᵀ and V to f32,
// S = Q·Kᵀ, score modifications, soft-cap, masks, an online-softmax step and
// acc += P·V. The score matrix never exists beyond one [rows, tile-kv] tile.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/IndexMath.h"
#include "passes/Passes.h"

#include "mlir/IR/IRMapping.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTILEFLASH
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kPad = 16; // tile widths are padded to whole vectors

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/// Static geometry of one lowered attention.
struct Geometry {
  int64_t batch, heads, kvHeads, group, qLen, kvLen, headDim, valueDim;
  int64_t tq;      ///< queries per head in a work item
  int64_t rows;    ///< group * tq: query rows of a work item
  int64_t rowsPad; ///< rows padded to whole vectors (softmax runs per lane)
  int64_t tk;      ///< keys per KV tile
  int64_t dvPad;   ///< valueDim padded to whole vectors
  int64_t qBlocks; ///< query blocks per (batch, K/V head)
  int64_t workItems() const { return batch * kvHeads * qBlocks; }
};

MemRefType stridedType(MLIRContext *ctx, ArrayRef<int64_t> shape, Type elt,
                       bool unitInner) {
  SmallVector<int64_t> strides(shape.size(), ShapedType::kDynamic);
  if (unitInner)
    strides.back() = 1;
  return MemRefType::get(
      shape, elt, StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

/// A rank-reduced 2-D (or 1-D) view of `source` at `offsets` with `sizes`;
/// size-1 leading dims are dropped.
Value view(ImplicitLocOpBuilder &b, Value source, ArrayRef<OpFoldResult> offsets,
           ArrayRef<OpFoldResult> sizes, ArrayRef<int64_t> resultShape) {
  auto srcTy = cast<MemRefType>(source.getType());
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  auto resultTy = memref::SubViewOp::inferRankReducedResultType(
      resultShape, srcTy, offsets, sizes, strides);
  return memref::SubViewOp::create(b, cast<MemRefType>(resultTy), source,
                                   offsets, sizes, strides);
}

class AttentionLowering {
public:
  AttentionLowering(AttentionOp op, int64_t tileRows, int64_t tileKv)
      : op(op), b(op.getLoc(), op), im{b}, tileRows(tileRows),
        tileKv(tileKv) {}

  LogicalResult run();

private:
  LogicalResult computeGeometry();
  /// The memref to read `tensor` from, as a logical [B, H, S, D] view.
  Value inputBuffer(Value tensor, bool unitInner);
  /// Where to write result `result`: the destination of its only
  /// materialize_in_destination user, else a new allocation.
  Value outputBuffer(Value result, ArrayRef<int64_t> physicalShape,
                     bool unitInner);
  Value logical(Value buffer);
  void emitWorkItem(Value item);
  void emitKvTile(Value t, Value b0, Value hkv, Value q0, Value kvLimit);
  void emitScoreMods(Value b0, Value hkv, Value q0, Value j0);
  void emitCustomMasks(Value b0, Value hkv, Value q0, Value j0);

  AttentionOp op;
  ImplicitLocOpBuilder b;
  IndexMath im;
  int64_t tileRows, tileKv;
  Geometry g{};

  // Logical [B, H, S, D] views of the operands and results.
  Value q, k, v, out, lse, kvLengths;
  Value boolMask, bias, qSeg, kvSeg;
  // Scratch tiles of the current work item.
  // qtTile holds Qᵀ [D, rowsPad]; sTile the key-major scores [tk, rowsPad].
  Value qtTile, kTile, vTile, sTile, accTile, rowMax, rowSum;
  SmallVector<Operation *> toErase;
};

LogicalResult AttentionLowering::computeGeometry() {
  auto qs = op.getLogicalShape(op.getQuery());
  auto ks = op.getLogicalShape(op.getKey());
  auto vs = op.getLogicalShape(op.getValue());
  for (int64_t d : llvm::concat<int64_t>(qs, ks, vs))
    if (ShapedType::isDynamic(d))
      return op.emitOpError("attn-tile-flash needs static shapes (compile "
                            "one kernel per shape; the runtime caches them)");
  if (tileKv <= 0 || tileKv % kPad != 0)
    return op.emitOpError() << "tile-kv must be a positive multiple of "
                            << kPad << ", got " << tileKv;
  if (tileRows <= 0)
    return op.emitOpError() << "tile-rows must be positive, got " << tileRows;
  g.batch = qs[0];
  g.heads = qs[1];
  g.qLen = qs[2];
  g.headDim = qs[3];
  g.kvHeads = ks[1];
  g.kvLen = ks[2];
  g.valueDim = vs[3];
  g.group = g.heads / g.kvHeads;
  g.tq = std::clamp<int64_t>(tileRows / g.group, 1, g.qLen);
  g.rows = g.group * g.tq;
  g.rowsPad = roundUp(g.rows, kPad);
  g.tk = std::min(tileKv, roundUp(g.kvLen, kPad));
  g.dvPad = roundUp(g.valueDim, kPad);
  g.qBlocks = (g.qLen + g.tq - 1) / g.tq;
  return success();
}

Value AttentionLowering::logical(Value buffer) {
  if (op.getLayoutOrDefault() != Layout::BSHD)
    return buffer;
  auto perm = AffineMap::getPermutationMap(ArrayRef<unsigned>{0, 2, 1, 3},
                                           b.getContext());
  return memref::TransposeOp::create(b, buffer, AffineMapAttr::get(perm));
}

Value AttentionLowering::inputBuffer(Value tensor, bool unitInner) {
  if (!tensor)
    return {};
  auto ty = cast<RankedTensorType>(tensor.getType());
  auto memTy = stridedType(b.getContext(), ty.getShape(), ty.getElementType(),
                           unitInner);
  return bufferization::ToBufferOp::create(b, memTy, tensor, /*read_only=*/true);
}

Value AttentionLowering::outputBuffer(Value result,
                                      ArrayRef<int64_t> physicalShape,
                                      bool unitInner) {
  auto ty = cast<RankedTensorType>(result.getType());
  if (result.hasOneUse()) {
    auto mat = dyn_cast<bufferization::MaterializeInDestinationOp>(
        *result.getUsers().begin());
    if (mat && isa<BaseMemRefType>(mat.getDest().getType())) {
      toErase.push_back(mat);
      Value dest = mat.getDest();
      auto want = stridedType(b.getContext(), physicalShape,
                              ty.getElementType(), unitInner);
      if (dest.getType() != want)
        dest = memref::CastOp::create(b, want, dest);
      return dest;
    }
  }
  auto alloc = memref::AllocOp::create(
      b, MemRefType::get(physicalShape, ty.getElementType()));
  // Written in place below; the tensor view is what the rest sees.
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfter(op);
  auto t = bufferization::ToTensorOp::create(b, ty, alloc, /*restrict=*/true,
                                             /*writable=*/true);
  result.replaceAllUsesWith(t.getResult());
  return alloc;
}

LogicalResult AttentionLowering::run() {
  if (failed(computeGeometry()))
    return failure();
  b.setInsertionPoint(op);
  q = logical(inputBuffer(op.getQuery(), true));
  k = logical(inputBuffer(op.getKey(), true));
  v = logical(inputBuffer(op.getValue(), true));
  kvLengths = inputBuffer(op.getKvLengths(), false);
  boolMask = inputBuffer(op.getBoolMask(), false);
  bias = inputBuffer(op.getBias(), false);
  qSeg = inputBuffer(op.getQSegmentIds(), false);
  kvSeg = inputBuffer(op.getKvSegmentIds(), false);

  auto outPhysical = cast<RankedTensorType>(op.getOutput().getType());
  out = logical(outputBuffer(op.getOutput(), outPhysical.getShape(), true));
  if (Value l = op.getLse())
    lse = outputBuffer(l, cast<RankedTensorType>(l.getType()).getShape(),
                       false);

  auto forall = scf::ForallOp::create(
      b, ArrayRef<OpFoldResult>{b.getIndexAttr(g.workItems())}, ValueRange(),
      std::nullopt);
  forall->setAttr("attn.work_items", b.getI64IntegerAttr(g.workItems()));
  b.setInsertionPointToStart(forall.getBody());
  // Scratch lives on the stack of whoever runs the item; the scope releases
  // it per item so a sequential loop over items does not grow the stack.
  auto scope = memref::AllocaScopeOp::create(b, TypeRange());
  Block *scopeBody = b.createBlock(&scope.getBodyRegion());
  b.setInsertionPointToStart(scopeBody);
  emitWorkItem(forall.getInductionVar(0));
  memref::AllocaScopeReturnOp::create(b, ValueRange());

  for (Operation *dead : toErase)
    dead->erase();
  if (op->use_empty())
    op->erase();
  return success();
}

void AttentionLowering::emitWorkItem(Value item) {
  Type f32 = b.getF32Type();
  auto tile = [&](ArrayRef<int64_t> shape) -> Value {
    return memref::AllocaOp::create(b, MemRefType::get(shape, f32));
  };
  qtTile = tile({g.headDim, g.rowsPad});
  kTile = tile({g.tk, g.headDim});
  vTile = tile({g.tk, g.dvPad});
  sTile = tile({g.tk, g.rowsPad});
  accTile = tile({g.rowsPad, g.dvPad});
  rowMax = tile({g.rowsPad});
  rowSum = tile({g.rowsPad});

  Value qb = im.rem(item, g.qBlocks);
  Value rest = im.div(item, g.qBlocks);
  Value hkv = im.rem(rest, g.kvHeads);
  Value b0 = im.div(rest, g.kvHeads);
  Value q0 = im.mul(qb, g.tq);
  Value qValid = im.min(im.c(g.tq), im.sub(im.c(g.qLen), q0));

  auto fill = [&](Value buffer, float value) {
    Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(value));
    linalg::FillOp::create(b, c, buffer);
  };
  // Pack the group's queries as Qᵀ, scaled, one head after another; padding
  // columns stay zero.
  if (g.rowsPad != g.rows)
    fill(qtTile, 0.0f);
  float scale = op.getScaleOrDefault();
  auto headLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(headLoop.getBody());
    Value gi = headLoop.getInductionVar();
    Value h = im.add(im.mul(hkv, g.group), gi);
    Value src = view(b, q, {b0, h, q0, b.getIndexAttr(0)},
                     {b.getIndexAttr(1), b.getIndexAttr(1), qValid,
                      b.getIndexAttr(g.headDim)},
                     {ShapedType::kDynamic, g.headDim});
    Value dst = view(b, qtTile, {b.getIndexAttr(0), im.mul(gi, g.tq)},
                     {b.getIndexAttr(g.headDim), b.getIndexAttr(g.tq)},
                     {g.headDim, g.tq});
    TilePackOp::create(b, src, dst, b.getF32FloatAttr(scale),
                       /*transpose=*/true);
  }

  fill(accTile, 0.0f);
  fill(rowSum, 0.0f);
  fill(rowMax, -std::numeric_limits<float>::infinity());

  Value kvLimit = im.c(g.kvLen);
  if (kvLengths) {
    Value len = memref::LoadOp::create(b, kvLengths, ValueRange{b0});
    Value lenIdx = arith::IndexCastOp::create(b, b.getIndexType(), len);
    kvLimit = im.max(im.c(0), im.min(lenIdx, kvLimit));
  }

  auto kvLoop = scf::ForOp::create(b, im.c(0), im.ceilDiv(kvLimit, g.tk),
                                   im.c(1));
  kvLoop->setAttr("attn.kv_tile_loop", b.getI64IntegerAttr(g.tk));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(kvLoop.getBody());
    emitKvTile(kvLoop.getInductionVar(), b0, hkv, q0, kvLimit);
  }

  // Normalize and store each head's rows.
  auto storeLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(storeLoop.getBody());
  Value gi = storeLoop.getInductionVar();
  Value h = im.add(im.mul(hkv, g.group), gi);
  Value r0 = im.mul(gi, g.tq);
  Value accRows = view(b, accTile, {r0, b.getIndexAttr(0)},
                       {b.getIndexAttr(g.tq), b.getIndexAttr(g.dvPad)},
                       {g.tq, g.dvPad});
  Value maxRows = view(b, rowMax, {r0}, {b.getIndexAttr(g.tq)}, {g.tq});
  Value sumRows = view(b, rowSum, {r0}, {b.getIndexAttr(g.tq)}, {g.tq});
  Value dst = view(b, out, {b0, h, q0, b.getIndexAttr(0)},
                   {b.getIndexAttr(1), b.getIndexAttr(1), qValid,
                    b.getIndexAttr(g.valueDim)},
                   {ShapedType::kDynamic, g.valueDim});
  Value lseDst;
  if (lse)
    lseDst = view(b, lse, {b0, h, q0},
                  {b.getIndexAttr(1), b.getIndexAttr(1), qValid},
                  {ShapedType::kDynamic});
  TileFinalizeOp::create(b, accRows, maxRows, sumRows, dst, lseDst);
}

void AttentionLowering::emitKvTile(Value t, Value b0, Value hkv, Value q0,
                                   Value kvLimit) {
  Value j0 = im.mul(t, g.tk);
  Value kvValid = im.min(im.c(g.tk), im.sub(kvLimit, j0));
  Value kSrc = view(b, k, {b0, hkv, j0, b.getIndexAttr(0)},
                    {b.getIndexAttr(1), b.getIndexAttr(1), kvValid,
                     b.getIndexAttr(g.headDim)},
                    {ShapedType::kDynamic, g.headDim});
  TilePackOp::create(b, kSrc, kTile, FloatAttr(), /*transpose=*/false);
  Value vSrc = view(b, v, {b0, hkv, j0, b.getIndexAttr(0)},
                    {b.getIndexAttr(1), b.getIndexAttr(1), kvValid,
                     b.getIndexAttr(g.valueDim)},
                    {ShapedType::kDynamic, g.valueDim});
  TilePackOp::create(b, vSrc, vTile, FloatAttr(), /*transpose=*/false);

  TileMatmulOp::create(b, kTile, qtTile, sTile, /*accumulate=*/false,
                       /*transpose_lhs=*/false);
  emitScoreMods(b0, hkv, q0, j0);
  if (auto cap = op.getSoftcapAttr())
    TileSoftcapOp::create(b, sTile, cap);
  TileMaskOp::create(b, sTile, q0, j0, kvLimit, op.getMaskAttr(),
                     b.getI64IntegerAttr(g.tq));
  emitCustomMasks(b0, hkv, q0, j0);
  TileOnlineSoftmaxOp::create(b, sTile, accTile, rowMax, rowSum);
  TileMatmulOp::create(b, sTile, vTile, accTile, /*accumulate=*/true,
                       /*transpose_lhs=*/true);
}

/// Loops over every score of the tile with (row, col) -> (b, h, qi, kj)
/// and calls `body(m, n, h, qi, kj)`; qi/kj are clamped into range so
/// operand reads stay in bounds (padded entries are masked anyway).
template <typename Fn>
static void forEachScore(ImplicitLocOpBuilder &b, IndexMath &im,
                         const Geometry &g, Value hkv, Value q0, Value j0,
                         Fn body) {
  auto rows = scf::ForOp::create(b, im.c(0), im.c(g.rows), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(rows.getBody());
  Value m = rows.getInductionVar();
  Value h = im.add(im.mul(hkv, g.group), im.div(m, g.tq));
  Value qi = im.min(im.add(q0, im.rem(m, g.tq)), im.c(g.qLen - 1));
  auto cols = scf::ForOp::create(b, im.c(0), im.c(g.tk), im.c(1));
  b.setInsertionPointToStart(cols.getBody());
  Value n = cols.getInductionVar();
  Value kj = im.min(im.add(j0, n), im.c(g.kvLen - 1));
  body(m, n, h, qi, kj);
}

/// Index of a broadcastable [B, Hq, Sq, Skv] operand: size-1 dims read 0.
static SmallVector<Value> broadcastIndex(IndexMath &im, Value operand,
                                         ArrayRef<Value> idx) {
  auto shape = cast<ShapedType>(operand.getType()).getShape();
  SmallVector<Value> out;
  for (auto [size, i] : llvm::zip(shape, idx))
    out.push_back(size == 1 ? im.c(0) : i);
  return out;
}

/// Clones a modifier region's block at the builder, returning the yielded
/// value with the block arguments bound to `args`.
static Value inlineRegion(ImplicitLocOpBuilder &b, Region &region,
                          ValueRange args) {
  IRMapping map;
  Block &block = region.front();
  map.map(block.getArguments(), args);
  for (Operation &inner : block.without_terminator())
    b.clone(inner, map);
  return map.lookup(cast<YieldOp>(block.getTerminator()).getValue());
}

void AttentionLowering::emitScoreMods(Value b0, Value hkv, Value q0,
                                      Value j0) {
  bool hasScoreMod = !op.getScoreMod().empty();
  if (!bias && !hasScoreMod)
    return;
  forEachScore(b, im, g, hkv, q0, j0,
               [&](Value m, Value n, Value h, Value qi, Value kj) {
                 Value s = memref::LoadOp::create(b, sTile, ValueRange{n, m});
                 if (bias) {
                   Value x = memref::LoadOp::create(
                       b, bias, broadcastIndex(im, bias, {b0, h, qi, kj}));
                   if (x.getType() != b.getF32Type())
                     x = arith::ExtFOp::create(b, b.getF32Type(), x);
                   s = arith::AddFOp::create(b, s, x);
                 }
                 if (hasScoreMod)
                   s = inlineRegion(b, op.getScoreMod(), {s, b0, h, qi, kj});
                 memref::StoreOp::create(b, s, sTile, ValueRange{n, m});
               });
}

void AttentionLowering::emitCustomMasks(Value b0, Value hkv, Value q0,
                                        Value j0) {
  bool hasMaskMod = !op.getMaskMod().empty();
  if (!boolMask && !qSeg && !hasMaskMod)
    return;
  Value negInf = arith::ConstantOp::create(
      b, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  forEachScore(b, im, g, hkv, q0, j0,
               [&](Value m, Value n, Value h, Value qi, Value kj) {
                 Value keep = arith::ConstantOp::create(b, b.getBoolAttr(true));
                 auto both = [&](Value c) {
                   keep = arith::AndIOp::create(b, keep, c);
                 };
                 if (boolMask)
                   both(memref::LoadOp::create(
                       b, boolMask,
                       broadcastIndex(im, boolMask, {b0, h, qi, kj})));
                 if (qSeg) {
                   Value a = memref::LoadOp::create(b, qSeg, ValueRange{b0, qi});
                   Value c =
                       memref::LoadOp::create(b, kvSeg, ValueRange{b0, kj});
                   both(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, a,
                                              c));
                 }
                 if (hasMaskMod)
                   both(inlineRegion(b, op.getMaskMod(), {b0, h, qi, kj}));
                 Value s = memref::LoadOp::create(b, sTile, ValueRange{n, m});
                 Value r = arith::SelectOp::create(b, keep, s, negInf);
                 memref::StoreOp::create(b, r, sTile, ValueRange{n, m});
               });
}

struct TileFlashPass : attn::impl::AttnTileFlashBase<TileFlashPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) { ops.push_back(op); });
    for (AttentionOp op : ops)
      if (failed(AttentionLowering(op, tileRows, tileKv).run()))
        return signalPassFailure();
  }
};

} // namespace
