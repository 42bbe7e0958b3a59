//===- GpuMixed.cpp - mixed prefill + decode batches on the GPU -----------===//
//
// attn.cache_attention with packed queries (query_offsets [B + 1]) becomes
// one launch of the mixed kernel (gpu/MixedKernel.cpp): a prefill geometry
// (row-parallel blocks, chosen as for a long chunk) and a decode geometry
// (chosen as for one query per sequence: key warps split each KV tile) in
// one kernel of one thread count, grid (ceil(G * T / prefill rows) + B,
// Hkv, 1). The kernel always takes run-time sizes (batch, T, capacity,
// pages; the static ones fold to constants on the host), so one compiled
// kernel serves every composition. What the verifier checks between static
// dims becomes cf.assert ops per call; the offsets' values (ascending,
// ending at T, at most the cache length per sequence) are the caller's to
// check (KvStepper::mixedStep does, before anything runs): the kernel
// clamps nothing by them.
//
// No KV splits: the decode blocks of a mixed batch share the grid with the
// prefill blocks, which fill the SMs (docs/gpu-lowering.md).
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashLowering.h"
#include "passes/GpuRunTimeChecks.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_lowering;

namespace {

/// The row tiles are chosen for chunks of this many queries (as for
/// cache_attention of a run-time Sq).
constexpr int64_t kChunkLen = 4096;

/// The decode and prefill geometries of `g` (filled from the op); fails
/// with `why`.
LogicalResult chooseMixedGeometries(const GpuFlashGeometry &g,
                                    const GpuFlashOverrides &overrides,
                                    int64_t numSms, GpuFlashGeometry &prefill,
                                    GpuFlashGeometry &decode,
                                    std::string &why) {
  prefill = g;
  prefill.qLen = kChunkLen;
  if (failed(chooseGpuFlashGeometry(prefill, overrides, numSms, why)))
    return failure();
  GpuFlashOverrides p = overrides;
  if (prefill.warpRowTiles == 2 && overrides.tileKv == 0) {
    // Two m tiles per warp fill the 255 registers with 64-key tiles; the
    // work item the scan found (sequence, row block, queries, first row)
    // stays live beside them and ptxas spilled 16-32 bytes (sm_90 d = 72,
    // sm_90a d = 128). 32-key tiles keep every value in registers.
    p.tileKv = 32;
    prefill = g;
    prefill.qLen = kChunkLen;
    if (failed(chooseGpuFlashGeometry(prefill, p, numSms, why)))
      return failure();
  }
  // Decode: one query per sequence; tile overrides are the prefill's.
  decode = g;
  decode.qLen = 1;
  GpuFlashOverrides d;
  d.keyWarps = overrides.keyWarps;
  d.stages = overrides.stages;
  if (failed(chooseGpuFlashGeometry(decode, d, numSms, why)))
    return failure();
  if (decode.sharedBytes() > prefill.sharedBytes() && decode.tileKv > 64) {
    // The launch reserves the larger of the two kinds' shared memory for
    // every block: 128-key decode tiles (136 KiB at d = 128) would leave
    // room for one prefill block per SM instead of two.
    d.tileKv = 64;
    decode = g;
    decode.qLen = 1;
    if (failed(chooseGpuFlashGeometry(decode, d, numSms, why)))
      return failure();
  }
  if (prefill.threads() == decode.threads())
    return success();
  // Two-warpgroup wgmma blocks (head dims above 128): mma.sync prefill
  // blocks, so that both kinds run one thread count.
  p.mma = GpuMmaKind::Sync;
  prefill = g;
  prefill.qLen = kChunkLen;
  return chooseGpuFlashGeometry(prefill, p, numSms, why);
}

/// `arg` as its identity-layout type (GPU buffers are dense), then its base
/// pointer (the kernel takes every buffer as one).
Value basePointer(OpBuilder &b, Operation *op, Value arg) {
  auto t = cast<MemRefType>(arg.getType());
  Value dense = asKernelBuffer(
      b, op, arg, MemRefType::get(t.getShape(), t.getElementType()));
  return memref::ReinterpretCastOp::create(
      b, op->getLoc(), MemRefType::get({}, t.getElementType()), dense,
      b.getIndexAttr(0), ArrayRef<OpFoldResult>{}, ArrayRef<OpFoldResult>{});
}

} // namespace

