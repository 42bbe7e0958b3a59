//===- BlockSparse.cpp - the flash kernel's KV loop over a block mask -----===//
//
// attn.attention's block_mask (FlexAttention's BlockMask) on the GPU. A row
// block of the kernel (128 rows prefill, a decode group) covers one or more
// query blocks and, under GQA, several query heads, each with its own list
// of KV blocks. The block iterates the union of those lists:
//
//   1. a bitmap of listed KV blocks per (head slot, query block) pair the
//      block's rows can touch, filled from the lists (shared-memory
//      atomic ORs, the entries spread over the threads);
//   2. every warp walks the bitmaps 32 KV blocks at a time (one word per
//      pair), keeps the blocks any pair lists that overlap the structured
//      mask's key range, and ranks them with a ballot: warp 0 writes the
//      ascending union list, bit 30 set where every pair lists the block;
//   3. the KV loop runs over the list's tiles (each KV block is
//      sparseKvBlock / tileKv whole tiles; KV splits share the list), and
//      a tile of a block some row does not list takes the masked path,
//      where that row's keys of the block become -inf.
//
// The lists are checked by the runtime before a launch (strictly
// ascending, in range: AttentionArgs' checkBlockMask); the clamps here only
// keep reads inside the buffers and shared memory.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

namespace {
/// Bit 30 of a list entry: every pair of the row block lists the block.
constexpr int64_t kEveryRowBit = 30;
} // namespace

Value FlashKernelEmitter::i32c(int64_t v) {
  return arith::ConstantIntOp::create(b, b.getI32Type(), v);
}

Value FlashKernelEmitter::bitOf(Value word, Value bit) {
  Value shifted = arith::ShRUIOp::create(b, word, i32(bit));
  Value one = arith::AndIOp::create(b, shifted, i32c(1));
  return arith::CmpIOp::create(b, arith::CmpIPredicate::ne, one, i32c(0));
}

void FlashKernelEmitter::fillPairBitmaps(Value qbHi) {
  const int64_t P = g.sparsePairs(), W = g.sparseWords();
  const int64_t QB = g.sparseQBlocksPerRowBlock(), NB = g.sparseKvBlocks();
  const int64_t maxBlocks = g.sparseMaxBlocks;
  // Zero the bitmaps.
  {
    auto zero = scf::ForOp::create(b, tid, im.c(P * W), im.c(g.threads()));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(zero.getBody());
    memref::StoreOp::create(b, i32c(0), sparseSmem,
                            ValueRange{zero.getInductionVar()});
  }
  gpu::BarrierOp::create(b);
  // One list entry per iteration: pair e / maxBlocks, entry e % maxBlocks.
  Value bi = g.sparseBatch == 1 ? im.c(0) : batch;
  auto fill =
      scf::ForOp::create(b, tid, im.c(P * maxBlocks), im.c(g.threads()));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fill.getBody());
    Value e = fill.getInductionVar();
    Value p = im.div(e, maxBlocks), j = im.rem(e, maxBlocks);
    Value slot = im.div(p, QB);
    Value qb = im.add(sparseQb0, im.rem(p, QB));
    Value h =
        g.sparseHeads == 1 ? im.c(0) : im.add(im.mul(kvHead, g.group), slot);
    Value qbc = im.min(qb, im.c(g.sparseQBlocks - 1));
    Value n = im.max(im.c(0), i32ToIndex(memref::LoadOp::create(
                                  b, kvNumBlocks, ValueRange{bi, h, qbc})));
    Value listed = arith::AndIOp::create(b, im.le(qb, qbHi), im.lt(j, n));
    auto ifListed = scf::IfOp::create(b, listed, /*withElse=*/false);
    b.setInsertionPointToStart(ifListed.thenBlock());
    Value kb = i32ToIndex(
        memref::LoadOp::create(b, kvBlockLists, ValueRange{bi, h, qbc, j}));
    kb = im.max(im.c(0), im.min(kb, im.c(NB - 1)));
    Value bit = arith::ShLIOp::create(b, i32c(1), i32(im.rem(kb, 32)));
    memref::AtomicRMWOp::create(
        b, arith::AtomicRMWKind::ori, bit, sparseSmem,
        ValueRange{im.add(im.mul(p, W), im.div(kb, 32))});
  }
  gpu::BarrierOp::create(b);
}

