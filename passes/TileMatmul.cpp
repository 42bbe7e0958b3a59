//===- TileMatmul.cpp - f32 linalg.matmul -> blocks of attn.tile_matmul ---===//
//
// A model's projections are plain matmuls; upstream lowers them to scalar
// loops. Here the output is cut into work items of `item-rows` rows ×
// `col-block` columns (an scf.forall of attn.work_items the runtime
// spreads over its threads, or an scf.for without `work-items`). An item
// packs its B panel into slivers of `sliver` columns, each [depth, sliver]
// contiguous (the micro-kernel then streams B at unit stride; strided rows
// of a wide B cost a TLB miss per K step), and feeds them to `row-block`-
// row blocks of attn.tile_matmul (the attention kernels' register-blocked
// micro-kernel, lowered by attn-vectorize-tiles): one sliver and an A
// block stay in L2 while the micro-kernel sweeps them. Each output element
// is computed by exactly one item in a fixed order, so results do not
// depend on the thread count. tile_matmul takes static shapes: whole
// blocks run in loops, tails get their own static sizes. The fill or bias
// broadcast that initialises C moves into the items (each initialises its
// own block). Columns past the last whole vector stay a linalg.matmul.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"
#include "dialect/Limits.h"
#include "passes/IndexMath.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTILEMATMUL
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A static rank-2 buffer whose rows are contiguous (what the
/// micro-kernel's vector loads need): f32, or f16/bf16 for an operand the
/// pack and the micro-kernel widen as they read (`narrowOk`).
bool isTileable(Value v, bool narrowOk) {
  auto t = dyn_cast<MemRefType>(v.getType());
  if (!t || t.getRank() != 2 || !t.hasStaticShape())
    return false;
  Type e = t.getElementType();
  if (!e.isF32() && !(narrowOk && (e.isF16() || e.isBF16())))
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(t.getStridesAndOffset(strides, offset)) &&
         strides.back() == 1;
}

/// C += A·Bᵀ with B stored [N, K] (an nn.Linear weight read in place):
/// the maps (m, k), (n, k), (m, n).
bool isTransposedB(linalg::MatmulOp op) {
  if (!op.hasUserDefinedMaps())
    return false;
  MLIRContext *ctx = op.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  auto map = [&](ArrayRef<AffineExpr> r) {
    return AffineMap::get(3, 0, r, ctx);
  };
  return op.getIndexingMapsArray() ==
         SmallVector<AffineMap>{map({m, k}), map({n, k}), map({m, n})};
}

/// The op that initialises all of `op`'s C right before it (only views
/// and constants in between): a linalg.fill, or a linalg.broadcast of a
/// bias row [N] over the rows. Null if there is none.
Operation *findInit(linalg::MatmulOp op) {
  Value c = op.getDpsInits()[0];
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev))
      return fill.getDpsInits()[0] == c && fill.hasPureBufferSemantics()
                 ? prev
                 : nullptr;
    if (auto bc = dyn_cast<linalg::BroadcastOp>(prev))
      return bc.getInit() == c && bc.hasPureBufferSemantics() &&
                     bc.getDimensions() == ArrayRef<int64_t>{0}
                 ? prev
                 : nullptr;
    if (!isMemoryEffectFree(prev) || prev->getNumRegions())
      return nullptr;
  }
  return nullptr;
}

struct Blocking {
  int64_t width, rowBlock, colBlock, depthBlock, sliver, itemRows;
  bool workItems;
};

class MatmulBlocker {
public:
  MatmulBlocker(linalg::MatmulOp op, const Blocking &cfg, Operation *init)
      : b(op.getLoc(), op), im{b}, cfg(cfg), init(init),
        a(op.getDpsInputs()[0]), bMat(op.getDpsInputs()[1]),
        c(op.getDpsInits()[0]), maps(op.getIndexingMapsAttr()),
        bTransposed(isTransposedB(op)) {
    auto at = cast<MemRefType>(a.getType());
    m = at.getDimSize(0);
    k = at.getDimSize(1);
    n = cast<MemRefType>(c.getType()).getDimSize(1);
    vectorCols = n - n % cfg.width;
    // Whole row blocks per item, so only the last item has a row tail.
    itemRows = std::min<int64_t>(
        m, llvm::divideCeil(cfg.itemRows, cfg.rowBlock) * cfg.rowBlock);
    depthMax = std::min(cfg.depthBlock, k);
  }