LogicalResult gpu_lowering::lowerMixedCacheAttention(
    CacheAttentionOp op, const GpuFlashOverrides &overrides, int64_t numSms) {
  auto qs = cast<MemRefType>(op.getQuery().getType()).getShape();
  GpuFlashGeometry g;
  g.heads = qs[1];
  g.headDim = qs[2];
  g.packed = true;
  fillCacheGeometry(op, g);
  // Every size is a run-time one: the tiles are chosen for a long chunk
  // and a 4096-key capacity.
  g.dynBatch = g.dynQLen = g.dynKvLen = true;
  g.dynPages = g.paged();
  g.batch = 1;
  g.numPages = 1;
  g.pagesPerSeq = g.paged() ? (kChunkLen + g.pageSize - 1) / g.pageSize : 0;
  g.kvLen = g.paged() ? g.pagesPerSeq * g.pageSize : kChunkLen;
  if (failed(checkGpuSizes(op, {g.heads, g.kvHeads, g.headDim},
                           "query heads, K/V heads, head dim")))
    return failure();
  if (overrides.kvSplits > 1)
    return op.emitOpError("attn-gpu-flash: mixed batches run unsplit (the "
                          "prefill blocks fill the SMs); got kv-splits ")
           << overrides.kvSplits;
  std::string why;
  GpuFlashGeometry prefill, decode;
  if (failed(checkGpuFlashSupport(g, why)) ||
      failed(chooseMixedGeometries(g, overrides, numSms, prefill, decode, why)))
    return op.emitOpError("attn-gpu-flash (mixed batch): ") << why;
  if (failed(checkGrid(op, 1, g.kvHeads, 1)))
    return failure();

  OpBuilder b(op);
  Location loc = op.getLoc();
  Value bt = op.getBlockTable(), lse = op.getLse();
  SmallVector<Value> buffers = {op.getQuery(), op.getKeyCache(),
                                op.getValueCache(), op.getCacheLengths(),
                                op.getQueryOffsets()};
  if (bt)
    buffers.push_back(bt);
  buffers.push_back(op.getOutput());
  if (lse)
    buffers.push_back(lse);
  ImplicitLocOpBuilder ib(loc, b);
  RunTimeChecks rc{ib};
  IndexMath hm{ib};
  Value q = op.getQuery(), out = op.getOutput(), offsets = op.getQueryOffsets();
  Value tokens = rc.dim(q, 0), batch = hm.sub(rc.dim(offsets, 0), 1);
  rc.equal(rc.dim(out, 0), tokens, "the output has the query's T rows");
  if (lse)
    rc.equal(rc.dim(lse, 0), tokens, "the lse has the query's T rows");
  rc.equal(rc.dim(op.getCacheLengths(), 0), batch,
           "query_offsets holds one offset more than there are cache lengths");
  RunTimeChecks::CacheSizes cs =
      rc.cache(op.getKeyCache(), op.getValueCache(), bt, g.pageSize, batch,
               hm.c(1), "the cache holds a row per sequence");
  SmallVector<Value> args;
  for (Value v : buffers)
    args.push_back(basePointer(b, op, v));
  args.append({batch, tokens, cs.capacity});
  args.append(cs.paged);

  auto module = op->getParentOfType<ModuleOp>();
  auto func = op->getParentOfType<func::FuncOp>();
  gpu::GPUModuleOp gm = getOrCreateGpuModule(module);
  OpBuilder kb(gm.getBodyRegion());
  kb.setInsertionPointToEnd(gm.getBody());
  gpu::GPUFuncOp kernel = emitMixedFlashKernel(
      kb, loc, prefill, decode,
      uniqueName(gm, (func.getSymName() + "_mixed").str()));
  // Slots: every prefill block (at most ceil(G * T / rows) + B) and every
  // decode sequence fit, as the two kinds count from opposite ends.
  Value slots = hm.add(
      hm.ceilDiv(hm.mul(tokens, g.group), hm.c(prefill.blockRows())), batch);
  Value smem = arith::ConstantIntOp::create(
      b, loc, b.getI32Type(),
      std::max(prefill.sharedBytes(), decode.sharedBytes()));
  gpu::LaunchFuncOp::create(
      b, loc, kernel, gpu::KernelDim3{slots, hm.c(g.kvHeads), hm.c(1)},
      gpu::KernelDim3{hm.c(prefill.threads()), hm.c(1), hm.c(1)}, smem, args);
  op.erase();
  return success();
}
