//===- MixedKernel.cpp - one launch over a mixed prefill + decode batch ---===//
//
// attn.cache_attention with packed queries (query_offsets) runs as one
// kernel of two block kinds (FlashInfer's POD attention runs two CTA kinds
// in one grid the same way): decode-sized sequences (G * n rows that fit
// the decode geometry's row tile, whose key warps split each KV tile) get
// one block each, prefill chunks row-parallel blocks of 64 or 128 rows.
//
// Work list: the grid is sized from the sizes alone (ceil(G * T / prefill
// rows) + B slots, an upper bound of the blocks any composition needs) and
// each block finds its item by one scan over query_offsets (O(B) loads,
// uniform across the block): prefill blocks are numbered from slot 0 up
// in sequence order, each sequence's last row block first (under causal it
// sees the most keys), decode blocks from the last slot down; slots in
// between have no item and exit. The hardware dispatches blocks roughly in
// index order, so the heavy prefill blocks start first and the decode
// blocks fill the tail. A host-side plan would need the offsets' values
// on the host before the launch (they may live on the device, and the
// launch plan evaluates expressions of sizes only).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

namespace {

/// The block's work item and which geometry serves it.
struct MixedItem {
  FlashKernelEmitter::PackedItem item;
  Value kind; ///< 0: none, 1: prefill block, 2: decode block (index)
};

class MixedSlotFinder : public KernelBuilder {
public:
  MixedSlotFinder(ImplicitLocOpBuilder &b, const GpuFlashGeometry &prefill,
                  const GpuFlashGeometry &decode)
      : KernelBuilder(b, prefill), decode(decode) {}

  /// Scans query_offsets (`offsets`, a rank-0 base pointer) of `batch`
  /// sequences for the item of this block's slot.
  MixedItem find(Value offsets, Value batch) {
    Value qo = denseView(b, offsets, {im.add(batch, im.c(1))});
    Value slot = gpu::BlockIdOp::create(b, gpu::Dimension::x);
    Value lastSlot = im.sub(gpu::GridDimOp::create(b, gpu::Dimension::x), 1);
    const int64_t G = g.group, prefillRows = g.blockRows(),
                  decodeRows = decode.blockRows();
    Value zero = im.c(0);
    Value first = i32ToIndex(memref::LoadOp::create(b, qo, zero));
    // Carried: the sequence's first row, prefill blocks and decode
    // sequences so far, then the item found (kind, sequence, row block,
    // queries, first row).
    SmallVector<Value> init = {first, zero, zero, zero, zero, zero, zero, zero};
    auto loop = scf::ForOp::create(b, zero, batch, im.c(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value s = loop.getInductionVar();
      auto c = loop.getRegionIterArgs();
      Value start = c[0], prefills = c[1], decodes = c[2];
      Value end = i32ToIndex(memref::LoadOp::create(b, qo, im.add(s, 1)));
      Value n = im.sub(end, start), rows = im.mul(n, G);
      Value isDecode = arith::AndIOp::create(b, im.lt(zero, n),
                                             im.le(rows, im.c(decodeRows)));
      Value isPrefill = im.lt(im.c(decodeRows), rows);
      Value blocks = select(isPrefill, im.ceilDiv(rows, prefillRows), zero);
      Value hitDecode = arith::AndIOp::create(
          b, isDecode, eq(slot, im.sub(lastSlot, decodes)));
      Value hitPrefill = arith::AndIOp::create(
          b, arith::AndIOp::create(b, isPrefill, im.le(prefills, slot)),
          im.lt(slot, im.add(prefills, blocks)));
      Value hit = arith::OrIOp::create(b, hitDecode, hitPrefill);
      // Last row block first.
      Value block = select(
          hitPrefill, im.sub(im.sub(im.add(prefills, blocks), 1), slot), zero);
      Value kind = select(hitDecode, im.c(2), im.c(1));
      scf::YieldOp::create(
          b, ValueRange{end, im.add(prefills, blocks),
                        im.add(decodes, select(isDecode, im.c(1), zero)),
                        select(hit, kind, c[3]), select(hit, s, c[4]),
                        select(hit, block, c[5]), select(hit, n, c[6]),
                        select(hit, start, c[7])});
    }
    MixedItem m;
    m.kind = loop.getResult(3);
    m.item = {loop.getResult(4), loop.getResult(5), loop.getResult(6),
              loop.getResult(7)};
    return m;
  }

private:
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y);
  }
  const GpuFlashGeometry &decode;
};

} // namespace

gpu::GPUFuncOp mlir::attn::emitMixedFlashKernel(OpBuilder &ob, Location loc,
                                                const GpuFlashGeometry &gp,
                                                const GpuFlashGeometry &gd,
                                                StringRef name) {
  assert(gp.packed && gd.packed && gp.threads() == gd.threads() &&
         gp.splits == 1 && gd.splits == 1 && !gp.runTimeSplits &&
         !gd.runTimeSplits && "one thread count, no splits");
  MLIRContext *ctx = ob.getContext();
  Type et = elemType(ctx, gp), i32 = ob.getI32Type();
  auto base = [](Type t) { return MemRefType::get({}, t); };
  SmallVector<Type> params = {base(et), base(et), base(et), base(i32),
                              base(i32)};
  if (gp.paged())
    params.push_back(base(i32));
  params.push_back(base(et));
  if (gp.hasLse)
    params.push_back(base(ob.getF32Type()));
  unsigned sizesAt = params.size();
  params.append(gp.numSizeParams(), ob.getIndexType());
  auto func = createKernelFunc(ob, loc, name, params, gp.threads());
  Block &entry = func.getBody().front();
  ImplicitLocOpBuilder b(loc, ob);
  b.setInsertionPointToStart(&entry);
  MixedItem m = MixedSlotFinder(b, gp, gd).find(entry.getArgument(4),
                                                entry.getArgument(sizesAt));
  IndexMath im{b};
  auto is = [&](int64_t kind) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, m.kind,
                                 im.c(kind));
  };
  auto prefill = scf::IfOp::create(b, is(1), /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(prefill.thenBlock());
    FlashKernelEmitter(b, gp).emitPacked(func, m.item);
    b.setInsertionPointToStart(prefill.elseBlock());
    auto decode = scf::IfOp::create(b, is(2), /*withElse=*/false);
    b.setInsertionPointToStart(decode.thenBlock());
    FlashKernelEmitter(b, gd).emitPacked(func, m.item);
  }
  gpu::ReturnOp::create(b);
  return func;
}
