//===- LowerCacheOps.cpp - KV-cache ops -> flash form and copy loops ------===//
//
// attn.cache_attention becomes the shared flash form with the queries at the
// end of each sequence, K/V tiles packed from the contiguous or paged cache,
// and, when batch × heads cannot keep every core busy, KV splits merged by
// the last split to finish (flash-decoding). attn.cache_append becomes a
// parallel loop over (sequence, K/V head) copying each new row, converted to
// the cache's element type, to its slot (a page row for paged caches, in the
// op's page layout: token-major NHD or head-major HND), keys rotated by their
// positions first when the op has a rotary embedding. attn.merge_states
// becomes a parallel loop of attn.tile_combine (MergeStates.cpp), and a
// cache_attention over packed mixed batches one balanced loop of prefill
// blocks and decode items (MixedBatch.cpp).
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/FlashEmitter.h"
#include "passes/IndexMath.h"
#include "passes/MergeStates.h"
#include "passes/MixedBatch.h"
#include "passes/Passes.h"
#include "passes/RopeEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <thread>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERCACHEOPS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A dim of an operand that the lowering compiles in.
struct CompiledDim {
  Value operand;
  unsigned dim;
  const char *what;
};

/// Fails, located at `op`, when a compiled-in dim is dynamic: only batch,
/// lengths, pages and block-table width may be run-time sizes.
LogicalResult requireStatic(Operation *op, ArrayRef<CompiledDim> dims) {
  for (const CompiledDim &d : dims)
    if (d.operand && cast<MemRefType>(d.operand.getType()).isDynamicDim(d.dim))
      return op->emitOpError("attn-lower-cache-ops: the ")
             << d.what
             << " must be static (only batch, lengths, pages and the "
                "block-table width may be run-time sizes)";
  return success();
}

/// The compiled-in dims of a K/V cache: heads, head dim and page size.
SmallVector<CompiledDim> cacheDims(Value keyCache, Value valueCache, bool paged,
                                   bool hnd) {
  unsigned headDim = paged && !hnd ? 2 : 1;
  SmallVector<CompiledDim> dims = {{keyCache, headDim, "key cache heads"},
                                   {keyCache, 3, "key cache head dim"},
                                   {valueCache, headDim, "value cache heads"},
                                   {valueCache, 3, "value cache head dim"}};
  if (paged) {
    dims.push_back({keyCache, hnd ? 2u : 1u, "key cache page size"});
    dims.push_back({valueCache, hnd ? 2u : 1u, "value cache page size"});
  }
  return dims;
}

/// The operands of a cache attention as a flash problem.
FlashProblem cacheProblem(CacheAttentionOp op, int64_t pageSize) {
  FlashProblem p;
  p.query = op.getQuery();
  p.output = op.getOutput();
  p.lse = op.getLse();
  p.key = op.getKeyCache();
  p.value = op.getValueCache();
  p.blockTable = op.getBlockTable();
  p.pageSize = pageSize;
  p.headMajorPages =
      pageSize > 0 && op.getPageLayoutOrDefault() == PageLayout::HND;
  p.kvLengths = op.getCacheLengths();
  p.sinks = op.getSinks();
  p.rotary = {op.getRotaryCos(), op.getRotarySin(), op.getRopeAttr()};
  p.queriesAtEnd = true;
  p.packedQueries = op.isPacked();
  p.scale = op.getScaleOrDefault();
  p.softcap = op.getSoftcapAttr();
  p.mask = op.getMaskAttr();
  return p;
}

LogicalResult lowerCacheAttention(CacheAttentionOp op, int64_t tileRows,
                                  int64_t tileKv, int64_t kvSplits,
                                  int64_t parallelism) {
  bool hnd = op.getPageLayoutOrDefault() == PageLayout::HND;
  Value bt = op.getBlockTable();
  SmallVector<CompiledDim> dims =
      cacheDims(op.getKeyCache(), op.getValueCache(), bool(bt), hnd);
  // Packed queries [T, Hq, D]: the head dim is dim 2.
  unsigned dimD = op.isPacked() ? 2 : 3;
  dims.append({{op.getQuery(), 1, "query heads"},
               {op.getQuery(), dimD, "query head dim"},
               {op.getOutput(), 1, "output heads"},
               {op.getOutput(), dimD, "output head dim"}});
  if (failed(requireStatic(op, dims)))
    return failure();
  auto qTy = op.getQuery().getType();
  auto kcTy = op.getKeyCache().getType(), vcTy = op.getValueCache().getType();
  int64_t pageSize = 0, hkv, capacity;
  if (bt) {
    pageSize = kcTy.getDimSize(hnd ? 2 : 1);
    hkv = kcTy.getDimSize(hnd ? 1 : 2);
    int64_t slots = cast<MemRefType>(bt.getType()).getDimSize(1);
    capacity = ShapedType::isDynamic(slots) ? slots : slots * pageSize;
  } else {
    hkv = kcTy.getDimSize(1);
    capacity = kcTy.getDimSize(2);
  }
  FlashProblem p = cacheProblem(op, pageSize);
  if (op.isPacked())
    return lowerPackedCacheAttention(op, p, hkv, capacity, tileRows, tileKv,
                                     parallelism);
  int64_t batch = qTy.getDimSize(0), heads = qTy.getDimSize(1),
          qLen = qTy.getDimSize(2), d = qTy.getDimSize(3),
          dv = vcTy.getDimSize(3);
  std::string error;
  auto g =
      chooseFlashGeometry(batch, heads, hkv, qLen, d, dv, capacity, pageSize,
                          tileRows, tileKv, kvSplits, parallelism, error);
  if (failed(g))
    return op.emitOpError() << error;

  ImplicitLocOpBuilder b(op.getLoc(), op);
  emitFlash(b, *g, materializeSizes(b, *g, p), p);
  op->erase();
  return success();
}

