//===- TileFlash.cpp - attn.attention -> flash-form tile loops ------------===//
//
// Reads the tensors of an attn.attention as buffers (BSHD through a
// transposed view), picks where the results go (in place when they only
// feed a materialize_in_destination), and hands the problem to the shared
// flash emitter. Bias, score_mod, boolean masks, segment ids and mask_mod
// become per-score hooks inside the KV loop.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/FlashEmitter.h"
#include "passes/IndexMath.h"
#include "passes/Passes.h"
#include "passes/ScoreModifiers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>
#include <thread>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTILEFLASH
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class AttentionLowering {
public:
  AttentionLowering(AttentionOp op, int64_t tileRows, int64_t tileKv,
                    int64_t kvSplits, int64_t parallelism)
      : op(op), b(op.getLoc(), op), im{b}, tileRows(tileRows), tileKv(tileKv),
        kvSplits(kvSplits), parallelism(parallelism) {}

  LogicalResult run();

private:
  /// The memref to read `tensor` from.
  Value inputBuffer(Value tensor, bool unitInner);
  /// Where to write result `result`: the destination of its only
  /// materialize_in_destination user, else a new allocation.
  Value outputBuffer(Value result, bool unitInner);
  /// A logical [B, H, S, D] view of a buffer in the op's layout.
  Value logical(Value buffer);
  void scoreMods(Value b0, Value hkv, Value q0, Value j0, Value scores);
  void customMasks(Value b0, Value hkv, Value q0, Value j0, Value scores);
  template <typename Fn>
  void forEachScore(Value hkv, Value q0, Value j0, Fn body);

  /// Fails (located) when a size the kernel compiles in is dynamic.
  LogicalResult checkStaticSizes();
  /// Block-sparse: the tiles follow the block sizes. Lowers `rows` (query
  /// rows of an item, `group` heads) so that the per-head rows divide the
  /// query block, and `kv` to the largest multiple of 16 up to it dividing
  /// the KV block; fails, located, when the KV block is no multiple of 16.
  LogicalResult blockTiles(int64_t group, int64_t &rows, int64_t &kv);
  /// Sizes of a new allocation for `result`'s type: its dynamic dims (batch
  /// and query length) are the query's.
  SmallVector<Value> dynamicSizes(RankedTensorType type, bool isLse);

  AttentionOp op;
  ImplicitLocOpBuilder b;
  IndexMath im;
  int64_t tileRows, tileKv, kvSplits, parallelism;
  FlashGeometry g{};
  FlashSizes sizes;
  Value queryBuffer; ///< physical layout
  ScoreModifiers mods;
  SmallVector<Operation *> toErase;
};

Value AttentionLowering::logical(Value buffer) {
  return logicalView(b, buffer, op.getLayoutOrDefault());
}

Value AttentionLowering::inputBuffer(Value tensor, bool unitInner) {
  return tensorAsBuffer(b, tensor, unitInner);
}

Value AttentionLowering::outputBuffer(Value result, bool unitInner) {
  auto ty = cast<RankedTensorType>(result.getType());
  return resultBuffer(
      b, op, result, unitInner,
      [&] { return dynamicSizes(ty, /*isLse=*/result == op.getLse()); },
      toErase);
}

SmallVector<Value> AttentionLowering::dynamicSizes(RankedTensorType type,
                                                   bool isLse) {
  // Output [B, Hq, Sq, Dv] sits like the query [B, Hq, Sq, D] in either
  // layout; lse is logical [B, Hq, Sq].
  unsigned seqDim = op.getLayoutOrDefault() == Layout::BSHD ? 1 : 2;
  SmallVector<Value> out;
  for (auto [i, d] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(d))
      out.push_back(memref::DimOp::create(
          b, queryBuffer, isLse && i == 2 ? seqDim : unsigned(i)));
  return out;
}

