//===- FlashEmitter.cpp - the flash form shared by attention lowerings ----===//
//
// One work item = (batch, K/V head, query block, KV split). It holds the
// queries of all Hq/Hkv heads of the group as one row block, so every K/V
// tile is packed once and used by the whole group. Per KV tile: pack K and V
// to f32, Sᵀ = K·Qᵀ (key-major, one query per vector lane), score hooks,
// soft-cap, masks, an online-softmax step and acc += P·V. With several KV
// splits each item normalizes into a scratch partial and the last item of a
// query block to finish (an atomic counter) merges the partials, so the
// kernel stays one parallel loop. Decode items read full K/V tiles of a
// paged cache in place and prefetch the next tile's rows (block table looked
// up one tile ahead) while they compute on the current one.
//
//===----------------------------------------------------------------------===//
#include "dialect/Limits.h"
#include "passes/FlashEmitterDetail.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::flash_detail {

void Emitter::emit() {
  Value items = im.v(s.items);
  Value scratch;
  if (ShapedType::isDynamic(g.splits) || g.splits > 1)
    scratch = allocSplitScratch(items);
  auto forall = scf::ForallOp::create(b, ArrayRef<OpFoldResult>{s.items},
                                      ValueRange(), std::nullopt);
  std::optional<int64_t> count = IndexMath::known(s.items);
  markWorkItems(forall);
  // An empty output: no items, and no body (whose views of zero-sized
  // buffers would not verify).
  if (count == 0)
    return;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  // Scratch lives on the stack of whoever runs the item; the scope releases
  // it per item so a sequential loop over items does not grow the stack.
  auto scope = memref::AllocaScopeOp::create(b, TypeRange());
  b.createBlock(&scope.getBodyRegion());
  emitItem(forall.getInductionVar(0));
  memref::AllocaScopeReturnOp::create(b, ValueRange());
  if (scratch) {
    b.setInsertionPointAfter(forall);
    auto dealloc = memref::DeallocOp::create(b, scratch);
    AttnDialect::SplitScratchUseAttrHelper(b.getContext())
        .setAttr(dealloc, b.getUnitAttr());
  }
}

Value Emitter::allocSplitScratch(Value items) {
  // Item-major, so the bytes scale with the item count and nothing depends
  // on the sizes beyond it: [items] arrival counters (one cache line each,
  // indexed by query block < items), [items, rowsPad] partial lse,
  // [items, rowsPad, dvPad] partial outputs. With a run-time split count
  // a single split needs none of it: 0 bytes then.
  Type f32 = b.getF32Type();
  SplitScratchLayout layout = splitScratchLayout(g);
  Value bytes = im.mul(items, layout.perItem());
  if (ShapedType::isDynamic(g.splits)) {
    Value split = im.lt(im.c(1), im.v(s.splits));
    bytes = arith::SelectOp::create(b, split, bytes, im.c(0));
  }
  auto scratch = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
      ValueRange{bytes}, b.getI64IntegerAttr(64));
  AttnDialect::SplitScratchAttrHelper(b.getContext())
      .setAttr(scratch, b.getI64IntegerAttr(layout.perItem()));
  auto view = [&](Value offset, ArrayRef<int64_t> inner, Type elt) -> Value {
    SmallVector<int64_t> shape = {ShapedType::kDynamic};
    shape.append(inner.begin(), inner.end());
    return memref::ViewOp::create(b, MemRefType::get(shape, elt), scratch,
                                  offset, ValueRange{items});
  };
  counters = view(im.c(0), {layout.counterBytes / 4}, b.getI32Type());
  Value lseAt = im.mul(items, layout.counterBytes);
  partLse = view(lseAt, {layout.lseBytes / 4}, f32);
  partOut = view(im.add(lseAt, im.mul(items, layout.lseBytes)),
                 {g.rowsPad, g.dvPad}, f32);
  // Counters start at zero; a kernel handed to the runtime gets zeroed
  // scratch from it instead (attn-parallel-to-runtime drops this fill).
  auto fill = linalg::FillOp::create(
      b, arith::ConstantOp::create(b, b.getI32IntegerAttr(0)).getResult(),
      counters);
  AttnDialect::SplitScratchUseAttrHelper(b.getContext())
      .setAttr(fill, b.getUnitAttr());
  return scratch;
}

