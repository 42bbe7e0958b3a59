//===- MergeStates.cpp - attn.merge_states -> a parallel combine loop -----===//
//
// One work item per (batch, head): its N states are a strided [N, S, Dv]
// view and their lse an [N, S] view, merged by attn.tile_combine, the same
// vectorized step that merges the KV splits of flash-decoding (one
// definition of the lse-weighted merge).
//
//===----------------------------------------------------------------------===//
#include "passes/MergeStates.h"
#include "passes/FlashEmitter.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult mlir::attn::lowerMergeStates(MergeStatesOp op) {
  auto sTy = op.getStates().getType();
  if (!sTy.hasStaticShape() || !op.getOutput().getType().hasStaticShape())
    return op.emitOpError("attn-lower-cache-ops needs static shapes (the "
                          "runtime compiles one kernel per shape)");
  auto s = sTy.getShape();
  int64_t n = s[0], batch = s[1], heads = s[2], rows = s[3], dv = s[4];
  ImplicitLocOpBuilder b(op.getLoc(), op);
  IndexMath im{b};
  int64_t items = batch * heads;
  auto forall =
      scf::ForallOp::create(b, ArrayRef<OpFoldResult>{b.getIndexAttr(items)},
                            ValueRange(), std::nullopt);
  markWorkItems(forall);
  // Empty rows or heads: no body (views of zero-sized buffers would not
  // verify).
  if (items > 0 && rows > 0 && dv > 0) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    Value item = forall.getInductionVar(0);
    Value h = im.rem(item, heads), b0 = im.div(item, heads);
    auto idx = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
    Value parts = rankReducedView(
        b, op.getStates(), {idx(0), b0, h, idx(0), idx(0)},
        {idx(n), idx(1), idx(1), idx(rows), idx(dv)}, {n, rows, dv});
    Value partLse =
        rankReducedView(b, op.getStateLse(), {idx(0), b0, h, idx(0)},
                        {idx(n), idx(1), idx(1), idx(rows)}, {n, rows});
    Value out =
        rankReducedView(b, op.getOutput(), {b0, h, idx(0), idx(0)},
                        {idx(1), idx(1), idx(rows), idx(dv)}, {rows, dv});
    Value lse;
    if (op.getLse())
      lse = rankReducedView(b, op.getLse(), {b0, h, idx(0)},
                            {idx(1), idx(1), idx(rows)}, {rows});
    TileCombineOp::create(b, parts, partLse, out, lse);
  }
  op->erase();
  return success();
}
