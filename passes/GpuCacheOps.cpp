//===- GpuCacheOps.cpp - attn.cache_* -> GPU kernels and launches ---------===//
//
// attn.cache_attention runs the flash kernel with K/V rows addressed
// through the cache (contiguous [B, Hkv, Smax, D] or pages through a block
// table) and end-aligned queries; attn.cache_append the append kernel
// (gpu/AppendKernel.cpp). Batch, the query or chunk length, the cache
// capacity (Smax or the block-table width) and the page count may be
// run-time sizes (`?`): the kernels then take their buffers as base
// pointers plus index size parameters, the host code computes the grid
// from memref.dim of the buffers, and what the verifier checks for static
// shapes becomes cf.assert ops on those dims that the runtime evaluates
// per call before anything is launched (GpuRunTimeSizes.cpp).
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashLowering.h"
#include "passes/GpuRunTimeChecks.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_lowering;

namespace {

/// Tiles of run-time lengths are chosen for this many keys or queries (a
/// long prefill), as for attn.attention.
constexpr int64_t kRunTimeLen = 4096;

bool isDyn(Value v, unsigned dim) {
  return v && cast<MemRefType>(v.getType()).isDynamicDim(dim);
}

} // namespace

void gpu_lowering::fillCacheGeometry(CacheAttentionOp op, GpuFlashGeometry &g) {
  auto kTy = cast<MemRefType>(op.getKeyCache().getType());
  auto ks = kTy.getShape();
  auto vs = cast<MemRefType>(op.getValueCache().getType()).getShape();
  Value bt = op.getBlockTable(), kc = op.getKeyCache(), vc = op.getValueCache();
  bool hnd = op.getPageLayoutOrDefault() == PageLayout::HND;
  g.valueDim = vs[3];
  g.bf16 = kTy.getElementType().isBF16();
  g.hasKvLengths = true;
  g.hasLse = static_cast<bool>(op.getLse());
  g.hasSinks = static_cast<bool>(op.getSinks());
  g.endAlignedQueries = true;
  if (bt) {
    g.kvForm = hnd ? GpuKvForm::PagedHND : GpuKvForm::PagedNHD;
    g.dynKvLen = isDyn(bt, 1);
    g.dynPages = isDyn(kc, 0) || isDyn(vc, 0);
    g.numPages = g.dynPages ? 1 : ks[0];
    g.pageSize = hnd ? ks[2] : ks[1];
    g.kvHeads = hnd ? ks[1] : ks[2];
    g.pagesPerSeq = g.dynKvLen ? (kRunTimeLen + g.pageSize - 1) / g.pageSize
                               : cast<MemRefType>(bt.getType()).getShape()[1];
    g.kvLen = g.pagesPerSeq * g.pageSize;
  } else {
    g.kvForm = GpuKvForm::Contiguous;
    g.dynKvLen = isDyn(kc, 2) || isDyn(vc, 2);
    g.kvHeads = ks[1];
    g.kvLen = g.dynKvLen ? kRunTimeLen : ks[2];
  }
  g.group = g.heads / std::max<int64_t>(g.kvHeads, 1);
  if (auto m = op.getMaskAttr())
    g.mask = m.getSpec();
  g.scale = op.getScaleOrDefault();
  if (auto cap = op.getSoftcapAttr())
    g.softcap = cap.getValueAsDouble();
}

