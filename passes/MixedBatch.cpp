//===- MixedBatch.cpp - cache attention over packed mixed batches ---------===//
//
// A mixed batch (FlashInfer POD, FlashAttention varlen) holds prefill chunks
// and decode tokens in one packed query tensor, sequence b owning rows
// [qo[b], qo[b + 1]). One launch serves both with geometries of the shared
// flash form: sequences of at most `tqD` queries (decode, a few speculative
// tokens) are one dot-product item per K/V head that reads full KV tiles in
// place (one query: the decode kernel's geometry; 2..tqD: one sized for
// tqD, so that a single token does not pay for tqD rows); longer ones are
// query blocks of the prefill geometry (tqP queries per head,
// outer-product scores over packed tiles).
//
// The item count must follow from the buffers' sizes alone (the runtime
// asks for it before the run), so it is the bound B + ceil(T / tqP) slots
// per K/V head, and each item finds its place by one scan of the offsets:
// slot s is the s-th prefill block counted from the front, or the decode
// sequence of rank (slots - 1 - s) counted from the back; slots in between
// are empty. The runtime's pool hands items out front to back in small
// chunks, so the costly prefill blocks (each sequence's last block first:
// under a causal mask it sees the most keys) start first and the decode
// items fill the threads in as they free up: a long prefill chunk does not
// serialise the decode batch, and the decode batch does not wait for a
// second launch.
//
//===----------------------------------------------------------------------===//
#include "passes/MixedBatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Query rows a decode item may hold: the dot-product path's limit.
constexpr int64_t kDecodeRows = 8;

/// Where an item sits after the scan: its sequence (-1: an empty slot) and
/// its block among the sequence's prefill blocks (-1: a decode item).
struct ScanResult {
  Value seq, block;
};

/// The geometries of one packed problem: prefill blocks, decode items of
/// tqD queries and (when tqD > 1) of a single query.
struct PackedGeometries {
  FlashGeometry prefill, decode;
  std::optional<FlashGeometry> single;
};

class PackedLowering {
public:
  PackedLowering(ImplicitLocOpBuilder &b, const FlashProblem &p, Value offsets,
                 const PackedGeometries &g)
      : b(b), im{b}, p(p), offsets(offsets), gP(g.prefill), gD(g.decode),
        gOne(g.single) {}

  void emit();

private:
  Value offsetAt(Value i) {
    return arith::IndexCastOp::create(
        b, b.getIndexType(), memref::LoadOp::create(b, offsets, ValueRange{i}));
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y);
  }
  /// Prefill blocks of a sequence of `n` queries (0 for decode ones).
  Value prefillBlocks(Value n) {
    return select(im.lt(im.c(gD.tq), n), im.ceilDiv(n, gP.tq), im.c(0));
  }
  ScanResult scan(Value batch, Value slot, Value fromBack);
  void emitItem(Value item, Value hkv, const ScanResult &at);
  /// A decode item: all of the sequence's n <= tqD queries.
  void emitDecode(const FlashItem &item, Value n);

  ImplicitLocOpBuilder &b;
  IndexMath im;
  const FlashProblem &p;
  Value offsets;
  const FlashGeometry &gP, &gD;
  const std::optional<FlashGeometry> &gOne;
  FlashSizes sP, sD, sOne;
};

