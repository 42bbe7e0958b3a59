//===- BlockSparseLoops.cpp - KV loops over a block mask's lists ----------===//
//
// attn.attention's block_mask (FlexAttention's BlockMask) replaces a work
// item's dense KV range by the KV blocks its query block lists. The tiles
// follow the blocks (tq divides BQ, tk divides BK: attn-tile-flash picks
// them), so each listed block is a whole number of KV tiles and the item
// runs one attn.kv_tile_loop per block, which attn-mask-aware-iteration
// narrows by the structured mask like the dense loop. Lists are checked by
// the runtime (strictly ascending, in range) before a run; the clamps here
// only keep reads inside the buffers.
//
//===----------------------------------------------------------------------===//
#include "passes/FlashEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {

Value loadIndex(ImplicitLocOpBuilder &b, Value buffer, ValueRange at) {
  return arith::IndexCastOp::create(b, b.getIndexType(),
                                    memref::LoadOp::create(b, buffer, at));
}

/// Per-query-head lists under GQA: a [group, kvBlocks] i8 bitmap of the
/// group's lists, then a loop over the blocks any head lists (ascending).
void emitHeadBlockLoops(
    ImplicitLocOpBuilder &b, const FlashGeometry &g, const FlashSizes &s,
    const FlashProblem &p, const BlockLoopPlace &at, Value bi, Value qb,
    function_ref<std::pair<Value, Value>(Value)> splitRange,
    function_ref<void(Value, Value, std::optional<HeadBlockMask>)> tileLoop) {
  IndexMath im{b};
  Type i8 = b.getI8Type();
  Value capacity = memref::DimOp::create(b, p.kvIndices, 3);
  Value kvBlocks = im.ceilDiv(im.v(s.kvCapacity), p.blockKv);
  HeadBlockMask mask;
  mask.bits = memref::AllocaOp::create(
      b, MemRefType::get({g.group, ShapedType::kDynamic}, i8),
      ValueRange{kvBlocks});
  Value zero = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
  linalg::FillOp::create(b, zero, mask.bits);
  Value one = arith::ConstantOp::create(b, b.getI8IntegerAttr(1));
  {
    OpBuilder::InsertionGuard guard(b);
    auto heads = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
    b.setInsertionPointToStart(heads.getBody());
    Value gi = heads.getInductionVar();
    Value h = im.add(im.mul(at.hkv, g.group), gi);
    Value num = im.max(
        im.c(0), im.min(loadIndex(b, p.kvNumBlocks, {bi, h, qb}), capacity));
    auto entries = scf::ForOp::create(b, im.c(0), num, im.c(1));
    b.setInsertionPointToStart(entries.getBody());
    Value blk =
        loadIndex(b, p.kvIndices, {bi, h, qb, entries.getInductionVar()});
    blk = im.max(im.c(0), im.min(blk, im.sub(kvBlocks, 1)));
    memref::StoreOp::create(b, one, mask.bits, ValueRange{gi, blk});
  }
  // KV splits share the blocks.
  auto range = splitRange(kvBlocks);
  auto blocks = scf::ForOp::create(b, range.first, range.second, im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(blocks.getBody());
  mask.block = blocks.getInductionVar();
  auto any =
      scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1), ValueRange{zero});
  {
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(any.getBody());
    Value bit = memref::LoadOp::create(
        b, mask.bits, ValueRange{any.getInductionVar(), mask.block});
    scf::YieldOp::create(
        b, ValueRange{arith::OrIOp::create(b, any.getRegionIterArg(0), bit)});
  }
  Value listed = arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                       any.getResult(0), zero);
  auto ifListed = scf::IfOp::create(b, listed, /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifListed.thenBlock());
  int64_t perBlock = p.blockKv / g.tk;
  Value first = im.min(im.mul(mask.block, perBlock), at.tiles);
  tileLoop(first, im.min(im.add(first, perBlock), at.tiles), mask);
}

} // namespace

void mlir::attn::emitBlockSparseLoops(
    ImplicitLocOpBuilder &b, const FlashGeometry &g, const FlashSizes &s,
    const FlashProblem &p, const BlockLoopPlace &at,
    function_ref<std::pair<Value, Value>(Value)> splitRange,
    function_ref<void(Value, Value, std::optional<HeadBlockMask>)> tileLoop) {
  IndexMath im{b};
  // The item's list: kv_num_blocks[b, h, q0 / BQ] entries of kv_indices
  // (size-1 dims broadcast; a run-time batch dim is B).
  auto numTy = cast<MemRefType>(p.kvNumBlocks.getType());
  Value bi = numTy.getDimSize(0) == 1 ? im.c(0) : at.b0;
  Value qb = im.div(at.q0, p.blockQ);
  if (numTy.getDimSize(1) != 1 && g.group > 1)
    return emitHeadBlockLoops(b, g, s, p, at, bi, qb, splitRange, tileLoop);
  Value hi = numTy.getDimSize(1) == 1 ? im.c(0) : im.mul(at.hkv, g.group);
  Value capacity = im.v(memref::DimOp::create(b, p.kvIndices, 3).getResult());
  Value num = im.max(
      im.c(0), im.min(loadIndex(b, p.kvNumBlocks, {bi, hi, qb}), capacity));
  // KV splits share the list, not the key range.
  auto range = splitRange(num);
  auto blocks = scf::ForOp::create(b, range.first,
                                   im.max(range.first, range.second), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(blocks.getBody());
  Value blk = loadIndex(b, p.kvIndices, {bi, hi, qb, blocks.getInductionVar()});
  int64_t perBlock = p.blockKv / g.tk;
  Value first = im.min(im.mul(im.max(im.c(0), blk), perBlock), at.tiles);
  tileLoop(first, im.min(im.add(first, perBlock), at.tiles), std::nullopt);
}

void mlir::attn::maskUnlistedHeads(ImplicitLocOpBuilder &b,
                                   const FlashGeometry &g,
                                   const HeadBlockMask &mask, Value scores) {
  IndexMath im{b};
  OpBuilder::InsertionGuard guard(b);
  auto heads = scf::ForOp::create(b, im.c(0), im.c(g.group), im.c(1));
  b.setInsertionPointToStart(heads.getBody());
  Value gi = heads.getInductionVar();
  Value bit = memref::LoadOp::create(b, mask.bits, ValueRange{gi, mask.block});
  Value unlisted = arith::CmpIOp::create(
      b, arith::CmpIPredicate::eq, bit,
      arith::ConstantOp::create(b, b.getI8IntegerAttr(0)));
  auto ifUnlisted = scf::IfOp::create(b, unlisted, /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifUnlisted.thenBlock());
  Value cols = rankReducedView(b, scores, {b.getIndexAttr(0), im.mul(gi, g.tq)},
                               {b.getIndexAttr(g.tk), b.getIndexAttr(g.tq)},
                               {g.tk, g.tq});
  Value negInf = arith::ConstantOp::create(
      b, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  linalg::FillOp::create(b, negInf, cols);
}