  void emit();

private:
  void item(Value idx);
  void panel(Value r0, Value rEnd, Value n0, int64_t cols);
  void rowBlock(Value m0, int64_t rows, Value k0, int64_t depth, Value n0,
                int64_t cols);
  /// The packed sliver holding panel columns [s0, s0 + w) for `depth` K.
  Value sliverView(Value s0, int64_t depth, int64_t w) {
    Value row = im.mul(im.div(s0, cfg.sliver), depthMax);
    return sub(panelBuf, row, depth, im.c(0), w);
  }
  /// C (or a bias) rows [r0, r0 + rows) × columns [c0, c0 + cols)
  /// initialised as the absorbed init op does for all of C.
  void emitInit(Value r0, OpFoldResult rows, Value c0, int64_t cols);

  /// fn(start, size) over [0, extent): `extent / size` blocks of `size` in
  /// an scf.for, then one of `extent % size`.
  void forBlocks(int64_t extent, int64_t size,
                 llvm::function_ref<void(Value, int64_t)> fn) {
    int64_t whole = extent / size, tail = extent % size;
    if (whole == 1) {
      fn(im.c(0), size);
    } else if (whole > 1) {
      scf::ForOp::create(
          b, im.c(0), im.c(whole * size), im.c(size), ValueRange{},
          [&](OpBuilder &nested, Location loc, Value iv, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(scf::YieldOp::create(nested, loc));
            fn(iv, size);
          });
    }
    if (tail)
      fn(im.c(whole * size), tail);
  }

