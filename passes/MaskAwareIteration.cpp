//===- MaskAwareIteration.cpp - skip masked KV tiles, unmask full ones ----===//
//
// For a query block at absolute positions [qLo, qHi] the structured mask
// bounds the keys any row can see: causal/look-ahead windows give an upper
// key, a look-back window a lower key. The KV-tile loop is narrowed to those
// tiles (global-token tiles below the range get a loop of their own), and
// attn.tile_mask only runs on tiles that are not entirely visible to every
// row of the block. Bounds are computed per work item at run time from the
// same closed forms, so they hold for any query block.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/IndexMath.h"
#include "passes/MaskBuilder.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNMASKAWAREITERATION
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

using KvLoop = AttnDialect::KvTileLoopAttrHelper;
using QueryLoop = AttnDialect::QTileLoopAttrHelper;
using Done = AttnDialect::MaskAwareAttrHelper;

void markDone(scf::ForOp loop) {
  Done(loop.getContext()).setAttr(loop, UnitAttr::get(loop.getContext()));
}

/// Guards `mask` so it only runs when some pair of its tile may be masked.
void guardPartialTiles(TileMaskOp mask, int64_t tk, Value qLo, Value qHi,
                       const MaskSpec &m) {
  ImplicitLocOpBuilder b(mask.getLoc(), mask);
  IndexMath im{b};
  Value j0 = mask.getKvStart();
  Value jLast = im.add(j0, tk - 1);
  Value full = MaskBuilder(b, m).fullyVisible(
      im.le(im.add(j0, tk), mask.getKvLimit()), qLo, qHi, j0, jLast);
  Value partial = arith::XOrIOp::create(
      b, full, arith::ConstantOp::create(b, b.getBoolAttr(true)));
  auto guard = scf::IfOp::create(b, partial, /*withElseRegion=*/false);
  mask->moveBefore(guard.thenBlock()->getTerminator());
}

/// The tile_mask directly in `loop`'s body (null if none) and its mask.
std::pair<TileMaskOp, MaskSpec> findMask(scf::ForOp loop) {
  TileMaskOp mask;
  for (Operation &inner : *loop.getBody())
    if ((mask = dyn_cast<TileMaskOp>(inner)))
      break;
  MaskSpec m;
  if (mask)
    if (auto attr = mask.getMaskAttr())
      m = attr.getSpec();
  return {mask, m};
}

void processLoop(scf::ForOp loop) {
  int64_t tk = KvLoop(loop.getContext()).getAttr(loop).getInt();
  auto [mask, m] = findMask(loop);
  if (!mask)
    return;

  ImplicitLocOpBuilder b(loop.getLoc(), loop);
  IndexMath im{b};
  int64_t rowsPerHead = mask.getRowsPerHead();
  Value qLo = im.add(mask.getQStart(), m.qOffset);
  Value qHi = im.add(qLo, rowsPerHead - 1);
  guardPartialTiles(mask, tk, qLo, qHi, m);

  // Tiles any row can see: [lo, hi).
  Value lo = loop.getLowerBound(), hi = loop.getUpperBound();
  Value origHi = hi;
  bool bounded = false;
  MaskBuilder::KeyRange keys = MaskBuilder(b, m).visibleKeys(qLo, qHi);
  if (keys.last) {
    hi = im.min(hi, im.add(im.div(keys.last, tk), 1));
    bounded = true;
  }
  if (keys.first) {
    lo = im.max(lo, im.div(keys.first, tk));
    bounded = true;
  }
  if (m.globalTokens > 0 && bounded) {
    // Global queries see every key they are allowed to (causal still
    // holds), so blocks holding one keep their look-back range whole.
    Value globalQuery = im.lt(qLo, im.c(m.globalTokens));
    lo = arith::SelectOp::create(b, globalQuery, loop.getLowerBound(), lo);
    if (!m.causal)
      hi = arith::SelectOp::create(b, globalQuery, origHi, hi);
    // Global keys below the window get their own loop.
    Value globalTiles = im.min(im.c((m.globalTokens + tk - 1) / tk), lo);
    Value prefixEnd = im.min(globalTiles, hi);
    auto prefix = cast<scf::ForOp>(b.clone(*loop));
    prefix.setLowerBound(loop.getLowerBound());
    prefix.setUpperBound(prefixEnd);
    markDone(prefix);
  }
  loop.setLowerBound(lo);
  loop.setUpperBound(im.max(lo, hi));
  markDone(loop);
}

/// The backward's loop over query blocks for one KV tile (attn.q_tile_loop,
/// FlashBackward.cpp): narrowed to the blocks holding a query that may see
/// a key of the tile, tile_mask guarded as above.
void processQueryLoop(scf::ForOp loop) {
  int64_t tk = QueryLoop(loop.getContext()).getAttr(loop).getInt();
  auto [mask, m] = findMask(loop);
  if (!mask)
    return;
  int64_t tq = mask.getRowsPerHead();
  {
    ImplicitLocOpBuilder b(mask.getLoc(), mask);
    IndexMath im{b};
    Value qLo = im.add(mask.getQStart(), m.qOffset);
    guardPartialTiles(mask, tk, qLo, im.add(qLo, tq - 1), m);
  }
  Value k0 = mask.getKvStart(), limit = mask.getKvLimit();
  if (!loop.isDefinedOutsideOfLoop(k0) || !loop.isDefinedOutsideOfLoop(limit))
    return;
  ImplicitLocOpBuilder b(loop.getLoc(), loop);
  IndexMath im{b};
  // The tile's keys that exist: [k0, kHi]; none when kHi < k0.
  Value kHi = im.min(im.add(k0, tk - 1), im.sub(limit, 1));
  MaskBuilder::KeyRange queries = MaskBuilder(b, m).visibleQueries(k0, kHi);
  Value lo = loop.getLowerBound(), hi = loop.getUpperBound();
  Value offset = im.c(m.qOffset);
  if (queries.first) {
    Value first = im.max(im.c(0), im.sub(queries.first, offset));
    lo = im.max(lo, im.div(first, tq));
  }
  if (queries.last) {
    Value last = im.sub(queries.last, offset);
    Value tiles = im.add(im.div(im.max(im.c(0), last), tq), 1);
    hi = im.min(
        hi, arith::SelectOp::create(b, im.lt(last, im.c(0)), im.c(0), tiles));
  }
  hi = arith::SelectOp::create(b, im.lt(kHi, k0), lo, hi);
  loop.setLowerBound(lo);
  loop.setUpperBound(im.max(lo, hi));
  markDone(loop);
}

struct MaskAwareIterationPass
    : attn::impl::AttnMaskAwareIterationBase<MaskAwareIterationPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    KvLoop kvLoop(ctx);
    QueryLoop queryLoop(ctx);
    Done done(ctx);
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) {
      if (kvLoop.isAttrPresent(loop) && !done.isAttrPresent(loop))
        loops.push_back(loop);
    });
    for (scf::ForOp loop : loops)
      processLoop(loop);
    SmallVector<scf::ForOp> queryLoops;
    getOperation().walk([&](scf::ForOp loop) {
      if (queryLoop.isAttrPresent(loop) && !done.isAttrPresent(loop))
        queryLoops.push_back(loop);
    });
    for (scf::ForOp loop : queryLoops)
      processQueryLoop(loop);
  }
};

} // namespace
