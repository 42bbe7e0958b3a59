//===- AppendKernel.cpp - the KV-cache append kernel ----------------------===//
//
// attn.cache_append: one thread per 16-byte chunk of a new K/V row copies
// it (converting f32 input to the cache type) to its cache position, a
// contiguous [B, Hkv, Smax, D] cache or a page of a paged one reached
// through the block table. Grid (Snew, Hkv, B). With a rotary embedding
// the key chunk is built element by element, each rotated by the row's
// position (gpu/RopeKernel.cpp); rows whose position has no table row are
// not written (the runtime refuses such appends before the launch).
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashKernel.h"
#include "passes/gpu/KernelBuilder.h"
#include "passes/gpu/RopeRows.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

gpu::GPUFuncOp mlir::attn::emitAppendKernel(OpBuilder &kb, Location loc,
                                            const GpuAppendGeometry &a,
                                            TypeRange params, StringRef name) {
  const int64_t chunks = a.chunks(), pageSize = a.pageSize,
                numPages = a.numPages;
  const bool paged = a.paged, hnd = a.hnd;
  Type ct = cast<MemRefType>(params[2]).getElementType();
  auto kernel =
      gpu_kernels::createKernelFunc(kb, loc, name, params, a.threads());
  Block &entry = kernel.getBody().front();
  ImplicitLocOpBuilder b(loc, kb);
  b.setInsertionPointToStart(&entry);
  IndexMath im{b};
  unsigned argNo = 0;
  Value k = entry.getArgument(argNo++), v = entry.getArgument(argNo++);
  Value kc = entry.getArgument(argNo++), vc = entry.getArgument(argNo++);
  Value lens = entry.getArgument(argNo++);
  Value newLens = a.hasNewLengths ? entry.getArgument(argNo++) : Value();
  Value table = paged ? entry.getArgument(argNo++) : Value();
  Value cos, sin, maxPos;
  if (a.rotaryDim) {
    cos = entry.getArgument(argNo++);
    sin = entry.getArgument(argNo++);
    if (!a.dynamicMaxPos())
      maxPos = im.c(a.ropeTableShape[0]);
  }
  // A run-time page count (`?`, kDynamic) is read below instead.
  Value lastPage =
      ShapedType::isDynamic(numPages) ? Value() : im.c(numPages - 1);
  if (a.dynamic) {
    // Run-time sizes: views of the buffers passed as base pointers.
    Value B = entry.getArgument(argNo++), snew = entry.getArgument(argNo++);
    auto size = [&](int64_t d, Value v) -> OpFoldResult {
      return ShapedType::isDynamic(d) ? OpFoldResult(v) : b.getIndexAttr(d);
    };
    auto view = [&](Value &mem, ArrayRef<OpFoldResult> sizes) {
      if (cast<MemRefType>(mem.getType()).getRank() == 0)
        mem = gpu_kernels::denseView(b, mem, sizes);
    };
    ArrayRef<int64_t> rs = a.rowShape, cs = a.cacheShape;
    SmallVector<OpFoldResult> rows = {size(rs[0], B), b.getIndexAttr(rs[1]),
                                      size(rs[2], snew), b.getIndexAttr(rs[3])};
    view(k, rows);
    view(v, rows);
    view(lens, {size(rs[0], B)});
    if (newLens)
      view(newLens, {size(rs[0], B)});
    SmallVector<OpFoldResult> cache;
    if (paged) {
      Value pages = entry.getArgument(argNo++);
      Value width = entry.getArgument(argNo++);
      view(table, {size(rs[0], B), size(a.tableShape[1], width)});
      cache = {size(cs[0], pages), b.getIndexAttr(cs[1]), b.getIndexAttr(cs[2]),
               b.getIndexAttr(cs[3])};
      if (ShapedType::isDynamic(cs[0]))
        lastPage = im.sub(pages, 1);
    } else {
      Value smax = entry.getArgument(argNo++);
      cache = {size(cs[0], B), b.getIndexAttr(cs[1]), size(cs[2], smax),
               b.getIndexAttr(cs[3])};
    }
    view(kc, cache);
    view(vc, cache);
    if (a.rotaryDim) {
      if (a.dynamicMaxPos())
        maxPos = entry.getArgument(argNo++);
      SmallVector<OpFoldResult> t = {size(a.ropeTableShape[0], maxPos),
                                     b.getIndexAttr(a.ropeTableShape[1])};
      view(cos, t);
      view(sin, t);
    }
  }
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value row = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value head = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  auto load = [&](Value mem, Value i) {
    return arith::IndexCastOp::create(b, b.getIndexType(),
                                      memref::LoadOp::create(b, mem, i));
  };
  Value valid = im.lt(tid, im.c(chunks));
  if (newLens)
    valid = arith::AndIOp::create(b, valid, im.lt(row, load(newLens, batch)));
  if (cos) // never an unrotated key
    valid = arith::AndIOp::create(
        b, valid, im.lt(im.add(load(lens, batch), row), maxPos));
  auto ifValid = scf::IfOp::create(b, valid, false);
  b.setInsertionPointToStart(ifValid.thenBlock());
  Value pos = im.add(load(lens, batch), row);
  Value col = im.mul(tid, 8);
  SmallVector<Value> dst;
  if (!paged) {
    dst = {batch, head, pos, col};
  } else {
    Value page = memref::LoadOp::create(
        b, table, ValueRange{batch, im.div(pos, pageSize)});
    Value p = im.max(
        im.min(arith::IndexCastOp::create(b, b.getIndexType(), page), lastPage),
        im.c(0));
    Value slot = im.rem(pos, pageSize);
    dst = hnd ? SmallVector<Value>{p, head, slot, col}
              : SmallVector<Value>{p, slot, head, col};
  }
  SmallVector<Value> src = {batch, head, row, col};
  for (auto [from, to] : {std::pair{k, kc}, std::pair{v, vc}}) {
    Type inT = cast<MemRefType>(from.getType()).getElementType();
    if (cos && from == k) {
      SmallVector<Value> y;
      for (int64_t j = 0; j < 8; ++j)
        y.push_back(ropeElement(
            b, a.ropeForm, a.rotaryDim, cos, sin, pos, im.add(col, j),
            [&](Value c) { return loadF32(b, k, {batch, head, row, c}); }));
      Value x = vector::FromElementsOp::create(
          b, VectorType::get({8}, b.getF32Type()), y);
      if (!ct.isF32())
        x = arith::TruncFOp::create(b, VectorType::get({8}, ct), x);
      vector::StoreOp::create(b, x, to, dst);
      continue;
    }
    Value x = vector::LoadOp::create(b, VectorType::get({8}, inT), from, src);
    if (inT != ct)
      x = arith::TruncFOp::create(b, VectorType::get({8}, ct), x);
    vector::StoreOp::create(b, x, to, dst);
  }
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b);
  return kernel;
}
