//===- BackwardRows.cpp - the backward's per-row kernels and geometry -----===//
//
// The two kernels around the main backward kernel, a warp per (batch,
// head, query) row: before it, D = rowsum(dO ∘ O) in f32 and the row of
// the dQ accumulator zeroed (so no memset launch is needed); after it, dQ
// = scale · accumulator rounded to the element type. Both are memory
// bound and a few percent of the backward's time.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/BackwardKernel.h"
#include "passes/gpu/KernelBuilder.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

LogicalResult mlir::attn::chooseGpuBackwardGeometry(GpuBackwardGeometry &g,
                                                    int64_t tileKeys,
                                                    int64_t tileRows,
                                                    std::string &why) {
  if (g.headDim % 16 != 0 || g.headDim > 128) {
    why = "the backward takes head dims that are multiples of 16 up to 128 "
          "(got " +
          std::to_string(g.headDim) + ")";
    return failure();
  }
  if (g.vDim() != g.headDim) {
    why = "the backward needs the head dim of V equal to that of Q and K "
          "(dv = " +
          std::to_string(g.vDim()) + ", d = " + std::to_string(g.headDim) + ")";
    return failure();
  }
  if (tileRows != 0 && tileRows != 16 && tileRows != 32 && tileRows != 64) {
    why =
        "tile-rows must be 16, 32 or 64 (got " + std::to_string(tileRows) + ")";
    return failure();
  }
  if (tileKeys != 0 && tileKeys != 64 && tileKeys != 128) {
    why = "tile-keys must be 64 or 128 (got " + std::to_string(tileKeys) + ")";
    return failure();
  }
  // 16 keys per warp: the M of the mma tiles indexed by key.
  g.tileKv = tileKeys ? tileKeys : 64;
  g.rowWarps = g.tileKv / 16;
  g.keyWarps = 1;
  g.warpRowTiles = 1;
  g.stages = 2;
  // Registers: dK and dV take d / 2 each per thread; Sᵀ and dPᵀ take
  // tileRows / 4 each. Up to d = 64 a 64-row tile fits; above, 32 rows.
  g.tileRows = tileRows ? tileRows : (g.headDim <= 64 ? 64 : 32);
  g.dqCols = std::min<int64_t>(64, g.headDim);
  // dQ: the warps split a tile's 16-row m tiles and then its columns, in
  // whole 8-column n tiles.
  int64_t split = g.warps() / (g.tileRows / 16);
  if (g.headDim % (8 * split) != 0) {
    why = "tile-rows " + std::to_string(g.tileRows) + " with " +
          std::to_string(g.tileKv) + " keys per block leaves dQ columns of " +
          "head dim " + std::to_string(g.headDim) +
          " that do not split into whole 8-column tiles over " +
          std::to_string(split) + " warps";
    return failure();
  }
  return success();
}

