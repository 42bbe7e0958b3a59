//===- ExprEval.cpp - evaluating mask expressions exhaustively ------------===//
//
// Masks built from indices (iota/compare/select, triangles of -inf) or
// from constant buffers are checked by evaluating them at every (query,
// key) pair rather than by matching their syntax: a mask is raised as
// causal only when it is causal at every pair.
//
//===----------------------------------------------------------------------===//
#include "passes/raise/Raise.h"

#include "dialect/ArithCompare.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn::raise;

bool mlir::attn::raise::isStaticPattern(const Expr *e, unsigned rank) {
  switch (e->kind) {
  case Expr::Const:
    return true;
  case Expr::Index:
    return e->dim + 2 >= rank;
  case Expr::Leaf: {
    if (!matchPattern(e->tensor, m_Constant()))
      return false;
    for (unsigned d = 0; d + 2 < rank; ++d)
      if (e->access.isFunctionOfDim(d))
        return false;
    return true;
  }
  case Expr::Op:
    return llvm::all_of(e->args,
                        [&](Expr *a) { return isStaticPattern(a, rank); });
  default:
    return false;
  }
}

void mlir::attn::raise::collectLeaves(const Expr *e,
                                      SmallVectorImpl<const Expr *> &leaves) {
  if (e->kind == Expr::Leaf && !llvm::is_contained(leaves, e))
    leaves.push_back(e);
  for (const Expr *a : e->args)
    collectLeaves(a, leaves);
}

/// Element `idx` of a constant tensor as a double.
static std::optional<double> element(Value tensor, ArrayRef<int64_t> idx) {
  DenseElementsAttr dense;
  if (!matchPattern(tensor, m_Constant(&dense)))
    return std::nullopt;
  auto type = cast<ShapedType>(dense.getType());
  int64_t flat = 0;
  for (auto [d, i] : llvm::enumerate(idx)) {
    if (i < 0 || i >= type.getDimSize(d))
      return std::nullopt;
    flat = flat * type.getDimSize(d) + i;
  }
  if (dense.isSplat())
    flat = 0;
  Type elt = type.getElementType();
  if (isa<FloatType>(elt))
    return APFloat(*(dense.getValues<APFloat>().begin() + flat))
        .convertToDouble();
  if (auto it = dyn_cast<IntegerType>(elt)) {
    APInt v = *(dense.getValues<APInt>().begin() + flat);
    return it.getWidth() == 1 ? static_cast<double>(v.getBoolValue())
                              : static_cast<double>(v.getSExtValue());
  }
  return std::nullopt;
}

std::optional<double> mlir::attn::raise::evaluate(const Expr *e,
                                                  ArrayRef<int64_t> point) {
  switch (e->kind) {
  case Expr::Const:
    return e->value;
  case Expr::Index:
    return static_cast<double>(point[e->dim]);
  case Expr::Leaf: {
    SmallVector<int64_t> idx = e->access.compose(point);
    return element(e->tensor, idx);
  }
  case Expr::Op:
    break;
  default:
    return std::nullopt;
  }
  SmallVector<double, 3> a;
  for (const Expr *arg : e->args) {
    std::optional<double> v = evaluate(arg, point);
    if (!v)
      return std::nullopt;
    a.push_back(*v);
  }
  Operation *op = e->op;
  if (isa<arith::AddFOp, arith::AddIOp>(op))
    return a[0] + a[1];
  if (isa<arith::SubFOp, arith::SubIOp>(op))
    return a[0] - a[1];
  if (isa<arith::MulFOp, arith::MulIOp>(op))
    return a[0] * a[1];
  if (isa<arith::DivFOp>(op))
    return a[0] / a[1];
  if (isa<arith::NegFOp>(op))
    return -a[0];
  if (isa<arith::MaximumFOp, arith::MaxNumFOp, arith::MaxSIOp>(op))
    return std::max(a[0], a[1]);
  if (isa<arith::MinimumFOp, arith::MinNumFOp, arith::MinSIOp>(op))
    return std::min(a[0], a[1]);
  if (isa<arith::SelectOp>(op))
    return a[0] != 0 ? a[1] : a[2];
  if (isa<arith::ExtFOp, arith::TruncFOp, arith::SIToFPOp, arith::UIToFPOp,
          arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtUIOp>(op))
    return a[0];
  if (isa<arith::ExtSIOp>(op))
    return op->getOperand(0).getType().isInteger(1) && a[0] != 0 ? -1.0 : a[0];
  if (isa<arith::XOrIOp, arith::AndIOp, arith::OrIOp>(op)) {
    // Only as boolean logic: integer bit tricks are not mask shapes.
    if (!op->getResult(0).getType().isInteger(1))
      return std::nullopt;
    bool x = a[0] != 0, y = a[1] != 0;
    return isa<arith::XOrIOp>(op)   ? x != y
           : isa<arith::AndIOp>(op) ? (x && y)
                                    : (x || y);
  }
  if (auto c = dyn_cast<arith::CmpFOp>(op))
    return cmpF(c.getPredicate(), a[0], a[1]) ? 1.0 : 0.0;
  if (auto c = dyn_cast<arith::CmpIOp>(op)) {
    Type t = c.getLhs().getType();
    unsigned width = t.isIndex() ? 64 : t.getIntOrFloatBitWidth();
    return cmpI(c.getPredicate(), static_cast<int64_t>(a[0]),
                static_cast<int64_t>(a[1]), width)
               ? 1.0
               : 0.0;
  }
  return std::nullopt;
}