LogicalResult AttentionLowering::checkStaticSizes() {
  // Batch, Sq and Skv may be run-time sizes; heads and head dims shape the
  // tiles and the unrolled code.
  auto qs = op.getLogicalShape(op.getQuery());
  auto ks = op.getLogicalShape(op.getKey());
  auto vs = op.getLogicalShape(op.getValue());
  std::pair<int64_t, const char *> compiled[] = {
      {qs[1], "query heads"},  {ks[1], "key heads"},
      {vs[1], "value heads"},  {qs[3], "query head dim"},
      {ks[3], "key head dim"}, {vs[3], "value head dim"}};
  for (auto [size, what] : compiled)
    if (ShapedType::isDynamic(size))
      return op.emitOpError("attn-tile-flash: the ")
             << what
             << " must be static (only batch, query and KV lengths may "
                "be run-time sizes)";
  for (Value operand : {op.getBoolMask(), op.getBias(), op.getQSegmentIds(),
                        op.getKvSegmentIds()})
    if (operand && !cast<ShapedType>(operand.getType()).hasStaticShape())
      return op.emitOpError("attn-tile-flash: masks, biases and segment ids "
                            "need static shapes");
  return success();
}

LogicalResult AttentionLowering::blockTiles(int64_t group, int64_t &rows,
                                            int64_t &kv) {
  ArrayRef<int64_t> sizes = *op.getBlockSize();
  auto numTy = cast<ShapedType>(op.getKvNumBlocks().getType());
  // A run-time batch dim holds one list per sequence (1 would be static).
  if (numTy.isDynamicDim(1))
    return op.emitOpError("attn-tile-flash: the block mask's head dim must "
                          "be static (1 or Hq)");
  constexpr int64_t kKvStep = 16; // tile widths are whole vectors
  if (sizes[1] % kKvStep != 0)
    return op.emitOpError() << "attn-tile-flash: the KV block size ("
                            << sizes[1] << ") must be a multiple of " << kKvStep
                            << " (the KV tile width step)";
  int64_t perHead = std::max<int64_t>(1, rows / std::max<int64_t>(group, 1));
  while (sizes[0] % perHead != 0)
    --perHead;
  rows = perHead * std::max<int64_t>(group, 1);
  int64_t tk = std::max(kKvStep, kv / kKvStep * kKvStep);
  while (sizes[1] % tk != 0)
    tk -= kKvStep;
  kv = tk;
  return success();
}

LogicalResult AttentionLowering::run() {
  if (failed(checkStaticSizes()))
    return failure();
  auto qs = op.getLogicalShape(op.getQuery());
  auto ks = op.getLogicalShape(op.getKey());
  auto vs = op.getLogicalShape(op.getValue());
  std::string error;
  int64_t rowsWanted = tileRows, kvWanted = tileKv;
  auto blocks = op.getBlockSize();
  if (blocks && failed(blockTiles(qs[1] / ks[1], rowsWanted, kvWanted)))
    return failure();
  auto geometry = chooseFlashGeometry(qs[0], qs[1], ks[1], qs[2], qs[3], vs[3],
                                      ks[2], /*pageSize=*/0, rowsWanted,
                                      kvWanted, kvSplits, parallelism, error);
  if (failed(geometry))
    return op.emitOpError() << error;
  g = *geometry;
  // A short KV range would shrink the tile below the block's divisor.
  if (blocks)
    g.tk = kvWanted;

  b.setInsertionPoint(op);
  FlashProblem p;
  queryBuffer = inputBuffer(op.getQuery(), true);
  p.query = logical(queryBuffer);
  p.key = logical(inputBuffer(op.getKey(), true));
  p.value = logical(inputBuffer(op.getValue(), true));
  p.kvLengths = inputBuffer(op.getKvLengths(), false);
  mods.boolMask = inputBuffer(op.getBoolMask(), false);
  mods.bias = inputBuffer(op.getBias(), false);
  mods.qSeg = inputBuffer(op.getQSegmentIds(), false);
  mods.kvSeg = inputBuffer(op.getKvSegmentIds(), false);
  if (!op.getScoreMod().empty())
    mods.scoreMod = &op.getScoreMod();
  if (!op.getMaskMod().empty())
    mods.maskMod = &op.getMaskMod();
  p.sinks = inputBuffer(op.getSinks(), false);
  p.kvNumBlocks = inputBuffer(op.getKvNumBlocks(), false);
  p.kvIndices = inputBuffer(op.getKvIndices(), false);
  if (blocks) {
    p.blockQ = (*blocks)[0];
    p.blockKv = (*blocks)[1];
  }
  p.dropoutState = inputBuffer(op.getDropoutState(), false);
  if (auto rate = op.getDropoutP())
    p.dropoutP = rate->convertToDouble();
  p.output = logical(outputBuffer(op.getOutput(), true));
  if (Value l = op.getLse())
    p.lse = outputBuffer(l, false);
  p.scale = op.getScaleOrDefault();
  p.softcap = op.getSoftcapAttr();
  p.mask = op.getMaskAttr();
  if (mods.modifiesScores())
    p.scoreMods = [&](ImplicitLocOpBuilder &, Value b0, Value hkv, Value q0,
                      Value j0, Value s) { scoreMods(b0, hkv, q0, j0, s); };
  if (mods.masks())
    p.customMasks = [&](ImplicitLocOpBuilder &, Value b0, Value hkv, Value q0,
                        Value j0, Value s) { customMasks(b0, hkv, q0, j0, s); };
  sizes = materializeSizes(b, g, p);
  emitFlash(b, g, sizes, p);

  for (Operation *dead : toErase)
    dead->erase();
  if (op->use_empty())
    op->erase();
  return success();
}