void Emitter::emitItem(Value item) {
  ItemPlace at;
  at.item = item;
  at.split = im.rem(item, s.splits);
  at.block = im.div(item, s.splits); // (b, hkv, qb) linearized
  Value qb = im.rem(at.block, s.qBlocks);
  Value rest = im.div(at.block, s.qBlocks);
  at.hkv = im.rem(rest, g.kvHeads);
  at.b0 = im.div(rest, g.kvHeads);
  at.q0 = im.mul(qb, g.tq);
  at.qValid = im.min(im.c(g.tq), im.sub(im.v(s.qLen), at.q0));
  at.qRow = at.q0;
  if (p.queriesAtEnd)
    at.qCount = im.v(s.qLen);
  emitItemAt(at);
}

Value Emitter::rowsOf(Value buffer, const ItemPlace &at, Value h, int64_t dim) {
  SmallVector<OpFoldResult> offsets, sizes;
  if (p.packedQueries) {
    offsets = {at.qRow, h};
    sizes = {at.qValid, idx(1)};
  } else {
    offsets = {at.b0, h, at.qRow};
    sizes = {idx(1), idx(1), at.qValid};
  }
  SmallVector<int64_t, 2> shape = {ShapedType::kDynamic};
  if (dim > 0) {
    offsets.push_back(idx(0));
    sizes.push_back(idx(dim));
    shape.push_back(dim);
  }
  return rankReducedView(b, buffer, offsets, sizes, shape);
}

void Emitter::emitItemAt(ItemPlace &at) {
  Type f32 = b.getF32Type();
  auto tile = [&](ArrayRef<int64_t> shape) -> Value {
    return memref::AllocaOp::create(b, MemRefType::get(shape, f32));
  };
  // A few query rows (decode) take dot products along D against row-major
  // Q; more rows broadcast keys against Qᵀ (outer products).
  bool dotQk = g.dotProductScores();
  qtTile = dotQk ? tile({g.rowsPad, g.headDim}) : tile({g.headDim, g.rowsPad});
  kTile = tile({g.tk, g.headDim});
  vTile = tile({g.tk, g.dvPad});
  sTile = tile({g.tk, g.rowsPad});
  accTile = tile({g.rowsPad, g.dvPad});
  rowMax = tile({g.rowsPad});
  rowSum = tile({g.rowsPad});

  Value kvLimit = im.v(s.kvCapacity);
  if (p.kvLengths) {
    Value len = memref::LoadOp::create(b, p.kvLengths, ValueRange{at.b0});
    Value lenIdx = arith::IndexCastOp::create(b, b.getIndexType(), len);
    kvLimit = im.max(im.c(0), im.min(lenIdx, kvLimit));
  }
  // Absolute position of query q0 (before the mask's own q_offset).
  Value qPos = at.q0;
  if (p.queriesAtEnd)
    qPos = im.add(at.q0, im.sub(kvLimit, at.qCount));

  if (p.dropoutState && p.dropoutP > 0) {
    dropoutSeed =
        memref::LoadOp::create(b, p.dropoutState, ValueRange{im.c(0)});
    dropoutOffset =
        memref::LoadOp::create(b, p.dropoutState, ValueRange{im.c(1)});
  }
  loadQueries(at, qPos);
  fill(accTile, 0.0f);
  fill(rowSum, 0.0f);
  fill(rowMax, -std::numeric_limits<float>::infinity());
  if (p.sinks)
    startRowsAtSinks(at.hkv, at.split);

  Value tiles = im.ceilDiv(kvLimit, g.tk);
  if (p.kvNumBlocks) {
    BlockLoopPlace place{at.b0, at.hkv, at.q0, tiles};
    emitBlockSparseLoops(
        b, g, s, p, place, [&](Value n) { return splitRange(at, n); },
        [&](Value first, Value last, std::optional<HeadBlockMask> heads) {
          headMask = heads;
          emitTileLoop(at, qPos, kvLimit, {first, last});
        });
  } else {
    emitTileLoop(at, qPos, kvLimit, splitRange(at, tiles));
  }
  finishItem(at);
}

std::pair<Value, Value> Emitter::splitRange(const ItemPlace &at, Value n) {
  if (!ShapedType::isDynamic(g.splits) && g.splits == 1)
    return {im.c(0), n};
  Value per = im.ceilDiv(n, s.splits);
  Value begin = im.min(arith::MulIOp::create(b, at.split, per), n);
  return {begin, im.min(im.add(begin, per), n)};
}