Value FlashKernelEmitter::buildBlockList(Value loKey, Value hiKey) {
  const int64_t G = g.group, BQ = g.sparseQBlock, BK = g.sparseKvBlock;
  const int64_t P = g.sparsePairs(), W = g.sparseWords();
  const int64_t QB = g.sparseQBlocksPerRowBlock(), NB = g.sparseKvBlocks();
  // The query blocks of the block's rows.
  Value sLo = im.div(row0, G);
  Value sHi = im.div(im.min(im.add(row0, g.blockRows() - 1), lastRow()), G);
  sparseQb0 = im.div(sLo, BQ);
  Value qbHi = im.div(sHi, BQ);
  fillPairBitmaps(qbHi);
  // The union, 32 KV blocks per step: lane l looks at block 32 c + l.
  Value fullMask = i32c(-1);
  auto chunks =
      scf::ForOp::create(b, im.c(0), im.c(W), im.c(1), ValueRange{im.c(0)});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(chunks.getBody());
    Value c = chunks.getInductionVar(), count = chunks.getRegionIterArg(0);
    Value any = i32c(0), every = fullMask;
    for (int64_t p = 0; p < P; ++p) {
      Value w = memref::LoadOp::create(b, sparseSmem,
                                       ValueRange{im.add(im.c(p * W), c)});
      any = arith::OrIOp::create(b, any, w);
      // Pairs past the block's last query block list nothing and do not
      // count against "every row".
      Value inside = im.le(im.add(sparseQb0, im.c(p % QB)), qbHi);
      every = arith::AndIOp::create(b, every, select(inside, w, fullMask));
    }
    Value kb = im.add(im.mul(c, 32), lane);
    Value key0 = im.mul(kb, BK);
    Value inRange = arith::AndIOp::create(
        b, im.lt(kb, im.c(NB)),
        arith::AndIOp::create(b, im.lt(key0, hiKey),
                              im.lt(loKey, im.add(key0, im.c(BK)))));
    Value take = arith::AndIOp::create(b, inRange, bitOf(any, lane));
    Value ballot = NVVM::VoteSyncOp::create(
        b, b.getI32Type(), fullMask, take,
        NVVM::VoteSyncKindAttr::get(b.getContext(),
                                    NVVM::VoteSyncKind::ballot));
    Value lanesBelow = arith::SubIOp::create(
        b, arith::ShLIOp::create(b, i32c(1), i32(lane)), i32c(1));
    Value rank = LLVM::CtPopOp::create(
        b, b.getI32Type(), arith::AndIOp::create(b, ballot, lanesBelow));
    Value pos = im.add(count, i32ToIndex(rank));
    auto ifWrite = scf::IfOp::create(
        b, arith::AndIOp::create(b, take, im.lt(warp, im.c(1))), false);
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(ifWrite.thenBlock());
      Value everyBit = arith::ShLIOp::create(
          b, arith::ExtUIOp::create(b, b.getI32Type(), bitOf(every, lane)),
          i32c(kEveryRowBit));
      memref::StoreOp::create(b, arith::OrIOp::create(b, i32(kb), everyBit),
                              sparseSmem, ValueRange{im.add(im.c(P * W), pos)});
    }
    Value total = LLVM::CtPopOp::create(b, b.getI32Type(), ballot);
    scf::YieldOp::create(b, ValueRange{im.add(count, i32ToIndex(total))});
  }
  // Warp 0's list is read by every warp.
  gpu::BarrierOp::create(b);
  return im.mul(chunks.getResult(0), BK / g.tileKv);
}

Value FlashKernelEmitter::kvTile(Value i, Value *everyRow) {
  if (!g.blockSparse())
    return i;
  const int64_t perBlock = g.sparseKvBlock / g.tileKv;
  const int64_t NB = g.sparseKvBlocks();
  // An empty list leaves slot 0 unwritten: any block read there stays in
  // range and the loop never uses it.
  Value slot = im.add(im.c(g.sparsePairs() * g.sparseWords()),
                      im.min(im.div(i, perBlock), im.c(NB - 1)));
  Value entry = memref::LoadOp::create(b, sparseSmem, ValueRange{slot});
  Value kb = i32ToIndex(
      arith::AndIOp::create(b, entry, i32c((int64_t(1) << kEveryRowBit) - 1)));
  kb = im.min(kb, im.c(NB - 1));
  if (everyRow)
    *everyRow = bitOf(entry, im.c(kEveryRowBit));
  return im.add(im.mul(kb, perBlock), im.rem(i, perBlock));
}

Value FlashKernelEmitter::rowListsBlock(Value h, Value sIdx, Value kb) {
  const int64_t QB = g.sparseQBlocksPerRowBlock();
  Value slot =
      g.sparseHeads == 1 ? im.c(0) : im.sub(h, im.mul(kvHead, g.group));
  Value qbi =
      im.min(im.sub(im.div(sIdx, g.sparseQBlock), sparseQb0), im.c(QB - 1));
  Value p = im.add(im.mul(slot, QB), qbi);
  Value w = memref::LoadOp::create(
      b, sparseSmem,
      ValueRange{im.add(im.mul(p, g.sparseWords()), im.div(kb, 32))});
  return bitOf(w, im.rem(kb, 32));
}
