//===- LowerCacheOps.cpp - KV-cache ops -> flash form and copy loops ------===//
//
// attn.cache_attention becomes the shared flash form with the queries at the
// end of each sequence, K/V tiles packed from the contiguous or paged cache,
// and, when batch × heads cannot keep every core busy, KV splits merged by
// the last split to finish (flash-decoding). attn.cache_append becomes a
// parallel loop over (sequence, K/V head) copying each new row, converted to
// the cache's element type, to its slot (a page row for paged caches, in the
// op's page layout: token-major NHD or head-major HND). attn.merge_states
// becomes a parallel loop of attn.tile_combine (MergeStates.cpp).
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/FlashEmitter.h"
#include "passes/IndexMath.h"
#include "passes/MergeStates.h"
#include "passes/Passes.h"

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

bool allStatic(ArrayRef<Value> values) {
  return llvm::all_of(values, [](Value v) {
    return !v || cast<MemRefType>(v.getType()).hasStaticShape();
  });
}

LogicalResult lowerCacheAttention(CacheAttentionOp op, int64_t tileRows,
                                  int64_t tileKv, int64_t kvSplits,
                                  int64_t parallelism) {
  if (!allStatic({op.getQuery(), op.getKeyCache(), op.getValueCache(),
                  op.getBlockTable(), op.getOutput()}))
    return op.emitOpError("attn-lower-cache-ops needs static shapes (the "
                          "runtime compiles one kernel per shape)");
  auto qTy = op.getQuery().getType();
  auto kcTy = op.getKeyCache().getType(), vcTy = op.getValueCache().getType();
  int64_t pageSize = 0, hkv, capacity;
  bool hnd = op.getPageLayoutOrDefault() == PageLayout::HND;
  if (Value bt = op.getBlockTable()) {
    pageSize = kcTy.getDimSize(hnd ? 2 : 1);
    hkv = kcTy.getDimSize(hnd ? 1 : 2);
    capacity = cast<MemRefType>(bt.getType()).getDimSize(1) * pageSize;
  } else {
    hkv = kcTy.getDimSize(1);
    capacity = kcTy.getDimSize(2);
  }
  int64_t batch = qTy.getDimSize(0), heads = qTy.getDimSize(1),
          qLen = qTy.getDimSize(2), d = qTy.getDimSize(3),
          dv = vcTy.getDimSize(3);
  std::string error;
  auto g = chooseFlashGeometry(batch, heads, hkv, qLen, d, dv, capacity,
                               pageSize, tileRows, tileKv, 1, error);
  if (failed(g))
    return op.emitOpError() << error;
  int64_t splits = kvSplits > 0
                       ? kvSplits
                       : chooseKvSplits(g->workItems(), capacity, parallelism);
  g->splits = splits;

  ImplicitLocOpBuilder b(op.getLoc(), op);
  FlashProblem p;
  p.query = op.getQuery();
  p.output = op.getOutput();
  p.lse = op.getLse();
  p.key = op.getKeyCache();
  p.value = op.getValueCache();
  p.blockTable = op.getBlockTable();
  p.pageSize = pageSize;
  p.headMajorPages = pageSize > 0 && hnd;
  p.kvLengths = op.getCacheLengths();
  p.sinks = op.getSinks();
  p.queriesAtEnd = true;
  p.scale = op.getScaleOrDefault();
  p.softcap = op.getSoftcapAttr();
  p.mask = op.getMaskAttr();
  emitFlash(b, *g, p);
  op->erase();
  return success();
}

/// Converts a vector of `from` elements to `to` elements (via f32).
Value convert(ImplicitLocOpBuilder &b, Value v, Type to) {
  auto ty = cast<VectorType>(v.getType());
  if (ty.getElementType() == to)
    return v;
  auto f32Ty = VectorType::get(ty.getShape(), b.getF32Type());
  if (!ty.getElementType().isF32())
    v = arith::ExtFOp::create(b, f32Ty, v);
  if (!to.isF32())
    v = arith::TruncFOp::create(b, VectorType::get(ty.getShape(), to), v);
  return v;
}

LogicalResult lowerCacheAppend(CacheAppendOp op) {
  if (!allStatic({op.getKey(), op.getValue(), op.getKeyCache(),
                  op.getValueCache(), op.getBlockTable()}))
    return op.emitOpError("attn-lower-cache-ops needs static shapes (the "
                          "runtime compiles one kernel per shape)");
  ImplicitLocOpBuilder b(op.getLoc(), op);
  IndexMath im{b};
  auto kTy = op.getKey().getType();
  int64_t batch = kTy.getDimSize(0), hkv = kTy.getDimSize(1),
          snew = kTy.getDimSize(2);
  auto kcTy = op.getKeyCache().getType();
  Value bt = op.getBlockTable();
  bool hnd = op.getPageLayoutOrDefault() == PageLayout::HND;
  int64_t pageSize = bt ? kcTy.getDimSize(hnd ? 2 : 1) : 0;
  int64_t capacity =
      bt ? cast<MemRefType>(bt.getType()).getDimSize(1) * pageSize
         : kcTy.getDimSize(2);
  constexpr int64_t width = 16;

  auto forall = scf::ForallOp::create(
      b, ArrayRef<OpFoldResult>{b.getIndexAttr(batch * hkv)}, ValueRange(),
      std::nullopt);
  forall->setAttr("attn.work_items", b.getI64IntegerAttr(batch * hkv));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value item = forall.getInductionVar(0);
  Value b0 = im.div(item, hkv), h = im.rem(item, hkv);
  auto loadIndex = [&](Value mem) -> Value {
    return arith::IndexCastOp::create(
        b, b.getIndexType(), memref::LoadOp::create(b, mem, ValueRange{b0}));
  };
  Value start = loadIndex(op.getCacheLengths());
  Value count = im.c(snew);
  if (Value n = op.getNewLengths())
    count = im.max(im.c(0), im.min(loadIndex(n), count));
  // Never write past the cache, whatever the lengths say.
  count = im.max(im.c(0), im.min(count, im.sub(im.c(capacity), start)));

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
  auto copyRow = [&](Value src, Value cache) {
    auto srcTy = cast<MemRefType>(src.getType());
    auto cacheTy = cast<MemRefType>(cache.getType());
    int64_t dim = srcTy.getDimSize(3);
    Value pad = arith::ConstantOp::create(
        b, b.getFloatAttr(srcTy.getElementType(), 0.0));
    for (int64_t c = 0; c < dim; c += width) {
      bool inBounds = c + width <= dim;
      Value v = vector::TransferReadOp::create(
          b, VectorType::get({width}, srcTy.getElementType()), src,
          ValueRange{b0, h, r, im.c(c)}, pad, ArrayRef<bool>{inBounds});
      v = convert(b, v, cacheTy.getElementType());
      SmallVector<Value> idx(slot);
      idx.push_back(im.c(c));
      vector::TransferWriteOp::create(b, v, cache, idx,
                                      ArrayRef<bool>{inBounds});
    }
  };
  copyRow(op.getKey(), op.getKeyCache());
  copyRow(op.getValue(), op.getValueCache());
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