MemRefType mlir::attn::gpuRowStatsType(MLIRContext *ctx,
                                       const GpuBackwardGeometry &g) {
  return MemRefType::get({g.batch, g.heads, g.qLen}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuDqAccumType(MLIRContext *ctx,
                                      const GpuBackwardGeometry &g) {
  return MemRefType::get({g.batch, g.heads, g.qLen, g.headDim},
                         Float32Type::get(ctx));
}

namespace {

/// A warp per (batch, head, query) row: blockIdx (x: 4 queries, y: head,
/// z: batch), warp w takes query 4x + w.
class RowKernelEmitter : public KernelBuilder {
public:
  RowKernelEmitter(ImplicitLocOpBuilder &b, const GpuBackwardGeometry &g)
      : KernelBuilder(b, g), bg(g) {}

  void emitPre(gpu::GPUFuncOp func) {
    Block &entry = func.getBody().front();
    b.setInsertionPointToStart(&entry);
    Value out = entry.getArgument(0), dOut = entry.getArgument(1),
          dsum = entry.getArgument(2), acc = entry.getArgument(3);
    forRow([&](Value bIdx, Value h, Value s) {
      Value sum = cf(0);
      for (int64_t c = 0; c < columnSteps(); ++c)
        sum = perColumn(c, sum, [&](Value col, Value partial) {
          memref::StoreOp::create(b, cf(0), acc, ValueRange{bIdx, h, s, col});
          return fadd(partial, fmul(loadF32(out, at(bIdx, h, s, col)),
                                    loadF32(dOut, at(bIdx, h, s, col))));
        });
      for (int32_t off : {16, 8, 4, 2, 1})
        sum = fadd(sum, shuffleXor(sum, off));
      auto lead = scf::IfOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, im.c(0)),
          false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(lead.thenBlock());
      memref::StoreOp::create(b, sum, dsum, ValueRange{bIdx, h, s});
    });
    gpu::ReturnOp::create(b);
  }

  void emitDq(gpu::GPUFuncOp func) {
    Block &entry = func.getBody().front();
    b.setInsertionPointToStart(&entry);
    Value acc = entry.getArgument(0), dq = entry.getArgument(1);
    Type et = elemType(b.getContext(), g);
    forRow([&](Value bIdx, Value h, Value s) {
      for (int64_t c = 0; c < columnSteps(); ++c)
        perColumn(c, cf(0), [&](Value col, Value unused) {
          Value x = memref::LoadOp::create(b, acc, ValueRange{bIdx, h, s, col});
          memref::StoreOp::create(
              b, arith::TruncFOp::create(b, et, fmul(x, cf(g.scale))), dq,
              at(bIdx, h, s, col));
          return unused;
        });
    });
    gpu::ReturnOp::create(b);
  }

private:
  int64_t columnSteps() const { return (g.headDim + 31) / 32; }

  /// `body(batch, head, query)` for this warp's row, when it exists.
  void forRow(function_ref<void(Value, Value, Value)> body) {
    Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
    lane = im.rem(tid, 32);
    Value s = im.add(im.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), 4),
                     im.div(tid, 32));
    Value h = gpu::BlockIdOp::create(b, gpu::Dimension::y);
    Value bIdx = gpu::BlockIdOp::create(b, gpu::Dimension::z);
    auto inRange = scf::IfOp::create(b, im.lt(s, im.c(bg.qLen)), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inRange.thenBlock());
    body(bIdx, h, s);
  }

  /// Column lane + 32 c of the row: `body(col, value)` when it is inside
  /// the head dim, else `value`.
  Value perColumn(int64_t c, Value value,
                  function_ref<Value(Value, Value)> body) {
    Value col = im.add(lane, im.c(32 * c));
    if (32 * (c + 1) <= g.headDim)
      return body(col, value);
    auto inside = scf::IfOp::create(b, TypeRange{b.getF32Type()},
                                    im.lt(col, im.c(g.headDim)), true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inside.thenBlock());
    scf::YieldOp::create(b, body(col, value));
    b.setInsertionPointToStart(inside.elseBlock());
    scf::YieldOp::create(b, value);
    return inside.getResult(0);
  }

  Value loadF32(Value mem, ArrayRef<Value> idx) {
    Value x = memref::LoadOp::create(b, mem, idx);
    return arith::ExtFOp::create(b, b.getF32Type(), x);
  }

  const GpuBackwardGeometry &bg;
  Value lane;
};

gpu::GPUFuncOp rowKernel(OpBuilder &ob, Location loc,
                         const GpuBackwardGeometry &g, StringRef name,
                         bool pre) {
  MLIRContext *ctx = ob.getContext();
  SmallVector<Type> params;
  if (pre)
    params = {gpuOutputType(ctx, g), gpuOutputType(ctx, g),
              gpuRowStatsType(ctx, g), gpuDqAccumType(ctx, g)};
  else
    params = {gpuDqAccumType(ctx, g), gpuQueryType(ctx, g)};
  auto func = createKernelFunc(ob, loc, name, params, 128);
  ImplicitLocOpBuilder b(loc, ob);
  RowKernelEmitter e(b, g);
  if (pre)
    e.emitPre(func);
  else
    e.emitDq(func);
  return func;
}

} // namespace

gpu::GPUFuncOp mlir::attn::emitBackwardPreKernel(OpBuilder &b, Location loc,
                                                 const GpuBackwardGeometry &g,
                                                 StringRef name) {
  return rowKernel(b, loc, g, name, /*pre=*/true);
}

gpu::GPUFuncOp mlir::attn::emitBackwardDqKernel(OpBuilder &b, Location loc,
                                                const GpuBackwardGeometry &g,
                                                StringRef name) {
  return rowKernel(b, loc, g, name, /*pre=*/false);
}
