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
#include "passes/FlashEmitter.h"
#include "dialect/Limits.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {

// Paged decode prefetches the next KV tile's rows into L2 (llvm.prefetch
// locality 2: x86 prefetcht1). One tile ahead (64 keys: 32 KiB of K plus
// 32 KiB of V in f32) fits L2 next to the tile being read; locality 3
// (L1) and 0 (non-temporal) were slower than no prefetch at b16, and
// prefetching only the first line(s) of each row did not help.
constexpr unsigned kPrefetchLocality = 2;

} // namespace

namespace {

class Emitter {
public:
  Emitter(ImplicitLocOpBuilder &b, const FlashGeometry &g, const FlashSizes &s,
          const FlashProblem &p)
      : b(b), im{b}, g(g), s(s), p(p) {}

  void emit();
  /// One item the caller placed (emitFlashItem).
  void emitPlaced(const FlashItem &item) {
    ItemPlace at{item.item, im.c(0),     item.item, item.b0,    item.hkv,
                 item.q0,   item.qValid, item.qRow, item.qCount};
    emitItemAt(at);
  }

private:
  /// Where work item `item` sits: its split, its query block (b, hkv, qb)
  /// linearized, and the block's batch, K/V head and first query.
  struct ItemPlace {
    Value item, split, block, b0, hkv, q0, qValid;
    /// The item's first row in the query / output / lse views (q0, or the
    /// packed row) and its sequence's query count (for end-aligned
    /// positions).
    Value qRow, qCount;
  };
  /// Per-call scratch for split partials and arrival counters (see
  /// FlashEmitter.h); sets partOut, partLse and counters.
  Value allocSplitScratch(Value items);
  void emitItem(Value item);
  /// The item's body (tiles, queries, KV loop, store) at `at`.
  void emitItemAt(ItemPlace &at);
  /// Rows [at.qRow, at.qRow + at.qValid) of head `h` of the query or
  /// output (`dim` wide), or of the lse (`dim` 0), as a [n, dim] / [n] view.
  Value rowsOf(Value buffer, const ItemPlace &at, Value h, int64_t dim);
  /// [begin, end) of `n` (tiles or list entries) for the item's KV split.
  std::pair<Value, Value> splitRange(const ItemPlace &at, Value n);
  /// The KV-tile loop (attn.kv_tile_loop) over tiles [range.first,
  /// range.second).
  void emitTileLoop(const ItemPlace &at, Value qPos, Value kvLimit,
                    std::pair<Value, Value> range);
  /// Loads the item's queries, scaled, into qtTile (rotated first by their
  /// positions from `qPos` on, with a rotary embedding).
  void loadQueries(const ItemPlace &at, Value qPos);
  /// Normalizes each head's rows into the output (`toPartials` false) or
  /// into the item's split partial.
  void storeRows(const ItemPlace &at, bool toPartials);
  /// The last split of a query block to arrive merges all partials.
  void mergeSplits(const ItemPlace &at);
  /// storeRows (+ mergeSplits) for the split count, static or not.
  void finishItem(const ItemPlace &at);
  /// Rows of split 0 start as if they had seen one key of logit sinks[h]
  /// and value 0 (max = sink, sum = 1): the online softmax, finalize and
  /// split merge then count the sink once in every denominator and lse.
  void startRowsAtSinks(Value hkv, Value split);
  void emitKvTile(Value t, Value b0, Value hkv, Value q0, Value qPos,
                  Value kvLimit);
  /// Packs keys [j0, j0 + valid) of (b0, hkv) from `cache` into `tile`.
  void packKv(Value cache, Value tile, int64_t dim, Value b0, Value hkv,
              Value j0, Value valid);
  /// Rows [first, first + count) of K/V head `hkv` in page `page` of a
  /// paged pool, as a [count, dim] view (unit inner stride).
  /// `staticRows` gives the view a static row count (`count` must be it).
  Value pageRows(Value cache, OpFoldResult page, OpFoldResult first,
                 OpFoldResult count, Value hkv, int64_t dim,
                 int64_t staticRows = ShapedType::kDynamic) {
    if (p.headMajorPages)
      return rankReducedView(b, cache, {page, hkv, first, idx(0)},
                             {idx(1), idx(1), count, idx(dim)},
                             {staticRows, dim});
    return rankReducedView(b, cache, {page, first, hkv, idx(0)},
                           {idx(1), count, idx(1), idx(dim)},
                           {staticRows, dim});
  }
  /// Calls `fn(rows, first, n)` for the cache rows of the full KV tile at
  /// key j0 of (b0, hkv), in pieces of `n` keys that are one strided view
  /// each (`rows`, [n, dim], the cache's element type): the whole tile for
  /// a contiguous cache or a tile inside one page, else a loop over its
  /// pages. `first` is the piece's first key within the tile. Before each
  /// piece of a paged cache, the rows one tile later are prefetched
  /// (`kvLimit`: the sequence's keys).
  void forEachKvPiece(Value cache, int64_t dim, Value b0, Value hkv, Value j0,
                      Value kvLimit,
                      function_ref<void(Value, Value, int64_t)> fn);
  /// Software prefetch of the `n` rows of keys [jn, jn + n) (within one
  /// page) of K/V head `hkv` in a paged pool, one prefetch per cache line,
  /// the page looked up through the block table (page 0 past the keys).
  void prefetchRows(Value cache, int64_t dim, Value b0, Value hkv, Value jn,
                    int64_t n, Value kvLimit);
  /// For the piece at key `first` of the tile at `j0` (paged caches read
  /// in place): prefetches the rows at the same place one tile later.
  void prefetchNextTile(Value cache, int64_t dim, Value b0, Value hkv, Value j0,
                        Value first, int64_t n, Value kvLimit) {
    if (p.blockTable)
      prefetchRows(cache, dim, b0, hkv, im.add(im.add(j0, first), g.tk), n,
                   kvLimit);
  }
  void fill(Value buffer, float value) {
    Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(value));
    linalg::FillOp::create(b, c, buffer);
  }
  OpFoldResult idx(int64_t v) { return b.getIndexAttr(v); }