void Emitter::emitTileLoop(const ItemPlace &at, Value qPos, Value kvLimit,
                           std::pair<Value, Value> range) {
  auto kvLoop = scf::ForOp::create(b, range.first, range.second, im.c(1));
  AttnDialect::KvTileLoopAttrHelper(b.getContext())
      .setAttr(kvLoop, b.getI64IntegerAttr(g.tk));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(kvLoop.getBody());
  emitKvTile(kvLoop.getInductionVar(), at.b0, at.hkv, at.q0, qPos, kvLimit);
}

void Emitter::loadQueries(const ItemPlace &at, Value qPos) {
  // Qᵀ, scaled, one head after another; padding columns stay zero.
  bool dotQk = g.dotProductScores();
  if (g.rowsPad != g.rows)
    fill(qtTile, 0.0f);
  // Rotated queries go through an f32 row block (rotation commutes with
  // the scale the pack applies).
  Value rotated, lastPos;
  if (p.rotary) {
    rotated = memref::AllocaOp::create(
        b, MemRefType::get({g.tq, g.headDim}, b.getF32Type()));
    lastPos = im.sub(rotaryPositions(b, p.rotary), im.c(1));
  }
  auto headLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(headLoop.getBody());
  Value gi = headLoop.getInductionVar();
  Value h = im.add(im.mul(at.hkv, g.group), gi);
  Value src = rowsOf(p.query, at, h, g.headDim);
  if (p.rotary) {
    auto rows = scf::ForOp::create(b, im.c(0), at.qValid, im.c(1));
    {
      OpBuilder::InsertionGuard rowGuard(b);
      b.setInsertionPointToStart(rows.getBody());
      Value qi = rows.getInductionVar();
      // The runtime checks positions; the clamp keeps table reads inside.
      Value pos = im.max(im.c(0), im.min(im.add(qPos, qi), lastPos));
      emitRowCopy(b, src, qi, rotated, qi, g.headDim, p.rotary, pos);
    }
    src = rankReducedView(b, rotated, {idx(0), idx(0)},
                          {at.qValid, idx(g.headDim)},
                          {ShapedType::kDynamic, g.headDim});
  }
  Value dst =
      dotQk ? rankReducedView(b, qtTile, {im.mul(gi, g.tq), idx(0)},
                              {idx(g.tq), idx(g.headDim)}, {g.tq, g.headDim})
            : rankReducedView(b, qtTile, {idx(0), im.mul(gi, g.tq)},
                              {idx(g.headDim), idx(g.tq)}, {g.headDim, g.tq});
  TilePackOp::create(b, src, dst, b.getF32FloatAttr(p.scale),
                     /*transpose=*/!dotQk);
}

void Emitter::finishItem(const ItemPlace &at) {
  if (!ShapedType::isDynamic(g.splits)) {
    storeRows(at, /*toPartials=*/g.splits > 1);
    if (g.splits > 1)
      mergeSplits(at);
    return;
  }
  // A run-time split count: one split writes the output directly.
  Value several = im.lt(im.c(1), im.v(s.splits));
  auto ifSplit = scf::IfOp::create(b, several, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifSplit.thenBlock());
  storeRows(at, /*toPartials=*/true);
  mergeSplits(at);
  b.setInsertionPointToStart(ifSplit.elseBlock());
  storeRows(at, /*toPartials=*/false);
}

void Emitter::storeRows(const ItemPlace &at, bool toPartials) {
  auto storeLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(storeLoop.getBody());
  Value gi = storeLoop.getInductionVar();
  Value h = im.add(im.mul(at.hkv, g.group), gi);
  Value r0 = im.mul(gi, g.tq);
  Value accRows = rankReducedView(b, accTile, {r0, idx(0)},
                                  {idx(g.tq), idx(g.dvPad)}, {g.tq, g.dvPad});
  Value maxRows = rankReducedView(b, rowMax, {r0}, {idx(g.tq)}, {g.tq});
  Value sumRows = rankReducedView(b, rowSum, {r0}, {idx(g.tq)}, {g.tq});
  Value qValid = at.qValid;
  Value dst, lseDst;
  if (toPartials) {
    dst = rankReducedView(b, partOut, {at.item, r0, idx(0)},
                          {idx(1), qValid, idx(g.valueDim)},
                          {ShapedType::kDynamic, g.valueDim});
    lseDst = rankReducedView(b, partLse, {at.item, r0}, {idx(1), qValid},
                             {ShapedType::kDynamic});
  } else {
    dst = rowsOf(p.output, at, h, g.valueDim);
    if (p.lse)
      lseDst = rowsOf(p.lse, at, h, 0);
  }
  TileFinalizeOp::create(b, accRows, maxRows, sumRows, dst, lseDst);
}