/// attn.cache_attention over a contiguous or paged cache: the same kernel,
/// K/V rows addressed through the cache layout, queries end-aligned.
LogicalResult gpu_lowering::lowerCacheAttention(
    CacheAttentionOp op, const GpuFlashOverrides &overrides, int64_t numSms) {
  auto unsupported = [&](StringRef what) {
    return op.emitOpError("attn-gpu-flash does not support ")
           << what << " yet (the CPU pipeline attn-to-cpu does)";
  };
  // The mixed kernel takes neither yet; the 4-D kernels take both.
  if (op.isPacked() && op.getSinks())
    return unsupported("attention sinks in mixed batches (packed queries)");
  if (op.isPacked() && op.getRope())
    return unsupported("the rotary embedding of packed queries");
  if (failed(checkGpuSinks(op, op.getSinks())))
    return failure();
  auto qTy = cast<MemRefType>(op.getQuery().getType());
  auto kTy = cast<MemRefType>(op.getKeyCache().getType());
  Type et = qTy.getElementType();
  if ((!et.isBF16() && !et.isF16()) || kTy.getElementType() != et)
    return op.emitOpError("attn-gpu-flash runs f16 and bf16 on tensor "
                          "cores, with the cache in the query's type; got ")
           << et << " queries and a " << kTy.getElementType() << " cache";
  Value bt = op.getBlockTable();
  bool hnd = op.getPageLayoutOrDefault() == PageLayout::HND;
  auto qs = qTy.getShape(), ks = kTy.getShape();
  auto vs = cast<MemRefType>(op.getValueCache().getType()).getShape();
  // Heads, head dims and the page size shape the kernel.
  unsigned headDim = bt && !hnd ? 2 : 1;
  SmallVector<int64_t> fixed = {qs[1], qs.back(),   ks[headDim],
                                ks[3], vs[headDim], vs[3]};
  if (bt)
    fixed.append({ks[hnd ? 2 : 1], vs[hnd ? 2 : 1]});
  if (failed(requireStaticDims(op, fixed, "heads, head dims and page size")))
    return failure();
  if (op.isPacked())
    return lowerMixedCacheAttention(op, overrides, numSms);

  GpuFlashGeometry g;
  Value q = op.getQuery(), out = op.getOutput(), lse = op.getLse();
  Value kc = op.getKeyCache(), vc = op.getValueCache();
  Value lengths = op.getCacheLengths();
  g.dynBatch = isDyn(q, 0) || isDyn(out, 0) || isDyn(lse, 0) ||
               isDyn(lengths, 0) || isDyn(bt, 0) ||
               (!bt && (isDyn(kc, 0) || isDyn(vc, 0)));
  g.dynQLen = isDyn(q, 2) || isDyn(out, 2) || isDyn(lse, 2);
  g.batch = g.dynBatch ? 1 : qs[0];
  g.heads = qs[1];
  g.qLen = g.dynQLen ? kRunTimeLen : qs[2];
  g.headDim = qs[3];
  fillCacheGeometry(op, g);
  if (failed(checkGpuSizes(
          op, {g.batch, g.heads, g.qLen, g.kvHeads, g.kvLen, ks[0]},
          "batch, query heads, Sq, K/V heads, cache capacity, pages")))
    return failure();
  std::string why;
  if (failed(checkGpuFlashSupport(g, why)) ||
      failed(chooseGpuFlashGeometry(g, overrides, numSms, why)))
    return op.emitOpError("attn-gpu-flash: ") << why;
  if (failed(checkGrid(op, g.rowBlocks() * g.splits, g.kvHeads, g.batch)) ||
      (op.getRope() && failed(checkGrid(op, g.qLen, g.heads, g.batch))))
    return failure();

  OpBuilder b(op);
  MLIRContext *ctx = op.getContext();
  SmallVector<Value> inputs = {
      asKernelBuffer(b, op, q, gpuQueryType(ctx, g)),
      asKernelBuffer(b, op, kc, gpuKvType(ctx, g)),
      asKernelBuffer(b, op, vc, gpuValueType(ctx, g)),
      asKernelBuffer(b, op, lengths, gpuLengthsType(ctx, g))};
  if (g.paged())
    inputs.push_back(asKernelBuffer(b, op, bt, gpuBlockTableType(ctx, g)));
  if (g.hasSinks)
    inputs.push_back(
        asKernelBuffer(b, op, op.getSinks(), gpuSinksType(ctx, g)));
  Value lseBuf = lse ? asKernelBuffer(b, op, lse, gpuLseType(ctx, g)) : Value();
  Value outBuf = asKernelBuffer(b, op, out, gpuOutputType(ctx, g));
  SmallVector<Value> sizes;
  if (g.dynamicSizes()) {
    ImplicitLocOpBuilder ib(op.getLoc(), b);
    RunTimeChecks rc{ib};
    Value qb = inputs[0], kb = inputs[1], vb = inputs[2];
    Value batch = rc.dim(qb, 0), sq = rc.dim(qb, 2);
    // What the verifier checks between static dims, per call.
    rc.equal(rc.dim(outBuf, 0), batch, "the output's batch is the query's");
    rc.equal(rc.dim(outBuf, 2), sq, "the output's Sq is the query's");
    if (lseBuf) {
      rc.equal(rc.dim(lseBuf, 0), batch, "the lse's batch is the query's");
      rc.equal(rc.dim(lseBuf, 2), sq, "the lse's Sq is the query's");
    }
    rc.equal(rc.dim(inputs[3], 0), batch,
             "one cache length per sequence of the batch");
    // The queries are the last Sq positions of sequences of at most the
    // capacity.
    RunTimeChecks::CacheSizes cs =
        rc.cache(kb, vb, g.paged() ? inputs[4] : Value(), g.pageSize, batch, sq,
                 "the queries fit the cache (Sq <= its capacity)");
    sizes = {batch, sq, cs.capacity};
    sizes.append(cs.paged);
  }
  if (op.getRope()) // the flash kernel reads the rotated queries
    inputs[0] = emitQueryRotation(b, op, inputs[0], inputs[3]);
  emitLaunches(b, op, g, inputs, outBuf, lseBuf, sizes, numSms);
  op.erase();
  return success();
}

