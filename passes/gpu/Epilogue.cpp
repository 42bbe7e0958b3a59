//===- Epilogue.cpp - normalize and store the rows of a flash kernel ------===//
//
// After the KV loop each thread holds its rows' running max, partial sums
// and O fragments. With one key warp per row they are normalized and
// stored from registers; with several, the warps park their states in
// shared memory and the block merges them (a log-sum-exp weighted sum) and
// writes each row once. With KV splits the rows go to the scratch buffers
// the combine kernel reads (partial outputs and base-2 log-sum-exp).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

void FlashKernelEmitter::storeRows(ArrayRef<Value> res) {
  const int64_t G = g.group, halves = 2 * g.warpRowTiles;
  // Each row lives in one warp: normalize in registers and store the
  // fragments' column pairs directly (no merge through shared memory).
  for (int64_t hI = 0; hI < halves; ++hI) {
    int64_t mt = hI / 2, half = hI % 2;
    Value lTot = quadReduce(res[halves + hI], false);
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lTot, cf(0));
    Value inv =
        select(seen, arith::DivFOp::create(b, cf(1), select(seen, lTot, cf(1))),
               cf(0));
    Value row = threadRow(mt, half);
    auto inRange = scf::IfOp::create(b, im.lt(row, rowCount()), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inRange.thenBlock());
    Value h = im.add(im.mul(kvHead, G), im.rem(row, G));
    Value sIdx = im.div(row, G);
    ifSplit([&](bool toPartials) {
      // The base is the row's max (taken where it is used when no sink
      // needs it first).
      RowScale rs{seen, inv, lTot, Value()};
      if (g.hasSinks && !toPartials)
        rs = withSink({seen, inv, lTot, safeMax(res[hI])}, h);
      storeRow(res, hI, rs, row, h, sIdx, toPartials);
    });
  }
}

RowScale FlashKernelEmitter::withSink(const RowScale &rs, Value h) {
  Value sink = memref::LoadOp::create(b, sinks, ValueRange{h});
  SinkFold f = foldSink(rs.seen, rs.base, rs.l, sink);
  Value inv = select(
      f.seen, arith::DivFOp::create(b, f.corr, select(f.seen, f.l, cf(1))),
      cf(0));
  return {f.seen, inv, f.l, f.base};
}

void FlashKernelEmitter::storeRow(ArrayRef<Value> res, int64_t hI,
                                  const RowScale &rs, Value row, Value h,
                                  Value sIdx, bool toPartials) {
  Value inv = rs.inv;
  const int64_t oTiles = g.dvPad() / 8, halves = 2 * g.warpRowTiles;
  const int64_t mt = hI / 2, half = hI % 2;
  Type et = elemType(b.getContext(), g);
  OpBuilder::InsertionGuard guard(b);
  Value prow;
  if (toPartials)
    prow = partialRow(row);
  for (int64_t t = 0; t < oTiles; ++t) {
    int64_t first = 2 * halves + (mt * oTiles + t) * 4 + half * 2;
    Value x0 = fmul(res[first], inv), x1 = fmul(res[first + 1], inv);
    Value col = im.add(colPair, im.c(t * 8));
    if (g.dvPad() != g.vDim()) {
      storeElements(x0, x1, col, h, sIdx, prow);
      continue;
    }
    if (!toPartials) {
      Value pair = vector::FromElementsOp::create(
          b, VectorType::get({2}, et),
          ValueRange{arith::TruncFOp::create(b, et, x0),
                     arith::TruncFOp::create(b, et, x1)});
      vector::StoreOp::create(b, pair, out, qAt(h, sIdx, col));
    } else {
      Value pair = vector::FromElementsOp::create(
          b, VectorType::get({2}, b.getF32Type()), ValueRange{x0, x1});
      vector::StoreOp::create(b, pair, partOut, ValueRange{prow, col});
    }
  }
  if (toPartials || g.hasLse) {
    auto lead =
        scf::IfOp::create(b,
                          arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                                im.rem(lane, 4), im.c(0)),
                          false);
    b.setInsertionPointToStart(lead.thenBlock());
    Value base = rs.base ? rs.base : safeMax(res[hI]);
    if (toPartials) {
      Value lse = select(rs.seen, fadd(base, lg2(select(rs.seen, rs.l, cf(1)))),
                         cf(kNegInf));
      memref::StoreOp::create(b, lse, partLse, ValueRange{prow});
    } else {
      memref::StoreOp::create(b, naturalLse(rs.seen, base, rs.l), lseOut,
                              lseAt(h, sIdx));
    }
  }
}

void FlashKernelEmitter::storeElements(Value x0, Value x1, Value col, Value h,
                                       Value sIdx, Value prow) {
  // Dv is not a multiple of 8: rows are not pair-aligned, and the padded
  // columns are dropped.
  Type et = elemType(b.getContext(), g);
  Value pair[] = {x0, x1}; // named: a braced list dies before the loop
  for (auto [i, x] : llvm::enumerate(pair)) {
    Value c = im.add(col, im.c(i));
    auto inside = scf::IfOp::create(b, im.lt(c, im.c(g.vDim())), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inside.thenBlock());
    if (!prow)
      memref::StoreOp::create(b, arith::TruncFOp::create(b, et, x), out,
                              qAt(h, sIdx, c));
    else
      memref::StoreOp::create(b, x, partOut, ValueRange{prow, c});
  }
}

