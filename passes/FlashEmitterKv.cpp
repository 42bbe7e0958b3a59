//===- FlashEmitterKv.cpp - K/V tiles of the flash form ------------------===//
//
// How a work item reads its K/V tiles: packed from a contiguous cache or
// from the pages of a paged one (through the block table), or read in place
// piece by piece with the next tile's rows prefetched.
//
//===----------------------------------------------------------------------===//
#include "passes/FlashEmitterDetail.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::flash_detail;

namespace {

// Paged decode prefetches the next KV tile's rows into L2 (llvm.prefetch
// locality 2: x86 prefetcht1). One tile ahead (64 keys: 32 KiB of K plus
// 32 KiB of V in f32) fits L2 next to the tile being read; locality 3
// (L1) and 0 (non-temporal) were slower than no prefetch at b16, and
// prefetching only the first line(s) of each row did not help.
constexpr unsigned kPrefetchLocality = 2;

} // namespace

bool Emitter::readsKvInPlace() const {
  if (g.readsInPlace())
    return true;
  auto isF32 = [](Value v) {
    return cast<MemRefType>(v.getType()).getElementType().isF32();
  };
  return !p.blockTable && g.headDim % 16 == 0 && g.valueDim % 16 == 0 &&
         isF32(p.key) && isF32(p.value);
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