/// A dim of `v` as a size: static, or memref.dim.
OpFoldResult sizeOf(ImplicitLocOpBuilder &b, Value v, unsigned dim) {
  int64_t d = cast<MemRefType>(v.getType()).getDimSize(dim);
  if (!ShapedType::isDynamic(d))
    return b.getIndexAttr(d);
  return memref::DimOp::create(b, v, dim).getResult();
}

LogicalResult lowerCacheAppend(CacheAppendOp op) {
  Value bt = op.getBlockTable();
  bool hnd = op.getPageLayoutOrDefault() == PageLayout::HND;
  SmallVector<CompiledDim> dims =
      cacheDims(op.getKeyCache(), op.getValueCache(), bool(bt), hnd);
  dims.append({{op.getKey(), 1, "key heads"},
               {op.getKey(), 3, "key head dim"},
               {op.getValue(), 1, "value heads"},
               {op.getValue(), 3, "value head dim"}});
  if (failed(requireStatic(op, dims)))
    return failure();
  ImplicitLocOpBuilder b(op.getLoc(), op);
  IndexMath im{b};
  auto kTy = op.getKey().getType();
  int64_t hkv = kTy.getDimSize(1);
  OpFoldResult batch = sizeOf(b, op.getKey(), 0);
  OpFoldResult snew = sizeOf(b, op.getKey(), 2);
  auto kcTy = op.getKeyCache().getType();
  int64_t pageSize = bt ? kcTy.getDimSize(hnd ? 2 : 1) : 0;
  OpFoldResult capacity = bt ? im.mul(sizeOf(b, bt, 1), im.size(pageSize))
                             : sizeOf(b, op.getKeyCache(), 2);
  OpFoldResult items = im.mul(batch, im.size(hkv));
  auto forall = scf::ForallOp::create(b, ArrayRef<OpFoldResult>{items},
                                      ValueRange(), std::nullopt);
  markWorkItems(forall);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value item = forall.getInductionVar(0);
  Value b0 = im.div(item, hkv), h = im.rem(item, hkv);
  auto loadIndex = [&](Value mem) -> Value {
    return arith::IndexCastOp::create(
        b, b.getIndexType(), memref::LoadOp::create(b, mem, ValueRange{b0}));
  };
  Value start = loadIndex(op.getCacheLengths());
  Value count = im.v(snew);
  if (Value n = op.getNewLengths())
    count = im.max(im.c(0), im.min(loadIndex(n), count));
  // Never write past the cache, whatever the lengths say.
  count = im.max(im.c(0), im.min(count, im.sub(im.v(capacity), start)));
  // Nor an unrotated key: rows whose position has no table row are dropped
  // (the runtime refuses such appends before they run).
  RotaryOperands rotary{op.getRotaryCos(), op.getRotarySin(), op.getRopeAttr()};
  if (rotary)
    count = im.max(im.c(0),
                   im.min(count, im.sub(rotaryPositions(b, rotary), start)));

  auto rows = scf::ForOp::create(b, im.c(0), count, im.c(1));
  b.setInsertionPointToStart(rows.getBody());
  Value r = rows.getInductionVar();
  Value pos = im.add(start, r);
  SmallVector<Value> slot; // destination row index prefix in the cache
  if (bt) {
    Value page = arith::IndexCastOp::create(
        b, b.getIndexType(),
        memref::LoadOp::create(b, bt, ValueRange{b0, im.div(pos, pageSize)}));
    slot = hnd ? SmallVector<Value>{page, h, im.rem(pos, pageSize)}
               : SmallVector<Value>{page, im.rem(pos, pageSize), h};
  } else {
    slot = {b0, h, pos};
  }
  int64_t d = kTy.getDimSize(3), dv = op.getValue().getType().getDimSize(3);
  emitRowCopy(b, op.getKey(), ValueRange{b0, h, r}, op.getKeyCache(), slot, d,
              rotary, pos);
  emitRowCopy(b, op.getValue(), ValueRange{b0, h, r}, op.getValueCache(), slot,
              dv, RotaryOperands{}, Value());
  op->erase();
  return success();
}

struct LowerCacheOpsPass
    : attn::impl::AttnLowerCacheOpsBase<LowerCacheOpsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t threads = parallelism > 0
                          ? parallelism
                          : std::max(1u, std::thread::hardware_concurrency());
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<CacheAttentionOp, CacheAppendOp, MergeStatesOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      LogicalResult result =
          isa<CacheAttentionOp>(op)
              ? lowerCacheAttention(cast<CacheAttentionOp>(op), tileRows,
                                    tileKv, kvSplits, threads)
          : isa<MergeStatesOp>(op) ? lowerMergeStates(cast<MergeStatesOp>(op))
                                   : lowerCacheAppend(cast<CacheAppendOp>(op));
      if (failed(result))
        return signalPassFailure();
    }
  }
};

} // namespace
