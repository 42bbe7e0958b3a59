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

constexpr int64_t kPad = 16;    // tile widths are padded to whole vectors
constexpr int64_t kRowPad = 8;  // query rows: half vectors suffice (decode)
constexpr int64_t kMinRows = 4; // ... and quarter vectors up to 4 rows
// Paged decode prefetches the next KV tile's rows into L2 (llvm.prefetch
// locality 2: x86 prefetcht1). One tile ahead (64 keys: 32 KiB of K plus
// 32 KiB of V in f32) fits L2 next to the tile being read; locality 3
// (L1) and 0 (non-temporal) were slower than no prefetch at b16, and
// prefetching only the first line(s) of each row did not help.
constexpr unsigned kPrefetchLocality = 2;

// One cache line per split arrival counter: no false sharing between the
// counters of neighbouring query blocks.
constexpr int64_t kCounterBytes = 64;

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

} // namespace

MemRefType mlir::attn::stridedMemRefType(MLIRContext *ctx,
                                         ArrayRef<int64_t> shape, Type elt,
                                         bool unitInner) {
  SmallVector<int64_t> strides(shape.size(), ShapedType::kDynamic);
  if (unitInner)
    strides.back() = 1;
  return MemRefType::get(
      shape, elt, StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

Value mlir::attn::rankReducedView(ImplicitLocOpBuilder &b, Value source,
                                  ArrayRef<OpFoldResult> offsets,
                                  ArrayRef<OpFoldResult> sizes,
                                  ArrayRef<int64_t> resultShape) {
  auto srcTy = cast<MemRefType>(source.getType());
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  auto resultTy = memref::SubViewOp::inferRankReducedResultType(
      resultShape, srcTy, offsets, sizes, strides);
  return memref::SubViewOp::create(b, cast<MemRefType>(resultTy), source,
                                   offsets, sizes, strides);
}

int64_t mlir::attn::chooseKvSplits(int64_t baseItems, int64_t kvCapacity,
                                   int64_t parallelism) {
  constexpr int64_t kMinKeysPerSplit = 512;
  if (baseItems <= 0) // an empty output: nothing to split
    return 1;
  int64_t wanted = (4 * parallelism + baseItems - 1) / baseItems;
  int64_t most = std::max<int64_t>(1, kvCapacity / kMinKeysPerSplit);
  return std::clamp<int64_t>(wanted, 1, most);
}

FailureOr<FlashGeometry> mlir::attn::chooseFlashGeometry(
    int64_t batch, int64_t heads, int64_t kvHeads, int64_t qLen,
    int64_t headDim, int64_t valueDim, int64_t kvCapacity, int64_t pageSize,
    int64_t tileRows, int64_t tileKv, int64_t kvSplits, std::string &error) {
  // Tiles stay within the tile ops' verifier limit (limits::kMaxTileDim).
  const std::string most = std::to_string(limits::kMaxTileDim);
  if (tileKv <= 0 || tileKv % kPad != 0 || tileKv > limits::kMaxTileDim) {
    error = "tile-kv must be a positive multiple of " + std::to_string(kPad) +
            " up to " + most + ", got " + std::to_string(tileKv);
    return failure();
  }
  if (tileRows <= 0 || tileRows > limits::kMaxTileDim) {
    error = "tile-rows must be in [1, " + most + "], got " +
            std::to_string(tileRows);
    return failure();
  }
  FlashGeometry g;
  g.batch = batch;
  g.heads = heads;
  g.kvHeads = kvHeads;
  g.qLen = qLen;
  g.headDim = headDim;
  g.valueDim = valueDim;
  g.kvCapacity = kvCapacity;
  // Zero batch, heads or queries: no work items. Zero keys: one (empty)
  // tile width, no KV tiles, rows that see nothing.
  g.group = heads / kvHeads;
  g.tq = std::clamp<int64_t>(tileRows / std::max<int64_t>(g.group, 1), 1,
                             std::max<int64_t>(qLen, 1));
  g.rows = g.group * g.tq;
  g.rowsPad = g.rows <= kMinRows ? kMinRows : roundUp(g.rows, kRowPad);
  g.tk = std::max(kPad, std::min(tileKv, roundUp(kvCapacity, kPad)));
  if (pageSize > 0) {
    // A KV tile is whole pages, or a whole fraction of one page.
    if (pageSize <= g.tk && g.tk % pageSize != 0) {
      error = "page size " + std::to_string(pageSize) +
              " must divide tile-kv (" + std::to_string(g.tk) + ")";
      return failure();
    }
    if (pageSize > g.tk && pageSize % g.tk != 0) {
      error = "page size " + std::to_string(pageSize) +
              " must be a multiple of tile-kv (" + std::to_string(g.tk) + ")";
      return failure();
    }
  }
  g.dvPad = roundUp(valueDim, kPad);
  g.qBlocks = g.group == 0 ? 0 : (qLen + g.tq - 1) / g.tq;
  g.splits = kvSplits > 0 ? kvSplits : 1;
  return g;
}

int64_t mlir::attn::splitScratchBytesPerItem(const FlashGeometry &g) {
  return kCounterBytes + roundUp(g.rowsPad * 4, 64) + g.rowsPad * g.dvPad * 4;
}

namespace {

class Emitter {
public:
  Emitter(ImplicitLocOpBuilder &b, const FlashGeometry &g,
          const FlashProblem &p)
      : b(b), im{b}, g(g), p(p) {}

  void emit();

private:
  /// Per-call scratch for split partials and arrival counters (see
  /// FlashEmitter.h); sets partOut, partLse and counters.
  Value allocSplitScratch(Value items);
  void emitItem(Value item);
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
  /// K/V tiles are read in place (no f32 pack) when the tile is full.
  bool readsInPlace() const;
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
  const FlashProblem &p;
  Value qtTile, kTile, vTile, sTile, accTile, rowMax, rowSum;
  Value partOut, partLse, counters;
};

void Emitter::emit() {
  Value items = im.c(g.workItems());
  Value scratch;
  if (g.splits > 1)
    scratch = allocSplitScratch(items);
  auto forall =
      scf::ForallOp::create(b, ArrayRef<OpFoldResult>{idx(g.workItems())},
                            ValueRange(), std::nullopt);
  forall->setAttr("attn.work_items", b.getI64IntegerAttr(g.workItems()));
  // An empty output: no items, and no body (whose views of zero-sized
  // buffers would not verify).
  if (g.workItems() == 0)
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
    memref::DeallocOp::create(b, scratch)
        ->setAttr(kSplitScratchAttr, b.getUnitAttr());
  }
}

Value Emitter::allocSplitScratch(Value items) {
  // Item-major, so the bytes scale with the item count and nothing depends
  // on the sizes beyond it: [items] arrival counters (one cache line each,
  // indexed by query block < items), [items, rowsPad] partial lse,
  // [items, rowsPad, dvPad] partial outputs.
  Type f32 = b.getF32Type();
  int64_t lseBytes = roundUp(g.rowsPad * 4, 64);
  Value bytes = im.mul(items, splitScratchBytesPerItem(g));
  auto scratch = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
      ValueRange{bytes}, b.getI64IntegerAttr(64));
  scratch->setAttr(kSplitScratchAttr,
                   b.getI64IntegerAttr(splitScratchBytesPerItem(g)));
  auto view = [&](Value offset, ArrayRef<int64_t> inner, Type elt) -> Value {
    SmallVector<int64_t> shape = {ShapedType::kDynamic};
    shape.append(inner.begin(), inner.end());
    return memref::ViewOp::create(b, MemRefType::get(shape, elt), scratch,
                                  offset, ValueRange{items});
  };
  counters = view(im.c(0), {kCounterBytes / 4}, b.getI32Type());
  Value lseAt = im.mul(items, kCounterBytes);
  partLse = view(lseAt, {lseBytes / 4}, f32);
  partOut =
      view(im.add(lseAt, im.mul(items, lseBytes)), {g.rowsPad, g.dvPad}, f32);
  // Counters start at zero; a kernel handed to the runtime gets zeroed
  // scratch from it instead (attn-parallel-to-runtime drops this fill).
  linalg::FillOp::create(
      b, arith::ConstantOp::create(b, b.getI32IntegerAttr(0)).getResult(),
      counters)
      ->setAttr(kSplitScratchAttr, b.getUnitAttr());
  return scratch;
}

void Emitter::emitItem(Value item) {
  Type f32 = b.getF32Type();
  auto tile = [&](ArrayRef<int64_t> shape) -> Value {
    return memref::AllocaOp::create(b, MemRefType::get(shape, f32));
  };
  // A few query rows (decode) take dot products along D against row-major
  // Q; more rows broadcast keys against Qᵀ (outer products).
  bool dotQk = g.rowsPad <= kRowPad;
  qtTile = dotQk ? tile({g.rowsPad, g.headDim}) : tile({g.headDim, g.rowsPad});
  kTile = tile({g.tk, g.headDim});
  vTile = tile({g.tk, g.dvPad});
  sTile = tile({g.tk, g.rowsPad});
  accTile = tile({g.rowsPad, g.dvPad});
  rowMax = tile({g.rowsPad});
  rowSum = tile({g.rowsPad});

  Value split = im.rem(item, g.splits);
  Value block = im.div(item, g.splits); // (b, hkv, qb) linearized
  Value qb = im.rem(block, g.qBlocks);
  Value rest = im.div(block, g.qBlocks);
  Value hkv = im.rem(rest, g.kvHeads);
  Value b0 = im.div(rest, g.kvHeads);
  Value q0 = im.mul(qb, g.tq);
  Value qValid = im.min(im.c(g.tq), im.sub(im.c(g.qLen), q0));

  Value kvLimit = im.c(g.kvCapacity);
  if (p.kvLengths) {
    Value len = memref::LoadOp::create(b, p.kvLengths, ValueRange{b0});
    Value lenIdx = arith::IndexCastOp::create(b, b.getIndexType(), len);
    kvLimit = im.max(im.c(0), im.min(lenIdx, kvLimit));
  }
  // Absolute position of query q0 (before the mask's own q_offset).
  Value qPos = q0;
  if (p.queriesAtEnd)
    qPos = im.add(q0, im.sub(kvLimit, im.c(g.qLen)));

  // Qᵀ, scaled, one head after another; padding columns stay zero.
  if (g.rowsPad != g.rows)
    fill(qtTile, 0.0f);
  auto headLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(headLoop.getBody());
    Value gi = headLoop.getInductionVar();
    Value h = im.add(im.mul(hkv, g.group), gi);
    Value src = rankReducedView(b, p.query, {b0, h, q0, idx(0)},
                                {idx(1), idx(1), qValid, idx(g.headDim)},
                                {ShapedType::kDynamic, g.headDim});
    Value dst =
        dotQk ? rankReducedView(b, qtTile, {im.mul(gi, g.tq), idx(0)},
                                {idx(g.tq), idx(g.headDim)}, {g.tq, g.headDim})
              : rankReducedView(b, qtTile, {idx(0), im.mul(gi, g.tq)},
                                {idx(g.headDim), idx(g.tq)}, {g.headDim, g.tq});
    TilePackOp::create(b, src, dst, b.getF32FloatAttr(p.scale),
                       /*transpose=*/!dotQk);
  }
  fill(accTile, 0.0f);
  fill(rowSum, 0.0f);
  fill(rowMax, -std::numeric_limits<float>::infinity());
  if (p.sinks)
    startRowsAtSinks(hkv, split);

  // This split's share of the tiles that exist: [tBegin, tEnd).
  Value tiles = im.ceilDiv(kvLimit, g.tk);
  Value tBegin = im.c(0), tEnd = tiles;
  if (g.splits > 1) {
    Value per = im.ceilDiv(tiles, g.splits);
    tBegin = im.min(arith::MulIOp::create(b, split, per), tiles);
    tEnd = im.min(im.add(tBegin, per), tiles);
  }
  auto kvLoop = scf::ForOp::create(b, tBegin, tEnd, im.c(1));
  kvLoop->setAttr("attn.kv_tile_loop", b.getI64IntegerAttr(g.tk));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(kvLoop.getBody());
    emitKvTile(kvLoop.getInductionVar(), b0, hkv, q0, qPos, kvLimit);
  }

  // Normalize each head's rows into the output, or into this split's
  // partial for the merge.
  auto storeLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(storeLoop.getBody());
    Value gi = storeLoop.getInductionVar();
    Value h = im.add(im.mul(hkv, g.group), gi);
    Value r0 = im.mul(gi, g.tq);
    Value accRows = rankReducedView(b, accTile, {r0, idx(0)},
                                    {idx(g.tq), idx(g.dvPad)}, {g.tq, g.dvPad});
    Value maxRows = rankReducedView(b, rowMax, {r0}, {idx(g.tq)}, {g.tq});
    Value sumRows = rankReducedView(b, rowSum, {r0}, {idx(g.tq)}, {g.tq});
    Value dst, lseDst;
    if (g.splits > 1) {
      dst = rankReducedView(b, partOut, {item, r0, idx(0)},
                            {idx(1), qValid, idx(g.valueDim)},
                            {ShapedType::kDynamic, g.valueDim});
      lseDst = rankReducedView(b, partLse, {item, r0}, {idx(1), qValid},
                               {ShapedType::kDynamic});
    } else {
      dst = rankReducedView(b, p.output, {b0, h, q0, idx(0)},
                            {idx(1), idx(1), qValid, idx(g.valueDim)},
                            {ShapedType::kDynamic, g.valueDim});
      if (p.lse)
        lseDst =
            rankReducedView(b, p.lse, {b0, h, q0}, {idx(1), idx(1), qValid},
                            {ShapedType::kDynamic});
    }
    TileFinalizeOp::create(b, accRows, maxRows, sumRows, dst, lseDst);
  }
  if (g.splits == 1)
    return;

  // The last split of this query block to arrive merges all partials.
  Value one = arith::ConstantOp::create(b, b.getI32IntegerAttr(1));
  Value before = memref::AtomicRMWOp::create(
      b, arith::AtomicRMWKind::addi, one, counters, ValueRange{block, im.c(0)});
  Value last = arith::CmpIOp::create(
      b, arith::CmpIPredicate::eq, before,
      arith::ConstantOp::create(b, b.getI32IntegerAttr(g.splits - 1)));
  auto ifLast = scf::IfOp::create(b, last, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifLast.thenBlock());
  auto mergeLoop = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  b.setInsertionPointToStart(mergeLoop.getBody());
  Value gi = mergeLoop.getInductionVar();
  Value h = im.add(im.mul(hkv, g.group), gi);
  Value r0 = im.mul(gi, g.tq);
  Value first = im.mul(block, g.splits); // the block's split 0
  Value parts = rankReducedView(b, partOut, {first, r0, idx(0)},
                                {idx(g.splits), qValid, idx(g.valueDim)},
                                {g.splits, ShapedType::kDynamic, g.valueDim});
  Value partsLse =
      rankReducedView(b, partLse, {first, r0}, {idx(g.splits), qValid},
                      {g.splits, ShapedType::kDynamic});
  Value dst = rankReducedView(b, p.output, {b0, h, q0, idx(0)},
                              {idx(1), idx(1), qValid, idx(g.valueDim)},
                              {ShapedType::kDynamic, g.valueDim});
  Value lseDst;
  if (p.lse)
    lseDst = rankReducedView(b, p.lse, {b0, h, q0}, {idx(1), idx(1), qValid},
                             {ShapedType::kDynamic});
  TileCombineOp::create(b, parts, partsLse, dst, lseDst);
}