void Emitter::mergeSplits(const ItemPlace &at) {
  Value one = arith::ConstantOp::create(b, b.getI32IntegerAttr(1));
  Value before =
      memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addi, one, counters,
                                  ValueRange{at.block, im.c(0)});
  Value lastCount =
      ShapedType::isDynamic(g.splits)
          ? arith::IndexCastOp::create(b, b.getI32Type(),
                                       im.sub(im.v(s.splits), 1))
                .getResult()
          : arith::ConstantOp::create(b, b.getI32IntegerAttr(g.splits - 1))
                .getResult();
  Value last =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, before, lastCount);
  auto ifLast = scf::IfOp::create(b, last, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifLast.thenBlock());
  auto mergeLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  b.setInsertionPointToStart(mergeLoop.getBody());
  Value gi = mergeLoop.getInductionVar();
  Value h = im.add(im.mul(at.hkv, g.group), gi);
  Value r0 = im.mul(gi, g.tq);
  Value first = im.mul(at.block, s.splits); // the block's split 0
  Value qValid = at.qValid;
  Value parts = rankReducedView(b, partOut, {first, r0, idx(0)},
                                {s.splits, qValid, idx(g.valueDim)},
                                {g.splits, ShapedType::kDynamic, g.valueDim});
  Value partsLse = rankReducedView(b, partLse, {first, r0}, {s.splits, qValid},
                                   {g.splits, ShapedType::kDynamic});
  Value dst = rowsOf(p.output, at, h, g.valueDim);
  Value lseDst;
  if (p.lse)
    lseDst = rowsOf(p.lse, at, h, 0);
  TileCombineOp::create(b, parts, partsLse, dst, lseDst);
}

void Emitter::startRowsAtSinks(Value hkv, Value split) {
  OpBuilder::InsertionGuard guard(b);
  if (ShapedType::isDynamic(g.splits) || g.splits > 1) {
    Value first =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, split, im.c(0));
    auto ifFirst = scf::IfOp::create(b, first, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifFirst.thenBlock());
  }
  auto heads = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  b.setInsertionPointToStart(heads.getBody());
  Value gi = heads.getInductionVar();
  Value h = im.add(im.mul(hkv, g.group), gi);
  Value sink = memref::LoadOp::create(b, p.sinks, ValueRange{h});
  Value r0 = im.mul(gi, g.tq);
  Value maxRows = rankReducedView(b, rowMax, {r0}, {idx(g.tq)}, {g.tq});
  Value sumRows = rankReducedView(b, rowSum, {r0}, {idx(g.tq)}, {g.tq});
  linalg::FillOp::create(b, sink, maxRows);
  fill(sumRows, 1.0f);
}

