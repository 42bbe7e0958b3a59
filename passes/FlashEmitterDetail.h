//===- FlashEmitterDetail.h - the flash emitter's class -------*- C++ -*-===//
//
// The emitter behind emitFlash / emitFlashItem (FlashEmitter.h), shared by
// its two files: FlashEmitter.cpp (items, the KV-tile loop, splits) and
// FlashEmitterKv.cpp (reading K/V tiles from contiguous and paged caches).
// Internal to passes/.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_FLASHEMITTERDETAIL_H
#define ATTN_PASSES_FLASHEMITTERDETAIL_H

#include "passes/FlashEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mlir::attn::flash_detail {

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
  /// Full K/V tiles are read in place: decode items (g.readsInPlace), and
  /// prefill items of a contiguous f32 cache with whole-vector head dims.
  bool readsKvInPlace() const;
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

} // namespace mlir::attn::flash_detail

#endif