void Emitter::startRowsAtSinks(Value hkv, Value split) {
  OpBuilder::InsertionGuard guard(b);
  if (g.splits > 1) {
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
  Value slot =
      im.min(im.add(im.div(j0, ps), i),
             im.c(cast<MemRefType>(p.blockTable.getType()).getDimSize(1) - 1));
  Value page = arith::IndexCastOp::create(
      b, b.getIndexType(),
      memref::LoadOp::create(b, p.blockTable, ValueRange{b0, slot}));
  // A slot past the sequence may hold garbage: read page 0 (zero rows).
  page = arith::SelectOp::create(b, im.lt(im.c(0), rows), page, im.c(0));
  Value src = pageRows(cache, page, idx(0), rows, hkv, dim);
  TilePackOp::create(b, src, dst, FloatAttr(), /*transpose=*/false);
}

bool Emitter::readsInPlace() const {
  // Decode-shaped items (dot-product scores) only: a K/V element is used
  // once per item, so a pack is a copy the matmuls could have read.
  // Prefill reuses each packed row across many query rows.
  return g.rowsPad <= kRowPad && g.headDim % kPad == 0 &&
         g.valueDim % kPad == 0;
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
  int64_t slots = cast<MemRefType>(p.blockTable.getType()).getDimSize(1);
  Value slot = im.min(im.div(jn, ps), im.c(slots - 1));
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
  bool direct = readsInPlace();
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

  if (g.rowsPad <= kRowPad) {
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
  // Padding rows of the accumulator are never stored: skip them.
  Value accRows = accTile, probs = sTile;
  if (g.rows != g.rowsPad) {
    accRows = rankReducedView(b, accTile, {idx(0), idx(0)},
                              {idx(g.rows), idx(g.dvPad)}, {g.rows, g.dvPad});
    probs = rankReducedView(b, sTile, {idx(0), idx(0)},
                            {idx(g.tk), idx(g.rows)}, {g.tk, g.rows});
  }
  TileOnlineSoftmaxOp::create(b, sTile, accRows, rowMax, rowSum);
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
                           const FlashProblem &p) {
  Emitter(b, g, p).emit();
}
