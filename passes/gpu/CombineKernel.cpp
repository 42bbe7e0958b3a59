//===- CombineKernel.cpp - the split-KV combine kernel --------------------===//
//
// Flash-decoding: each KV split wrote its rows' partial outputs and base-2
// log-sum-exp; one block per row merges them (one thread per column).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/KernelBuilder.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

namespace {

constexpr int64_t kThreads = 128;

class CombineKernelEmitter : public KernelBuilder {
public:
  using KernelBuilder::KernelBuilder;
  void emit(gpu::GPUFuncOp func);
};

void CombineKernelEmitter::emit(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value partOut = entry.getArgument(0);
  Value partLse = entry.getArgument(1);
  Value out = entry.getArgument(2);
  Value lseOut = g.hasLse ? entry.getArgument(3) : Value();
  const int64_t D = g.vDim(), R = g.rows(), G = g.group, S = g.splits;
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value row = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value kvHead = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value first = im.mul(
      im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead), R), row), S);
  // Thread t merges columns t, t + 128, ... (one column up to Dv = 128).
  for (int64_t c0 = 0; c0 < D; c0 += kThreads) {
    Value col = c0 == 0 ? tid : im.add(tid, im.c(c0));
    auto active = scf::IfOp::create(b, im.lt(col, im.c(D)), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(active.thenBlock());
    SmallVector<Value> lses;
    Value m = cf(kNegInf);
    for (int64_t s = 0; s < S; ++s) {
      lses.push_back(
          memref::LoadOp::create(b, partLse, ValueRange{im.add(first, s)}));
      m = fmax(m, lses.back());
    }
    Value base = safeMax(m);
    Value den = cf(0), num = cf(0);
    for (int64_t s = 0; s < S; ++s) {
      Value f = ex2(fsub(lses[s], base));
      Value x =
          memref::LoadOp::create(b, partOut, ValueRange{im.add(first, s), col});
      den = fadd(den, f);
      num = fadd(num, fmul(f, x));
    }
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, den, cf(0));
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
  auto func = createKernelFunc(ob, loc, name, params, kThreads);
  ImplicitLocOpBuilder b(loc, ob);
  CombineKernelEmitter(b, g).emit(func);
  return func;
}