void FlashKernelEmitter::mergeKeyWarps(ArrayRef<Value> res, Value r16) {
  const int64_t D = g.vDim(), G = g.group, oTiles = g.dvPad() / 8;
  const int64_t MT = g.warpRowTiles, halves = 2 * MT;
  const int64_t warpRows = g.warpRows();
  Type et = elemType(b.getContext(), g);
  // Each warp parks its state in shared memory.
  for (int64_t mt = 0; mt < MT; ++mt)
    for (int64_t t = 0; t < oTiles; ++t)
      for (int64_t i = 0; i < 4; ++i) {
        Value row = im.add(r16, im.c(mt * 16 + (i / 2) * 8));
        Value col = im.add(colPair, im.c(t * 8 + (i % 2)));
        memref::StoreOp::create(b, res[2 * halves + (mt * oTiles + t) * 4 + i],
                                oSmem, ValueRange{warp, row, col});
      }
  SmallVector<Value> lSum;
  for (int64_t hI = 0; hI < halves; ++hI)
    lSum.push_back(quadReduce(res[halves + hI], false));
  Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                       im.rem(lane, 4), im.c(0));
  auto ifLeader = scf::IfOp::create(b, leader, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLeader.thenBlock());
    for (int64_t hI = 0; hI < halves; ++hI) {
      Value row = im.add(r16, im.c((hI / 2) * 16 + (hI % 2) * 8));
      memref::StoreOp::create(b, res[hI], mSmem, ValueRange{warp, row});
      memref::StoreOp::create(b, lSum[hI], lSmem, ValueRange{warp, row});
    }
  }
  gpu::BarrierOp::create(b);

  // Merge the key warps of each row and write the block's rows once,
  // consecutive threads on consecutive columns.
  int64_t elems = g.blockRows() * D;
  auto fin = scf::ForOp::create(b, tid, im.c(elems), im.c(g.threads()));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fin.getBody());
    Value e = fin.getInductionVar();
    Value rowInBlock = im.div(e, D), d = im.rem(e, D);
    Value rowWarp = im.div(rowInBlock, warpRows);
    Value r = im.rem(rowInBlock, warpRows);
    Value firstWarp = im.mul(rowWarp, g.keyWarps);
    SmallVector<Value> ms, ls, os;
    Value mx = cf(kNegInf);
    for (int64_t w = 0; w < g.keyWarps; ++w) {
      Value wi = im.add(firstWarp, im.c(w));
      ms.push_back(memref::LoadOp::create(b, mSmem, ValueRange{wi, r}));
      ls.push_back(memref::LoadOp::create(b, lSmem, ValueRange{wi, r}));
      os.push_back(memref::LoadOp::create(b, oSmem, ValueRange{wi, r, d}));
      mx = fmax(mx, ms.back());
    }
    Value base = safeMax(mx);
    Value lTot = cf(0), acc = cf(0);
    for (int64_t w = 0; w < g.keyWarps; ++w) {
      Value f = ex2(fsub(ms[w], base));
      lTot = fadd(lTot, fmul(ls[w], f));
      acc = fadd(acc, fmul(os[w], f));
    }
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lTot, cf(0));
    Value safeL = select(seen, lTot, cf(1));
    Value value = select(seen, arith::DivFOp::create(b, acc, safeL), cf(0));
    Value row = im.add(row0, rowInBlock);
    auto inRange = scf::IfOp::create(b, im.lt(row, rowCount()), false);
    b.setInsertionPointToStart(inRange.thenBlock());
    ifSplit([&](bool toPartials) {
      OpBuilder::InsertionGuard inner(b);
      if (!toPartials) {
        Value h = im.add(im.mul(kvHead, G), im.rem(row, G));
        Value sIdx = im.div(row, G);
        RowScale rs{seen, Value(), lTot, base};
        Value x = value;
        if (g.hasSinks) {
          rs = withSink(rs, h);
          x = fmul(acc, rs.inv);
        }
        memref::StoreOp::create(b, arith::TruncFOp::create(b, et, x), out,
                                qAt(h, sIdx, d));
        if (g.hasLse) {
          auto first = scf::IfOp::create(
              b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, im.c(0)),
              false);
          b.setInsertionPointToStart(first.thenBlock());
          memref::StoreOp::create(b, naturalLse(rs.seen, rs.base, rs.l), lseOut,
                                  lseAt(h, sIdx));
        }
        return;
      }
      Value prow = partialRow(row);
      memref::StoreOp::create(b, value, partOut, ValueRange{prow, d});
      auto first = scf::IfOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, im.c(0)),
          false);
      b.setInsertionPointToStart(first.thenBlock());
      Value lse = select(seen, fadd(base, lg2(safeL)), cf(kNegInf));
      memref::StoreOp::create(b, lse, partLse, ValueRange{prow});
    });
  }
}