ScanResult PackedLowering::scan(Value batch, Value slot, Value fromBack) {
  Value none = im.c(-1);
  SmallVector<Value> init = {im.c(0), im.c(0), none, none};
  auto loop = scf::ForOp::create(b, im.c(0), batch, im.c(1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value s = loop.getInductionVar();
  Value cumP = loop.getRegionIterArg(0), cumD = loop.getRegionIterArg(1);
  Value seq = loop.getRegionIterArg(2), block = loop.getRegionIterArg(3);
  Value n = im.sub(offsetAt(im.add(s, 1)), offsetAt(s));
  Value isDecode = andI(im.lt(im.c(0), n), im.le(n, im.c(gD.tq)));
  Value nextP = im.add(cumP, prefillBlocks(n));
  Value hitP = andI(im.le(cumP, slot), im.lt(slot, nextP));
  Value hitD = andI(isDecode, eq(fromBack, cumD));
  Value hit = arith::OrIOp::create(b, hitP, hitD);
  seq = select(hit, s, seq);
  block = select(hitP, im.sub(slot, cumP), select(hitD, none, block));
  Value nextD = im.add(cumD, select(isDecode, im.c(1), im.c(0)));
  scf::YieldOp::create(b, ValueRange{nextP, nextD, seq, block});
  return {loop.getResult(2), loop.getResult(3)};
}

void PackedLowering::emitDecode(const FlashItem &item, Value n) {
  if (!gOne)
    return emitFlashItem(b, gD, sD, p, item);
  auto single = scf::IfOp::create(b, eq(n, im.c(1)), true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(single.thenBlock());
  emitFlashItem(b, *gOne, sOne, p, item);
  b.setInsertionPointToStart(single.elseBlock());
  emitFlashItem(b, gD, sD, p, item);
}

void PackedLowering::emitItem(Value item, Value hkv, const ScanResult &at) {
  auto found = scf::IfOp::create(b, im.le(im.c(0), at.seq), false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(found.thenBlock());
  Value start = offsetAt(at.seq);
  Value n = im.sub(offsetAt(im.add(at.seq, 1)), start);
  auto kind = scf::IfOp::create(b, im.lt(at.block, im.c(0)), true);
  b.setInsertionPointToStart(kind.thenBlock());
  emitDecode({item, at.seq, hkv, im.c(0), n, start, n}, n);
  b.setInsertionPointToStart(kind.elseBlock());
  // Prefill block `block` counted from the sequence's last one.
  Value qb = im.sub(im.sub(prefillBlocks(n), 1), at.block);
  Value q0 = im.mul(qb, gP.tq);
  Value valid = im.min(im.c(gP.tq), im.sub(n, q0));
  emitFlashItem(b, gP, sP, p,
                {item, at.seq, hkv, q0, valid, im.add(start, q0), n});
}

void PackedLowering::emit() {
  sP = materializeSizes(b, gP, p);
  sD = materializeSizes(b, gD, p);
  if (gOne)
    sOne = materializeSizes(b, *gOne, p);
  Value batch = im.sub(memref::DimOp::create(b, offsets, 0).getResult(), 1);
  Value rows = memref::DimOp::create(b, p.query, 0);
  Value slots = im.add(batch, im.ceilDiv(rows, gP.tq));
  Value items = im.mul(slots, gP.kvHeads);
  auto forall = scf::ForallOp::create(b, ArrayRef<OpFoldResult>{items},
                                      ValueRange(), std::nullopt);
  markWorkItems(forall);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  // Per-item stack tiles, released per item (as in emitFlash).
  auto scope = memref::AllocaScopeOp::create(b, TypeRange());
  b.createBlock(&scope.getBodyRegion());
  Value item = forall.getInductionVar(0);
  Value slot = im.div(item, gP.kvHeads), hkv = im.rem(item, gP.kvHeads);
  Value fromBack = im.sub(im.sub(slots, 1), slot);
  emitItem(item, hkv, scan(batch, slot, fromBack));
  memref::AllocaScopeReturnOp::create(b, ValueRange());
}

} // namespace

LogicalResult mlir::attn::lowerPackedCacheAttention(
    CacheAttentionOp op, const FlashProblem &p, int64_t kvHeads,
    int64_t kvCapacity, int64_t tileRows, int64_t tileKv, int64_t parallelism) {
  auto qTy = op.getQuery().getType();
  int64_t heads = qTy.getDimSize(1), d = qTy.getDimSize(2),
          dv = op.getValueCache().getType().getDimSize(3);
  int64_t group = std::max<int64_t>(1, heads / kvHeads);
  std::string error;
  // None with KV splits: the prefill blocks give the cores work.
  auto geometry = [&](int64_t queries) {
    return chooseFlashGeometry(ShapedType::kDynamic, heads, kvHeads, queries, d,
                               dv, kvCapacity, p.pageSize, tileRows, tileKv, 1,
                               parallelism, error);
  };
  auto gP = geometry(ShapedType::kDynamic);
  auto gD = geometry(std::max<int64_t>(1, kDecodeRows / group));
  auto gOne = geometry(1);
  if (failed(gP) || failed(gD) || failed(gOne))
    return op.emitOpError() << error;
  PackedGeometries g{*gP, *gD, std::nullopt};
  if (gD->tq > 1)
    g.single = *gOne;
  ImplicitLocOpBuilder b(op.getLoc(), op);
  if (heads > 0)
    PackedLowering(b, p, op.getQueryOffsets(), g).emit();
  op->erase();
  return success();
}
