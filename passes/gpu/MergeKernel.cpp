//===- MergeKernel.cpp - attn.merge_states on the GPU ---------------------===//
//
// attn.merge_states (FlashInfer's merge_states, FA3's flash_attn_combine):
// N partial states [N, B, H, S, Dv] and their natural-log lse [N, B, H, S]
// merged row by row into [B, H, S, Dv] (and the merged lse). One block of
// 128 threads per row (grid (S, H, B)), one thread per column: the
// lse-weighted mean of KernelBuilder::mergeLse, the step the split-KV
// combine kernel runs on its partials (with base-2 lse there; here the
// natural-log lse are scaled by log2(e) as they are read).
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashLowering.h"
#include "passes/gpu/KernelBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;
using namespace mlir::attn::gpu_lowering;

namespace {

constexpr int64_t kThreads = 128;

class MergeKernelEmitter : public KernelBuilder {
public:
  MergeKernelEmitter(ImplicitLocOpBuilder &b, const GpuFlashGeometry &g,
                     int64_t numStates, int64_t dv, Type et)
      : KernelBuilder(b, g), numStates(numStates), dv(dv), et(et) {}
  void emit(gpu::GPUFuncOp func, bool hasLse);

private:
  int64_t numStates, dv;
  Type et; ///< the states' and output's element type
};

void MergeKernelEmitter::emit(gpu::GPUFuncOp func, bool hasLse) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value states = entry.getArgument(0), stateLse = entry.getArgument(1);
  Value out = entry.getArgument(2);
  Value lseOut = hasLse ? entry.getArgument(3) : Value();
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value s = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value h = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  auto lseAt = [&](int64_t i) {
    Value l =
        memref::LoadOp::create(b, stateLse, ValueRange{im.c(i), batch, h, s});
    return fmul(l, cf(kLog2e));
  };
  // Thread t merges columns t, t + 128, ...
  for (int64_t c0 = 0; c0 < dv; c0 += kThreads) {
    Value col = c0 == 0 ? tid : im.add(tid, im.c(c0));
    auto active = scf::IfOp::create(b, im.lt(col, im.c(dv)), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(active.thenBlock());
    auto [base, den, num] = mergeLse(numStates, lseAt, [&](int64_t i) -> Value {
      Value x = memref::LoadOp::create(b, states,
                                       ValueRange{im.c(i), batch, h, s, col});
      return et.isF32() ? x : arith::ExtFOp::create(b, b.getF32Type(), x);
    });
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, den, cf(0));
    Value value = select(
        seen, arith::DivFOp::create(b, num, select(seen, den, cf(1))), cf(0));
    if (!et.isF32())
      value = arith::TruncFOp::create(b, et, value);
    memref::StoreOp::create(b, value, out, ValueRange{batch, h, s, col});
    if (hasLse && c0 == 0) {
      auto first = scf::IfOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, im.c(0)),
          false);
      b.setInsertionPointToStart(first.thenBlock());
      memref::StoreOp::create(b, naturalLse(seen, base, den), lseOut,
                              ValueRange{batch, h, s});
    }
  }
  gpu::ReturnOp::create(b);
}

MemRefType dense(Value v) {
  auto t = cast<MemRefType>(v.getType());
  return MemRefType::get(t.getShape(), t.getElementType());
}

} // namespace

LogicalResult gpu_lowering::lowerMergeStates(MergeStatesOp op) {
  auto sTy = op.getStates().getType();
  Value lse = op.getLse();
  if (!sTy.hasStaticShape() || !op.getOutput().getType().hasStaticShape() ||
      !op.getStateLse().getType().hasStaticShape() ||
      (lse && !cast<MemRefType>(lse.getType()).hasStaticShape()))
    return op.emitOpError("attn-gpu-flash needs static shapes for "
                          "merge_states (the runtime compiles one kernel per "
                          "shape)");
  Type et = sTy.getElementType();
  if (!et.isF32() && !et.isF16() && !et.isBF16())
    return op.emitOpError("attn-gpu-flash merges f32, f16 or bf16 states; "
                          "got ")
           << et;
  auto sh = sTy.getShape();
  int64_t n = sh[0], batch = sh[1], heads = sh[2], rows = sh[3], dv = sh[4];
  if (failed(checkGpuSizes(op, {n, batch, heads, rows, dv},
                           "states, batch, heads, rows, Dv")) ||
      failed(checkGrid(op, rows, heads, batch)))
    return failure();

  SmallVector<Value> buffers = {op.getStates(), op.getStateLse(),
                                op.getOutput()};
  if (lse)
    buffers.push_back(lse);
  SmallVector<Type> params;
  OpBuilder b(op);
  SmallVector<Value> args;
  for (Value v : buffers) {
    params.push_back(dense(v));
    args.push_back(asKernelBuffer(b, op, v, dense(v)));
  }
  Location loc = op.getLoc();
  auto module = op->getParentOfType<ModuleOp>();
  auto func = op->getParentOfType<func::FuncOp>();
  gpu::GPUModuleOp gm = getOrCreateGpuModule(module);
  OpBuilder kb(gm.getBodyRegion());
  kb.setInsertionPointToEnd(gm.getBody());
  gpu::GPUFuncOp kernel = createKernelFunc(
      kb, loc, uniqueName(gm, (func.getSymName() + "_merge").str()), params,
      kThreads);
  {
    ImplicitLocOpBuilder ib(loc, kb);
    GpuFlashGeometry unused; // the helpers used need no attention geometry
    MergeKernelEmitter(ib, unused, n, dv, et).emit(kernel, lse != nullptr);
  }
  auto idx = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  gpu::LaunchFuncOp::create(
      b, loc, kernel, gpu::KernelDim3{idx(rows), idx(heads), idx(batch)},
      gpu::KernelDim3{idx(kThreads), idx(1), idx(1)}, Value(), args);
  op.erase();
  return success();
}