  ImplicitLocOpBuilder &b;
  IndexMath im;
  const FlashGeometry &g;
  const FlashSizes &s;
  const FlashProblem &p;
  Value qtTile, kTile, vTile, sTile, accTile, rowMax, rowSum;
  Value partOut, partLse, counters;
  /// Per-query-head block lists under GQA: the block being visited.
  std::optional<HeadBlockMask> headMask;
  Value dropoutSeed, dropoutOffset;
};

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

void Emitter::packKv(Value cache, Value tile, int64_t dim, Value b0, Value hkv,
                     Value j0, Value valid) {
  if (!p.blockTable) {
    Value src = rankReducedView(b, cache, {b0, hkv, j0, idx(0)},
                                {idx(1), idx(1), valid, idx(dim)},
                                {ShapedType::kDynamic, dim});
    TilePackOp::create(b, src, tile, FloatAttr(), /*transpose=*/false);
    return;
  }
  int64_t ps = p.pageSize;
  if (ps >= g.tk) {
    // The tile is a slice of one page.
    Value page = arith::IndexCastOp::create(
        b, b.getIndexType(),
        memref::LoadOp::create(b, p.blockTable,
                               ValueRange{b0, im.div(j0, ps)}));
    Value src = pageRows(cache, page, im.rem(j0, ps), valid, hkv, dim);
    TilePackOp::create(b, src, tile, FloatAttr(), /*transpose=*/false);
    return;
  }
  // The tile spans tk / ps pages; pages past the valid keys pack as zeros.
  auto pages = scf::ForOp::create(b, im.c(0), im.c(g.tk / ps), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(pages.getBody());
  Value i = pages.getInductionVar();
  Value first = im.mul(i, ps);
  Value rows = im.max(im.c(0), im.min(im.c(ps), im.sub(valid, first)));
  Value dst =
      rankReducedView(b, tile, {first, idx(0)}, {idx(ps), idx(dim)}, {ps, dim});
  Value slot = im.min(im.add(im.div(j0, ps), i), im.v(im.sub(s.tableSlots, 1)));
  Value page = arith::IndexCastOp::create(
      b, b.getIndexType(),
      memref::LoadOp::create(b, p.blockTable, ValueRange{b0, slot}));
  // A slot past the sequence may hold garbage: read page 0 (zero rows).
  page = arith::SelectOp::create(b, im.lt(im.c(0), rows), page, im.c(0));
  Value src = pageRows(cache, page, idx(0), rows, hkv, dim);
  TilePackOp::create(b, src, dst, FloatAttr(), /*transpose=*/false);
}

void Emitter::forEachKvPiece(Value cache, int64_t dim, Value b0, Value hkv,
                             Value j0, Value kvLimit,
                             function_ref<void(Value, Value, int64_t)> piece) {
  auto fn = [&](Value rows, Value first, int64_t n) {
    prefetchNextTile(cache, dim, b0, hkv, j0, first, n, kvLimit);
    piece(rows, first, n);
  };
  if (!p.blockTable) {
    fn(rankReducedView(b, cache, {b0, hkv, j0, idx(0)},
                       {idx(1), idx(1), idx(g.tk), idx(dim)}, {g.tk, dim}),
       im.c(0), g.tk);
    return;
  }
  int64_t ps = p.pageSize;
  auto pageAt = [&](Value slot) -> Value {
    return arith::IndexCastOp::create(
        b, b.getIndexType(),
        memref::LoadOp::create(b, p.blockTable, ValueRange{b0, slot}));
  };
  if (ps >= g.tk) {
    Value page = pageAt(im.div(j0, ps));
    fn(pageRows(cache, page, im.rem(j0, ps), idx(g.tk), hkv, dim, g.tk),
       im.c(0), g.tk);
    return;
  }
  auto pages = scf::ForOp::create(b, im.c(0), im.c(g.tk / ps), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(pages.getBody());
  Value i = pages.getInductionVar();
  Value page = pageAt(im.add(im.div(j0, ps), i));
  fn(pageRows(cache, page, idx(0), idx(ps), hkv, dim, ps), im.mul(i, ps), ps);
}

void Emitter::prefetchRows(Value cache, int64_t dim, Value b0, Value hkv,
                           Value jn, int64_t n, Value kvLimit) {
  int64_t ps = p.pageSize;
  Value slot = im.min(im.div(jn, ps), im.v(im.sub(s.tableSlots, 1)));
  Value page = arith::IndexCastOp::create(
      b, b.getIndexType(),
      memref::LoadOp::create(b, p.blockTable, ValueRange{b0, slot}));
  // A slot past the sequence may hold garbage: prefetch page 0 instead.
  page = arith::SelectOp::create(b, im.lt(jn, kvLimit), page, im.c(0));
  Value row0 = n < ps ? im.rem(jn, ps) : im.c(0);
  Type elt = cast<MemRefType>(cache.getType()).getElementType();
  int64_t perLine = std::max<int64_t>(1, 512 / elt.getIntOrFloatBitWidth());
  auto rows = scf::ForOp::create(b, im.c(0), im.c(n), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(rows.getBody());
  Value r = im.add(row0, rows.getInductionVar());
  for (int64_t c = 0; c < dim; c += perLine) {
    SmallVector<Value, 4> at =
        p.headMajorPages ? SmallVector<Value, 4>{page, hkv, r, im.c(c)}
                         : SmallVector<Value, 4>{page, r, hkv, im.c(c)};
    memref::PrefetchOp::create(b, cache, at, /*isWrite=*/false,
                               kPrefetchLocality, /*isDataCache=*/true);
  }
}

void Emitter::emitKvTile(Value t, Value b0, Value hkv, Value q0, Value qPos,
                         Value kvLimit) {
  Value j0 = im.mul(t, g.tk);
  Value kvValid = im.min(im.c(g.tk), im.sub(kvLimit, j0));
  // `inPlace(direct, packed)`: direct() on full tiles, packed() on the
  // last, partial one (zero rows past the keys) or always.
  bool direct = g.readsInPlace();
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
    TileMatmulOp::create(b, kTile, qtTile, sTile, /*accumulate=*/false,
                         /*transpose_lhs=*/false, /*transpose_rhs=*/false);
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

} // namespace

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