  Value sub(Value v, Value r0, OpFoldResult rows, Value col0, int64_t cols) {
    // Constant offsets fold into the type (static strided layouts).
    SmallVector<OpFoldResult> offsets{getAsOpFoldResult(r0),
                                      getAsOpFoldResult(col0)};
    SmallVector<OpFoldResult> sizes{rows, b.getIndexAttr(cols)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    return memref::SubViewOp::create(b, v, offsets, sizes, strides);
  }
  Value sub(Value v, Value r0, int64_t rows, Value col0, int64_t cols) {
    return sub(v, r0, b.getIndexAttr(rows), col0, cols);
  }

  ImplicitLocOpBuilder b;
  IndexMath im;
  Blocking cfg;
  Operation *init;
  Value a, bMat, c, panelBuf;
  ArrayAttr maps;
  bool bTransposed;
  int64_t m = 0, k = 0, n = 0, vectorCols = 0, itemRows = 0, depthMax = 0;
};

void MatmulBlocker::emit() {
  int64_t colBlock = std::min(cfg.colBlock, vectorCols);
  {
    // The packed panel: one scratch at the function's entry (per call, so
    // per thread), so the loops below allocate nothing. Its slivers lie
    // one after another, each [depthMax, sliver].
    OpBuilder::InsertionGuard guard(b);
    Operation *func = b.getInsertionBlock()->getParentOp();
    while (!isa<FunctionOpInterface>(func))
      func = func->getParentOp();
    b.setInsertionPointToStart(&func->getRegion(0).front());
    int64_t slivers = llvm::divideCeil(colBlock, cfg.sliver);
    panelBuf = memref::AllocaOp::create(
        b, MemRefType::get({slivers * depthMax, std::min(cfg.sliver, colBlock)},
                           b.getF32Type()));
  }
  int64_t items = llvm::divideCeil(m, itemRows) *
                  llvm::divideCeil(vectorCols, cfg.colBlock);
  if (cfg.workItems) {
    auto forall =
        scf::ForallOp::create(b, ArrayRef<OpFoldResult>{b.getIndexAttr(items)},
                              ValueRange(), std::nullopt);
    AttnDialect::WorkItemsAttrHelper(b.getContext())
        .setAttr(forall, b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    item(forall.getInductionVar(0));
  } else if (items == 1) {
    item(im.c(0));
  } else {
    scf::ForOp::create(
        b, im.c(0), im.c(items), im.c(1), ValueRange{},
        [&](OpBuilder &nested, Location loc, Value iv, ValueRange) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(scf::YieldOp::create(nested, loc));
          item(iv);
        });
  }
  if (vectorCols < n) {
    Value zero = im.c(0);
    Value strip = im.c(vectorCols);
    if (init)
      emitInit(zero, b.getIndexAttr(m), strip, n - vectorCols);
    Value bStrip = bTransposed ? sub(bMat, strip, n - vectorCols, zero, k)
                               : sub(bMat, zero, k, strip, n - vectorCols);
    auto tail = linalg::MatmulOp::create(
        b, ValueRange{sub(a, zero, m, zero, k), bStrip},
        ValueRange{sub(c, zero, m, strip, n - vectorCols)});
    tail.setIndexingMapsAttr(maps);
  }
  if (init)
    init->erase();
}

void MatmulBlocker::item(Value idx) {
  // Items run row group by row group: neighbours share their A rows.
  int64_t panels = llvm::divideCeil(vectorCols, cfg.colBlock);
  Value r0 = im.mul(im.div(idx, panels), itemRows);
  Value n0 = im.mul(im.rem(idx, panels), cfg.colBlock);
  Value rEnd = im.min(im.add(r0, itemRows), im.c(m));
  int64_t whole = vectorCols / cfg.colBlock, tail = vectorCols % cfg.colBlock;
  if (tail == 0 || whole == 0) {
    panel(r0, rEnd, n0, whole ? cfg.colBlock : tail);
    return;
  }
  auto ifOp = scf::IfOp::create(b, im.lt(n0, im.c(whole * cfg.colBlock)),
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  panel(r0, rEnd, n0, cfg.colBlock);
  b.setInsertionPointToStart(ifOp.elseBlock());
  panel(r0, rEnd, n0, tail);
}

void MatmulBlocker::panel(Value r0, Value rEnd, Value n0, int64_t cols) {
  // With one K chunk each row block initialises its C block right before
  // its micro-kernels read it (in cache); with several the item does,
  // before the first chunk.
  if (init && k > cfg.depthBlock)
    emitInit(r0, getAsOpFoldResult(im.sub(rEnd, r0)), n0, cols);
  forBlocks(k, cfg.depthBlock, [&](Value k0, int64_t depth) {
    // Pack B[k0:+depth, n0:+cols] sliver by sliver. An [N, K] B is packed
    // transposed: its [w, depth] block becomes the [depth, w] sliver.
    forBlocks(cols, cfg.sliver, [&](Value s0, int64_t w) {
      Value col = im.add(n0, s0);
      Value source = bTransposed ? sub(bMat, col, w, k0, depth)
                                 : sub(bMat, k0, depth, col, w);
      TilePackOp::create(b, source, sliverView(s0, depth, w),
                         /*scale=*/nullptr, /*transpose=*/bTransposed);
    });
    // Whole row blocks (only the last item has fewer rows than itemRows,
    // and its tail is m % rowBlock rows).
    Value blocks = im.div(im.sub(rEnd, r0), cfg.rowBlock);
    Value wholeEnd = im.add(r0, im.mul(blocks, cfg.rowBlock));
    if (m >= cfg.rowBlock)
      scf::ForOp::create(
          b, r0, wholeEnd, im.c(cfg.rowBlock), ValueRange{},
          [&](OpBuilder &nested, Location loc, Value m0, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(scf::YieldOp::create(nested, loc));
            rowBlock(m0, cfg.rowBlock, k0, depth, n0, cols);
          });
    if (int64_t rowTail = m % cfg.rowBlock) {
      auto ifOp = scf::IfOp::create(b, im.lt(wholeEnd, rEnd),
                                    /*withElseRegion=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      rowBlock(wholeEnd, rowTail, k0, depth, n0, cols);
    }
  });
}

void MatmulBlocker::rowBlock(Value m0, int64_t rows, Value k0, int64_t depth,
                             Value n0, int64_t cols) {
  // C[m0:+rows, n0 + s0:+w] += A[m0:+rows, k0:+depth] · sliver, per sliver;
  // accumulate: linalg.matmul adds to its init (and K comes in chunks).
  if (init && k <= cfg.depthBlock)
    emitInit(m0, b.getIndexAttr(rows), n0, cols);
  Value lhs = sub(a, m0, rows, k0, depth);
  forBlocks(cols, cfg.sliver, [&](Value s0, int64_t w) {
    TileMatmulOp::create(b, lhs, sliverView(s0, depth, w),
                         sub(c, m0, rows, im.add(n0, s0), w),
                         /*accumulate=*/true, /*transpose_lhs=*/false,
                         /*transpose_rhs=*/false);
  });
}

void MatmulBlocker::emitInit(Value r0, OpFoldResult rows, Value c0,
                             int64_t cols) {
  Value block = sub(c, r0, rows, c0, cols);
  if (auto fill = dyn_cast<linalg::FillOp>(init)) {
    linalg::FillOp::create(b, fill.getDpsInputs()[0], block);
    return;
  }
  auto bc = cast<linalg::BroadcastOp>(init);
  Value input = bc.getInput();
  auto inputTy = cast<MemRefType>(input.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  std::optional<int64_t> staticRows = getConstantIntValue(rows);
  if (staticRows && succeeded(inputTy.getStridesAndOffset(strides, offset)) &&
      strides[0] == 1) {
    // A block of static rows: the bias row seen as a [rows, cols] tile of
    // row stride 0, copied by attn.tile_pack (vector loads and stores;
    // linalg.broadcast becomes scalar loops).
    auto meta = memref::ExtractStridedMetadataOp::create(b, input);
    OpFoldResult start =
        getAsOpFoldResult(im.add(cast<Value>(meta.getOffset()), c0));
    auto rowsTy = MemRefType::get(
        {*staticRows, cols}, inputTy.getElementType(),
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {0, 1}));
    Value rowsView = memref::ReinterpretCastOp::create(
        b, rowsTy, meta.getBaseBuffer(), start,
        ArrayRef<OpFoldResult>{b.getIndexAttr(*staticRows),
                               b.getIndexAttr(cols)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(1)});
    TilePackOp::create(b, rowsView, block, /*scale=*/nullptr,
                       /*transpose=*/false);
    return;
  }
  Value bias = memref::SubViewOp::create(
      b, input, ArrayRef<OpFoldResult>{getAsOpFoldResult(c0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(cols)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  linalg::BroadcastOp::create(b, bias, block, ArrayRef<int64_t>{0});
}

struct AttnTileMatmulPass
    : public attn::impl::AttnTileMatmulBase<AttnTileMatmulPass> {
  using AttnTileMatmulBase::AttnTileMatmulBase;

  void runOnOperation() override {
    int64_t width = vectorWidth > 0 ? vectorWidth : hostVectorWidth();
    int64_t sliverCols = sliver > 0 ? int64_t(sliver) : 2 * width;
    if (rowBlock <= 0 || colBlock <= 0 || colBlock % width != 0 ||
        depthBlock <= 0 || rowBlock > limits::kMaxTileDim ||
        colBlock > limits::kMaxTileDim || depthBlock > limits::kMaxTileDim) {
      getOperation().emitError()
          << "row-block and depth-block must be in [1, " << limits::kMaxTileDim
          << "] and col-block a multiple of the vector width " << width
          << " in that range (got " << int64_t(rowBlock) << ", "
          << int64_t(depthBlock) << ", " << int64_t(colBlock) << ")";
      return signalPassFailure();
    }
    if (sliverCols % width != 0 || sliverCols > colBlock || itemRows <= 0) {
      getOperation().emitError()
          << "sliver must be a multiple of the vector width " << width
          << " and at most col-block, item-rows positive (got sliver "
          << sliverCols << ", item-rows " << int64_t(itemRows) << ")";
      return signalPassFailure();
    }
    Blocking cfg{width,      rowBlock, colBlock, depthBlock,
                 sliverCols, itemRows, workItems};
    SmallVector<linalg::MatmulOp> matmuls;
    getOperation().walk([&](linalg::MatmulOp op) {
      // C += A·B or A·Bᵀ on buffers (no broadcast maps), rows contiguous,
      // C in f32 (A and B may be f16/bf16: they are widened as read).
      if (op.hasPureBufferSemantics() &&
          (!op.hasUserDefinedMaps() || isTransposedB(op)) &&
          isTileable(op.getDpsInputs()[0], true) &&
          isTileable(op.getDpsInputs()[1], true) &&
          isTileable(op.getDpsInits()[0], false))
        matmuls.push_back(op);
    });
    for (linalg::MatmulOp op : matmuls) {
      int64_t n = cast<MemRefType>(op.getDpsInits()[0].getType()).getDimSize(1);
      if (n < width)
        continue; // no whole vector of columns: nothing to gain
      // Work items must sit in the function body (the runtime's ranges).
      bool items = workItems && isa<FunctionOpInterface>(op->getParentOp());
      Blocking opCfg = cfg;
      opCfg.workItems = items;
      MatmulBlocker(op, opCfg, findInit(op)).emit();
      op->erase();
    }
  }
};

} // namespace
