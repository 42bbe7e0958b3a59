//===- RopeKernel.cpp - rotary embedding in the GPU kernels ---------------===//
//
// The element-wise rotation the append kernel applies to the keys it
// writes, and the kernel that rotates the queries of attn.cache_attention
// into a scratch buffer the flash kernel then reads as its Q (so the flash
// kernel, in each of its forms, is the one without RoPE). One block per
// row, one thread per element; the arithmetic is common/Rope.h's in f32.
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashKernel.h"
#include "passes/gpu/KernelBuilder.h"
#include "passes/gpu/RopeRows.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

namespace {

/// common/Rope.h's Math on f32 scalars.
struct F32Math {
  using V = Value;
  ImplicitLocOpBuilder &b;
  V mul(V x, V y) const { return arith::MulFOp::create(b, x, y); }
  V add(V x, V y) const { return arith::AddFOp::create(b, x, y); }
  V sub(V x, V y) const { return arith::SubFOp::create(b, x, y); }
};

Value select(ImplicitLocOpBuilder &b, Value c, Value x, Value y) {
  return arith::SelectOp::create(b, c, x, y);
}

} // namespace

Value gpu_kernels::loadF32(ImplicitLocOpBuilder &b, Value mem, ValueRange idx) {
  Value x = memref::LoadOp::create(b, mem, idx);
  if (!x.getType().isF32())
    x = arith::ExtFOp::create(b, b.getF32Type(), x);
  return x;
}

Value gpu_kernels::ropeElement(ImplicitLocOpBuilder &b, rope::Form form,
                               int64_t rotaryDim, Value cos, Value sin,
                               Value pos, Value d,
                               function_ref<Value(Value col)> x) {
  IndexMath im{b};
  const int64_t half = rotaryDim / 2;
  // pairDims(form, r, i) = (a, b): d is a (first) or b of pair i.
  Value first, pair, partner;
  if (form == rope::Form::Interleaved) {
    first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, im.rem(d, 2),
                                  im.c(0));
    pair = im.div(d, 2);
    partner = arith::XOrIOp::create(b, d, im.c(1));
  } else {
    first = im.lt(d, im.c(half));
    Value back = im.sub(d, half);
    pair = select(b, first, d, back);
    partner = select(b, first, im.add(d, half), back);
  }
  // Dims past the rotary dim read themselves and table column 0 (in
  // bounds), then pass through.
  Value rotated = im.lt(d, im.c(rotaryDim));
  pair = select(b, rotated, pair, im.c(0));
  partner = select(b, rotated, partner, d);
  Value xd = x(d), xp = x(partner);
  Value c = loadF32(b, cos, {pos, pair}), s = loadF32(b, sin, {pos, pair});
  auto [y0, y1] = rope::rotatePair(F32Math{b}, select(b, first, xd, xp),
                                   select(b, first, xp, xd), c, s);
  return select(b, rotated, select(b, first, y0, y1), xd);
}

gpu::GPUFuncOp mlir::attn::emitRopeQueryKernel(OpBuilder &kb, Location loc,
                                               const GpuRopeQueryGeometry &g,
                                               TypeRange params,
                                               StringRef name) {
  auto kernel = createKernelFunc(kb, loc, name, params, g.threads());
  Block &entry = kernel.getBody().front();
  ImplicitLocOpBuilder b(loc, kb);
  b.setInsertionPointToStart(&entry);
  IndexMath im{b};
  Value q = entry.getArgument(0), lens = entry.getArgument(1);
  Value cos = entry.getArgument(2), sin = entry.getArgument(3);
  Value out = entry.getArgument(4);
  ArrayRef<int64_t> qs = g.queryShape;
  Value sq = im.c(qs[2]), maxPos = im.c(g.tableShape[0]);
  if (g.dynamic) {
    Value batch = entry.getArgument(5);
    sq = entry.getArgument(6);
    maxPos = entry.getArgument(7);
    auto size = [&](int64_t d, Value v) -> OpFoldResult {
      return ShapedType::isDynamic(d) ? OpFoldResult(v) : b.getIndexAttr(d);
    };
    auto view = [&](Value &mem, ArrayRef<OpFoldResult> sizes) {
      if (cast<MemRefType>(mem.getType()).getRank() == 0)
        mem = denseView(b, mem, sizes);
    };
    SmallVector<OpFoldResult> rows = {size(qs[0], batch), b.getIndexAttr(qs[1]),
                                      size(qs[2], sq), b.getIndexAttr(qs[3])};
    view(q, rows);
    view(out, rows);
    view(lens, {size(qs[0], batch)});
    SmallVector<OpFoldResult> table = {size(g.tableShape[0], maxPos),
                                       b.getIndexAttr(g.tableShape[1])};
    view(cos, table);
    view(sin, table);
  }
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value s = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value head = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  auto ifIn = scf::IfOp::create(b, im.lt(tid, im.c(g.headDim)), false);
  b.setInsertionPointToStart(ifIn.thenBlock());
  Value len = arith::IndexCastOp::create(
      b, b.getIndexType(), memref::LoadOp::create(b, lens, batch));
  // rope::queryPosition, clamped into the tables.
  Value pos = im.sub(im.add(len, s), sq);
  pos = im.max(im.min(pos, im.sub(maxPos, 1)), im.c(0));
  Value y =
      ropeElement(b, g.form, g.rotaryDim, cos, sin, pos, tid, [&](Value col) {
        return loadF32(b, q, {batch, head, s, col});
      });
  Type et = cast<MemRefType>(out.getType()).getElementType();
  if (!et.isF32())
    y = arith::TruncFOp::create(b, et, y);
  memref::StoreOp::create(b, y, out, ValueRange{batch, head, s, tid});
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b);
  return kernel;
}