/// Loops over every score of the key-major tile, calling
/// `body(n, m, h, qi, kj)`; qi/kj are clamped into range so operand reads
/// stay in bounds (padded entries are masked anyway).
template <typename Fn>
void AttentionLowering::forEachScore(Value hkv, Value q0, Value j0, Fn body) {
  auto rows = scf::ForOp::create(b, im.c(0), im.c(g.rows), im.c(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(rows.getBody());
  Value m = rows.getInductionVar();
  Value h = im.add(im.mul(hkv, g.group), im.div(m, g.tq));
  Value qi = im.min(im.add(q0, im.rem(m, g.tq)), im.v(im.sub(sizes.qLen, 1)));
  auto cols = scf::ForOp::create(b, im.c(0), im.c(g.tk), im.c(1));
  b.setInsertionPointToStart(cols.getBody());
  Value n = cols.getInductionVar();
  Value kj = im.min(im.add(j0, n), im.v(im.sub(sizes.kvCapacity, 1)));
  body(n, m, h, qi, kj);
}

void AttentionLowering::scoreMods(Value b0, Value hkv, Value q0, Value j0,
                                  Value scores) {
  forEachScore(hkv, q0, j0, [&](Value n, Value m, Value h, Value qi, Value kj) {
    Value s = memref::LoadOp::create(b, scores, ValueRange{n, m});
    s = modifyScore(b, im, mods, s, b0, h, qi, kj);
    memref::StoreOp::create(b, s, scores, ValueRange{n, m});
  });
}

void AttentionLowering::customMasks(Value b0, Value hkv, Value q0, Value j0,
                                    Value scores) {
  Value negInf = arith::ConstantOp::create(
      b, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  forEachScore(hkv, q0, j0, [&](Value n, Value m, Value h, Value qi, Value kj) {
    Value keep = customMasksAllow(b, im, mods, b0, h, qi, kj);
    Value s = memref::LoadOp::create(b, scores, ValueRange{n, m});
    memref::StoreOp::create(b, arith::SelectOp::create(b, keep, s, negInf),
                            scores, ValueRange{n, m});
  });
}

struct TileFlashPass : attn::impl::AttnTileFlashBase<TileFlashPass> {
  using Base::Base;
  void runOnOperation() override {
    int64_t threads = parallelism > 0
                          ? parallelism
                          : std::max(1u, std::thread::hardware_concurrency());
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) { ops.push_back(op); });
    for (AttentionOp op : ops)
      if (failed(
              AttentionLowering(op, tileRows, tileKv, kvSplits, threads).run()))
        return signalPassFailure();
    SmallVector<AttentionGradOp> grads;
    getOperation().walk([&](AttentionGradOp op) { grads.push_back(op); });
    for (AttentionGradOp op : grads)
      if (failed(lowerAttentionGrad(op, tileRows, tileKv, threads)))
        return signalPassFailure();
    SmallVector<AdditiveAttentionOp> additive;
    getOperation().walk(
        [&](AdditiveAttentionOp op) { additive.push_back(op); });
    for (AdditiveAttentionOp op : additive)
      if (failed(lowerAdditiveAttention(op, tileRows, tileKv)))
        return signalPassFailure();
  }
};

} // namespace