/// attn.cache_append: the append kernel (gpu/AppendKernel.cpp) over grid
/// (Snew, Hkv, B).
LogicalResult gpu_lowering::lowerCacheAppend(CacheAppendOp op) {
  auto kTy = cast<MemRefType>(op.getKey().getType());
  auto vTy = cast<MemRefType>(op.getValue().getType());
  auto kcTy = cast<MemRefType>(op.getKeyCache().getType());
  auto vcTy = cast<MemRefType>(op.getValueCache().getType());
  Type ct = kcTy.getElementType();
  if (vcTy.getElementType() != ct ||
      (kTy.getElementType() != ct && !kTy.getElementType().isF32()) ||
      vTy.getElementType() != kTy.getElementType())
    return op.emitOpError("attn-gpu-flash appends rows of the cache's type "
                          "or f32 (converted); got ")
           << kTy.getElementType() << " rows for a " << ct << " cache";
  Value bt = op.getBlockTable();
  bool paged = static_cast<bool>(bt),
       hnd = op.getPageLayout() == PageLayout::HND;
  unsigned headDim = paged && !hnd ? 2 : 1;
  SmallVector<int64_t> fixed = {kTy.getShape()[1], kTy.getShape()[3],
                                vTy.getShape()[3], kcTy.getShape()[headDim],
                                kcTy.getShape()[3]};
  if (paged)
    fixed.push_back(kcTy.getShape()[hnd ? 2 : 1]);
  if (failed(requireStaticDims(op, fixed, "heads, head dims and page size")))
    return failure();
  int64_t B = kTy.getShape()[0], Hkv = kTy.getShape()[1],
          Snew = kTy.getShape()[2], D = kTy.getShape()[3];
  if (vTy.getShape()[3] != D || D % 8 != 0)
    return op.emitOpError("attn-gpu-flash appends rows whose head dim is a "
                          "multiple of 8, equal for K and V");
  auto dense = [](MemRefType t) {
    return MemRefType::get(t.getShape(), t.getElementType());
  };
  GpuAppendGeometry geom;
  geom.headDim = D;
  geom.hasNewLengths = static_cast<bool>(op.getNewLengths());
  geom.paged = paged;
  geom.hnd = hnd;
  geom.rowShape.assign(kTy.getShape().begin(), kTy.getShape().end());
  geom.cacheShape.assign(kcTy.getShape().begin(), kcTy.getShape().end());
  SmallVector<Value> buffers = {op.getKey(), op.getValue(), op.getKeyCache(),
                                op.getValueCache(), op.getCacheLengths()};
  if (op.getNewLengths())
    buffers.push_back(op.getNewLengths());
  if (paged) {
    buffers.push_back(bt);
    auto btTy = cast<MemRefType>(bt.getType());
    geom.tableShape.assign(btTy.getShape().begin(), btTy.getShape().end());
    geom.numPages = kcTy.getShape()[0];
    geom.pageSize = kcTy.getShape()[hnd ? 2 : 1];
  }
  if (RopeAttr rope = op.getRopeAttr()) {
    buffers.append({op.getRotaryCos(), op.getRotarySin()});
    geom.ropeForm = gpuRopeForm(rope);
    geom.rotaryDim = rope.getRotaryDim();
    auto ts = cast<MemRefType>(op.getRotaryCos().getType()).getShape();
    geom.ropeTableShape.assign(ts.begin(), ts.end());
  }
  for (Value v : buffers)
    geom.dynamic |= !cast<MemRefType>(v.getType()).hasStaticShape();
  // Static sizes must be non-empty; run-time ones are checked per call.
  auto sizeOrOne = [](int64_t d) { return ShapedType::isDynamic(d) ? 1 : d; };
  if (failed(checkGpuSizes(op,
                           {sizeOrOne(B), Hkv, sizeOrOne(Snew),
                            paged ? sizeOrOne(geom.numPages) : 1},
                           "batch, K/V heads, Snew, pages")) ||
      failed(checkGrid(op, sizeOrOne(Snew), Hkv, sizeOrOne(B))))
    return failure();

  SmallVector<Type> params;
  for (Value v : buffers)
    params.push_back(dense(cast<MemRefType>(v.getType())));
  OpBuilder b(op);
  Location loc = op.getLoc();
  SmallVector<Value> args;
  for (auto [v, t] : llvm::zip(buffers, params))
    args.push_back(asKernelBuffer(b, op, v, cast<MemRefType>(t)));
  auto idx = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  Value gridX = idx(Snew), gridZ = idx(B);
  if (geom.dynamic) {
    ImplicitLocOpBuilder ib(loc, b);
    RunTimeChecks rc{ib};
    Value key = args[0], value = args[1], kcb = args[2], vcb = args[3];
    Value batch = rc.dim(key, 0), snew = rc.dim(key, 2);
    rc.equal(rc.dim(value, 0), batch, "the values' batch is the keys'");
    rc.equal(rc.dim(value, 2), snew, "the values' Snew is the keys'");
    rc.equal(rc.dim(args[4], 0), batch,
             "one cache length per sequence of the batch");
    if (geom.hasNewLengths)
      rc.equal(rc.dim(args[5], 0), batch,
               "one new length per sequence of the batch");
    SmallVector<Value> sizes = {batch, snew};
    RunTimeChecks::CacheSizes cs =
        rc.cache(kcb, vcb, paged ? args[geom.hasNewLengths ? 6 : 5] : Value(),
                 geom.pageSize, batch, snew,
                 "the appended rows fit the cache (Snew <= its capacity)");
    if (paged)
      sizes.append(cs.paged);
    else
      sizes.push_back(cs.capacity);
    if (geom.rotaryDim)
      if (Value maxPos =
              rotaryTableChecks(ib, args[buffers.size() - 2],
                                args[buffers.size() - 1], geom.dynamicMaxPos()))
        sizes.push_back(maxPos);
    gridX = snew;
    gridZ = batch;
    for (auto [arg, t] : llvm::zip(args, params)) {
      auto mt = cast<MemRefType>(t);
      t = gpuKernelParamType(mt);
      if (!mt.hasStaticShape())
        arg = memref::ReinterpretCastOp::create(
            b, loc, cast<MemRefType>(t), arg, b.getIndexAttr(0),
            ArrayRef<OpFoldResult>{}, ArrayRef<OpFoldResult>{});
    }
    args.append(sizes);
    params.append(sizes.size(), b.getIndexType());
  }

  auto module = op->getParentOfType<ModuleOp>();
  auto func = op->getParentOfType<func::FuncOp>();
  gpu::GPUModuleOp gm = getOrCreateGpuModule(module);
  OpBuilder kb(gm.getBodyRegion());
  kb.setInsertionPointToEnd(gm.getBody());
  gpu::GPUFuncOp kernel =
      emitAppendKernel(kb, loc, geom, params,
                       uniqueName(gm, (func.getSymName() + "_append").str()));
  gpu::LaunchFuncOp::create(
      b, loc, kernel, gpu::KernelDim3{gridX, idx(Hkv), gridZ},
      gpu::KernelDim3{idx(geom.threads()), idx(1), idx(1)}, Value(), args);
  op.erase();
  return success();
}
