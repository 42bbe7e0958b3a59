//===- CombineKernel.cpp - the split-KV combine kernel --------------------===//
//
// Flash-decoding: each KV split wrote its rows' partial outputs and base-2
// log-sum-exp; one block per row merges them (one thread per column).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/KernelBuilder.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <tuple>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

namespace {

constexpr int64_t kThreads = 128;

class CombineKernelEmitter : public KernelBuilder {
public:
  using KernelBuilder::KernelBuilder;
  void emit(gpu::GPUFuncOp func);

private:
  /// Column `col` of the row whose split 0 is partial row `first`: the
  /// lse-weighted mean of the splits' partial outputs (den, num) and the
  /// base it is relative to.
  std::tuple<Value, Value, Value> mergeColumn(Value first, Value col);
  /// The run-time split count's version: loops over the splits.
  std::tuple<Value, Value, Value> mergeColumnLoop(Value first, Value col);

  Value partOut, partLse, numSplits;
};

std::tuple<Value, Value, Value> CombineKernelEmitter::mergeColumn(Value first,
                                                                  Value col) {
  return mergeLse(
      g.splits,
      [&](int64_t s) -> Value {
        return memref::LoadOp::create(b, partLse, ValueRange{im.add(first, s)});
      },
      [&](int64_t s) -> Value {
        return memref::LoadOp::create(b, partOut,
                                      ValueRange{im.add(first, s), col});
      });
}

std::tuple<Value, Value, Value>
CombineKernelEmitter::mergeColumnLoop(Value first, Value col) {
  // Two passes over the splits (the lse max, then the weighted sums): the
  // same arithmetic as the unrolled static merge.
  Value last = im.add(first, numSplits);
  auto maxLoop =
      scf::ForOp::create(b, first, last, im.c(1), ValueRange{cf(kNegInf)});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(maxLoop.getBody());
    Value lse = memref::LoadOp::create(b, partLse,
                                       ValueRange{maxLoop.getInductionVar()});
    scf::YieldOp::create(b, fmax(maxLoop.getRegionIterArgs()[0], lse));
  }
  Value base = safeMax(maxLoop.getResult(0));
  auto sumLoop =
      scf::ForOp::create(b, first, last, im.c(1), ValueRange{cf(0), cf(0)});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(sumLoop.getBody());
    Value p = sumLoop.getInductionVar();
    Value f =
        ex2(fsub(memref::LoadOp::create(b, partLse, ValueRange{p}), base));
    Value x = memref::LoadOp::create(b, partOut, ValueRange{p, col});
    scf::YieldOp::create(
        b, ValueRange{fadd(sumLoop.getRegionIterArgs()[0], f),
                      fadd(sumLoop.getRegionIterArgs()[1], fmul(f, x))});
  }
  return {base, sumLoop.getResult(0), sumLoop.getResult(1)};
}

void CombineKernelEmitter::emit(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  partOut = entry.getArgument(0);
  partLse = entry.getArgument(1);
  Value out = entry.getArgument(2);
  Value lseOut = g.hasLse ? entry.getArgument(3) : Value();
  unsigned argNo = g.hasLse ? 4 : 3;
  Value sinks = g.hasSinks ? entry.getArgument(argNo++) : Value();
  const int64_t D = g.vDim(), G = g.group;
  Value rows;
  if (g.runTimeSplits) {
    // Buffers of run-time shape: views from the batch, Sq and split count.
    Value batchSize = entry.getArgument(argNo++);
    Value qLen = entry.getArgument(argNo++);
    numSplits = entry.getArgument(argNo++);
    rows = im.mul(qLen, G);
    Value partRows =
        im.mul(im.mul(im.mul(batchSize, g.kvHeads), rows), numSplits);
    partOut = denseView(b, partOut, {partRows, b.getIndexAttr(D)});
    partLse = denseView(b, partLse, {partRows});
    // out and lse are static when only the page count is run-time.
    OpFoldResult B = batchSize, Sq = qLen, H = b.getIndexAttr(g.heads),
                 Dv = b.getIndexAttr(D);
    auto view = [&](Value &mem, ArrayRef<OpFoldResult> sizes) {
      if (mem && cast<MemRefType>(mem.getType()).getRank() == 0)
        mem = denseView(b, mem, sizes);
    };
    view(out, g.bshd ? SmallVector<OpFoldResult>{B, Sq, H, Dv}
                     : SmallVector<OpFoldResult>{B, H, Sq, Dv});
    view(lseOut, {B, H, Sq});
  }
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value row = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value kvHead = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value first =
      g.runTimeSplits
          ? im.mul(
                im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead), rows),
                       row),
                numSplits)
          : im.mul(im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead),
                                 g.rows()),
                          row),
                   g.splits);
  // Thread t merges columns t, t + 128, ... (one column up to Dv = 128).
  for (int64_t c0 = 0; c0 < D; c0 += kThreads) {
    Value col = c0 == 0 ? tid : im.add(tid, im.c(c0));
    auto active = scf::IfOp::create(b, im.lt(col, im.c(D)), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(active.thenBlock());
    auto [base, den, num] =
        g.runTimeSplits ? mergeColumnLoop(first, col) : mergeColumn(first, col);
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, den, cf(0));
    if (sinks) {
      // The sink joins the merged denominator once (the splits' partials
      // leave it out): one more state of base-2 lse sink * log2(e) and
      // output 0.
      Value head = im.add(im.mul(kvHead, G), im.rem(row, G));
      SinkFold f = foldSink(
          seen, base, den,
          memref::LoadOp::create(b, sinks, ValueRange{head}).getResult());
      seen = f.seen;
      base = f.base;
      den = f.l;
      num = fmul(num, f.corr);
    }
    Value value = select(
        seen, arith::DivFOp::create(b, num, select(seen, den, cf(1))), cf(0));
    Value h = im.add(im.mul(kvHead, G), im.rem(row, G));
    Value sIdx = im.div(row, G);
    memref::StoreOp::create(
        b, arith::TruncFOp::create(b, elemType(b.getContext(), g), value), out,
        at(batch, h, sIdx, col));
    if (g.hasLse && c0 == 0) {
      auto firstThread = scf::IfOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, im.c(0)),
          false);
      b.setInsertionPointToStart(firstThread.thenBlock());
      memref::StoreOp::create(b, naturalLse(seen, base, den), lseOut,
                              ValueRange{batch, h, sIdx});
    }
  }
  gpu::ReturnOp::create(b);
}

} // namespace

gpu::GPUFuncOp mlir::attn::emitCombineKernel(OpBuilder &ob, Location loc,
                                             const GpuFlashGeometry &g,
                                             StringRef name) {
  MLIRContext *ctx = ob.getContext();
  SmallVector<Type> params = {gpuScratchOutType(ctx, g),
                              gpuScratchLseType(ctx, g), gpuOutputType(ctx, g)};
  if (g.hasLse)
    params.push_back(gpuLseType(ctx, g));
  if (g.hasSinks)
    params.push_back(gpuSinksType(ctx, g));
  if (g.runTimeSplits) {
    for (Type &t : params)
      t = gpuKernelParamType(cast<MemRefType>(t));
    params.append(3, ob.getIndexType()); // batch, Sq, split count
  }
  auto func = createKernelFunc(ob, loc, name, params, kThreads);
  ImplicitLocOpBuilder b(loc, ob);
  CombineKernelEmitter(b, g).emit(func);
  return func;
}
