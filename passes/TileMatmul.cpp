//===- TileMatmul.cpp - f32 linalg.matmul -> blocks of attn.tile_matmul ---===//
//
// A model's projections are plain matmuls; upstream lowers them to scalar
// loops. Here B is packed panel by panel (colBlock columns × depthBlock
// rows, contiguous: strided rows of a wide B cost a TLB miss per K step)
// and each panel feeds rowBlock-row blocks of attn.tile_matmul (the
// attention kernels' register-blocked micro-kernel, lowered by
// attn-vectorize-tiles), so the panel and an A block stay in L2 while the
// micro-kernel sweeps them. tile_matmul takes static shapes, so whole
// blocks run in loops and the tails get their own static sizes; columns
// past the last whole vector stay a linalg.matmul.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "dialect/Limits.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

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

class MatmulBlocker {
public:
  MatmulBlocker(linalg::MatmulOp op, int64_t width, int64_t rowBlock,
                int64_t colBlock, int64_t depthBlock)
      : b(op.getLoc(), op), a(op.getDpsInputs()[0]), bMat(op.getDpsInputs()[1]),
        c(op.getDpsInits()[0]), maps(op.getIndexingMapsAttr()),
        bTransposed(isTransposedB(op)), width(width), rowBlock(rowBlock),
        colBlock(colBlock), depthBlock(depthBlock) {
    auto at = cast<MemRefType>(a.getType());
    m = at.getDimSize(0);
    k = at.getDimSize(1);
    n = cast<MemRefType>(c.getType()).getDimSize(1);
  }

  void emit() {
    int64_t vectorCols = n - n % width;
    // The packed B panel: one scratch at the function's entry, so the
    // loops below allocate nothing.
    {
      OpBuilder::InsertionGuard guard(b);
      auto func = b.getInsertionBlock()->getParentOp();
      while (!isa<FunctionOpInterface>(func))
        func = func->getParentOp();
      b.setInsertionPointToStart(&func->getRegion(0).front());
      auto panelType = MemRefType::get(
          {std::min(depthBlock, k), std::min(colBlock, vectorCols)},
          b.getF32Type());
      panel = memref::AllocaOp::create(b, panelType);
    }
    // Column panels outside, then K chunks (pack the panel's chunk once),
    // then row blocks that reuse it; whole blocks in loops, tails after.
    forBlocks(vectorCols, colBlock, [&](Value n0, int64_t cols) {
      forBlocks(k, depthBlock, [&](Value k0, int64_t depth) {
        Value zero = c0();
        Value packed = sub(panel, zero, depth, zero, cols);
        // A [N, K] B is packed transposed: the panel is [depth, cols].
        Value source = bTransposed ? sub(bMat, n0, cols, k0, depth)
                                   : sub(bMat, k0, depth, n0, cols);
        TilePackOp::create(b, source, packed, /*scale=*/nullptr,
                           /*transpose=*/bTransposed);
        forBlocks(m, rowBlock, [&](Value m0, int64_t rows) {
          block(m0, rows, k0, depth, n0, cols, packed);
        });
      });
    });
    if (vectorCols < n) {
      Value zero = c0();
      Value strip = arith::ConstantIndexOp::create(b, vectorCols);
      Value bStrip = bTransposed ? sub(bMat, strip, n - vectorCols, zero, k)
                                 : sub(bMat, zero, k, strip, n - vectorCols);
      auto tail = linalg::MatmulOp::create(
          b, ValueRange{sub(a, zero, m, zero, k), bStrip},
          ValueRange{sub(c, zero, m, strip, n - vectorCols)});
      tail.setIndexingMapsAttr(maps);
    }
  }

private:
  Value c0() { return arith::ConstantIndexOp::create(b, 0); }

  /// fn(start, size) over [0, extent): `extent / size` blocks of `size` in
  /// an scf.for, then one of `extent % size`.
  void forBlocks(int64_t extent, int64_t size,
                 llvm::function_ref<void(Value, int64_t)> fn) {
    int64_t whole = extent / size, tail = extent % size;
    if (whole == 1) {
      fn(c0(), size);
    } else if (whole > 1) {
      scf::ForOp::create(
          b, c0(), arith::ConstantIndexOp::create(b, whole * size),
          arith::ConstantIndexOp::create(b, size), ValueRange{},
          [&](OpBuilder &nested, Location loc, Value iv, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(scf::YieldOp::create(nested, loc));
            fn(iv, size);
          });
    }
    if (tail)
      fn(arith::ConstantIndexOp::create(b, whole * size), tail);
  }

  Value sub(Value v, Value r0, int64_t rows, Value col0, int64_t cols) {
    // Constant offsets fold into the type (static strided layouts).
    SmallVector<OpFoldResult> offsets{getAsOpFoldResult(r0),
                                      getAsOpFoldResult(col0)};
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(rows), b.getIndexAttr(cols)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    return memref::SubViewOp::create(b, v, offsets, sizes, strides);
  }

  /// C[m0:+rows, n0:+cols] += A[m0:+rows, k0:+depth] · packed, the
  /// packed copy of B[k0:+depth, n0:+cols].
  void block(Value m0, int64_t rows, Value k0, int64_t depth, Value n0,
             int64_t cols, Value packed) {
    // accumulate: linalg.matmul adds to its init (and K comes in chunks).
    TileMatmulOp::create(b, sub(a, m0, rows, k0, depth), packed,
                         sub(c, m0, rows, n0, cols), /*accumulate=*/true,
                         /*transpose_lhs=*/false, /*transpose_rhs=*/false);
  }

  ImplicitLocOpBuilder b;
  Value a, bMat, c, panel;
  ArrayAttr maps;
  bool bTransposed;
  int64_t width, rowBlock, colBlock, depthBlock, m = 0, k = 0, n = 0;
};

struct AttnTileMatmulPass
    : public attn::impl::AttnTileMatmulBase<AttnTileMatmulPass> {
  using AttnTileMatmulBase::AttnTileMatmulBase;

  void runOnOperation() override {
    int64_t width = vectorWidth > 0 ? vectorWidth : hostVectorWidth();
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
      MatmulBlocker(op, width, rowBlock, colBlock, depthBlock).emit();
      op->erase();
    }
  }
};

} // namespace