void Emitter::emitKvTile(Value t, Value b0, Value hkv, Value q0, Value qPos,
                         Value kvLimit) {
  Value j0 = im.mul(t, g.tk);
  Value kvValid = im.min(im.c(g.tk), im.sub(kvLimit, j0));
  // `inPlace(direct, packed)`: direct() on full tiles, packed() on the
  // last, partial one (zero rows past the keys) or always.
  bool direct = readsKvInPlace();
  if (!direct) {
    packKv(p.key, kTile, g.headDim, b0, hkv, j0, kvValid);
    packKv(p.value, vTile, g.valueDim, b0, hkv, j0, kvValid);
  }
  auto inPlace = [&](function_ref<void()> directFn,
                     function_ref<void()> packedFn) {
    if (!direct)
      return packedFn();
    Value full =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, kvValid, im.c(g.tk));
    auto ifFull = scf::IfOp::create(b, full, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifFull.thenBlock());
    directFn();
    b.setInsertionPointToStart(ifFull.elseBlock());
    packedFn();
  };

  if (g.dotProductScores()) {
    // Dot products for the real rows only; padding lanes are never read.
    Value qRows =
        rankReducedView(b, qtTile, {idx(0), idx(0)},
                        {idx(g.rows), idx(g.headDim)}, {g.rows, g.headDim});
    inPlace(
        [&] {
          forEachKvPiece(p.key, g.headDim, b0, hkv, j0, kvLimit,
                         [&](Value rows, Value first, int64_t n) {
                           Value s = rankReducedView(b, sTile, {first, idx(0)},
                                                     {idx(n), idx(g.rows)},
                                                     {n, g.rows});
                           TileMatmulOp::create(b, rows, qRows, s,
                                                /*accumulate=*/false,
                                                /*transpose_lhs=*/false,
                                                /*transpose_rhs=*/true);
                         });
        },
        [&] {
          if (direct)
            packKv(p.key, kTile, g.headDim, b0, hkv, j0, kvValid);
          Value sRows =
              rankReducedView(b, sTile, {idx(0), idx(0)},
                              {idx(g.tk), idx(g.rows)}, {g.tk, g.rows});
          TileMatmulOp::create(b, kTile, qRows, sRows, /*accumulate=*/false,
                               /*transpose_lhs=*/false,
                               /*transpose_rhs=*/true);
        });
  } else {
    inPlace(
        [&] {
          forEachKvPiece(p.key, g.headDim, b0, hkv, j0, kvLimit,
                         [&](Value rows, Value first, int64_t n) {
                           Value s = rankReducedView(b, sTile, {first, idx(0)},
                                                     {idx(n), idx(g.rowsPad)},
                                                     {n, g.rowsPad});
                           TileMatmulOp::create(b, rows, qtTile, s,
                                                /*accumulate=*/false,
                                                /*transpose_lhs=*/false,
                                                /*transpose_rhs=*/false);
                         });
        },
        [&] {
          if (direct)
            packKv(p.key, kTile, g.headDim, b0, hkv, j0, kvValid);
          TileMatmulOp::create(b, kTile, qtTile, sTile, /*accumulate=*/false,
                               /*transpose_lhs=*/false,
                               /*transpose_rhs=*/false);
        });
  }
  if (p.scoreMods)
    p.scoreMods(b, b0, hkv, q0, j0, sTile);
  if (p.softcap)
    TileSoftcapOp::create(b, sTile, p.softcap);
  TileMaskOp::create(b, sTile, qPos, j0, kvLimit, p.mask,
                     b.getI64IntegerAttr(g.tq));
  if (p.customMasks)
    p.customMasks(b, b0, hkv, q0, j0, sTile);
  if (headMask)
    maskUnlistedHeads(b, g, *headMask, sTile);
  // Padding rows of the accumulator are never stored: skip them.
  Value accRows = accTile, probs = sTile;
  if (g.rows != g.rowsPad) {
    accRows = rankReducedView(b, accTile, {idx(0), idx(0)},
                              {idx(g.rows), idx(g.dvPad)}, {g.rows, g.dvPad});
    probs = rankReducedView(b, sTile, {idx(0), idx(0)},
                            {idx(g.tk), idx(g.rows)}, {g.tk, g.rows});
  }
  TileOnlineSoftmaxOp::create(b, sTile, accRows, rowMax, rowSum);
  // Dropout after the exp: the row sums above stay undropped, so the
  // output is sum(keep · p · v) / ((1 - p) · l). The whole padded tile:
  // padding columns are never stored.
  if (dropoutSeed)
    TileDropoutOp::create(
        b, sTile, dropoutSeed, dropoutOffset, b0, im.mul(hkv, g.group), q0, j0,
        b.getF64FloatAttr(p.dropoutP), b.getI64IntegerAttr(g.heads),
        b.getI64IntegerAttr(g.tq));
  inPlace(
      [&] {
        forEachKvPiece(p.value, g.valueDim, b0, hkv, j0, kvLimit,
                       [&](Value rows, Value first, int64_t n) {
                         Value pn = rankReducedView(b, probs, {first, idx(0)},
                                                    {idx(n), idx(g.rows)},
                                                    {n, g.rows});
                         TileMatmulOp::create(b, pn, rows, accRows,
                                              /*accumulate=*/true,
                                              /*transpose_lhs=*/true,
                                              /*transpose_rhs=*/false);
                       });
      },
      [&] {
        if (direct)
          packKv(p.value, vTile, g.valueDim, b0, hkv, j0, kvValid);
        TileMatmulOp::create(b, probs, vTile, accRows, /*accumulate=*/true,
                             /*transpose_lhs=*/true, /*transpose_rhs=*/false);
      });
}

} // namespace mlir::attn::flash_detail

using mlir::attn::flash_detail::Emitter;

void mlir::attn::emitFlash(ImplicitLocOpBuilder &b, const FlashGeometry &g,
                           const FlashSizes &s, const FlashProblem &p) {
  Emitter(b, g, s, p).emit();
}

void mlir::attn::emitFlashItem(ImplicitLocOpBuilder &b, const FlashGeometry &g,
                               const FlashSizes &s, const FlashProblem &p,
                               const FlashItem &item) {
  assert(!ShapedType::isDynamic(g.splits) && g.splits == 1 &&
         "caller-placed items have no KV splits");
  Emitter(b, g, s, p).emitPlaced(item);
}
