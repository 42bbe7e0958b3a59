//===- ElementExpr.cpp - naive attention as scalar expressions ------------===//
//
// Front ends spread one softmax over several ops (TOSA: reduce_max, expand
// to keep dims, a broadcasting sub, exp, reduce_sum, reciprocal, mul);
// others fuse it into one generic. Inlining every op into one expression
// over the canonical space makes those spellings compare equal.
//
//===----------------------------------------------------------------------===//
#include "passes/raise/Raise.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::attn::raise;

bool Expr::usesScores() const {
  if (kind == Scores || kind == RowMax || kind == RowSum)
    return true;
  return llvm::any_of(args, [](Expr *a) { return a->usesScores(); });
}

bool mlir::attn::raise::sameExpr(const Expr *a, const Expr *b) {
  if (a == b)
    return true;
  if (a->kind != b->kind || a->args.size() != b->args.size())
    return false;
  switch (a->kind) {
  case Expr::Scores:
    return true;
  case Expr::Const:
    return a->value == b->value;
  case Expr::Index:
    return a->dim == b->dim;
  case Expr::Leaf:
    return a->tensor == b->tensor && a->access == b->access;
  case Expr::Op:
    if (a->op->getName() != b->op->getName() ||
        a->op->getAttrDictionary() != b->op->getAttrDictionary())
      return false;
    break;
  case Expr::RowMax:
  case Expr::RowSum:
    break;
  }
  for (auto [x, y] : llvm::zip(a->args, b->args))
    if (!sameExpr(x, y))
      return false;
  return true;
}

Expr *ExprBuilder::make(Expr::Kind kind) {
  storage.emplace_back();
  storage.back().kind = kind;
  return &storage.back();
}

/// The scalar of a splat constant (float, integer or bool), if `v` is one.
static std::optional<double> splatValue(Value v) {
  Attribute attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (!dense.isSplat())
      return std::nullopt;
    attr = dense.getSplatValue<Attribute>();
  }
  if (auto f = dyn_cast<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto i = dyn_cast<IntegerAttr>(attr))
    return i.getType().isInteger(1)
               ? static_cast<double>(i.getValue().getBoolValue())
               : static_cast<double>(i.getValue().getSExtValue());
  return std::nullopt;
}

/// Access of a reshape's source from the access of its result, when the
/// reshape only inserts or drops unit dims (one non-unit dim per group).
static FailureOr<AffineMap> throughReshape(Operation *op, AffineMap access) {
  MLIRContext *ctx = op->getContext();
  SmallVector<AffineExpr> results;
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    ArrayRef<int64_t> shape = expand.getResultType().getShape();
    for (const auto &group : expand.getReassociationIndices()) {
      AffineExpr e = getAffineConstantExpr(0, ctx);
      int nonUnit = 0;
      for (int64_t d : group)
        if (shape[d] != 1) {
          e = access.getResult(d);
          ++nonUnit;
        }
      if (nonUnit > 1 || ShapedType::isDynamic(shape[group.front()]))
        return failure();
      results.push_back(e);
    }
  } else {
    auto collapse = cast<tensor::CollapseShapeOp>(op);
    ArrayRef<int64_t> shape = collapse.getSrcType().getShape();
    for (auto [k, group] :
         llvm::enumerate(collapse.getReassociationIndices())) {
      int nonUnit = 0;
      for (int64_t d : group)
        nonUnit += shape[d] != 1;
      if (nonUnit > 1)
        return failure();
      for (int64_t d : group)
        results.push_back(shape[d] == 1 ? getAffineConstantExpr(0, ctx)
                                        : access.getResult(k));
    }
  }
  return AffineMap::get(access.getNumDims(), 0, results, ctx);
}

Expr *ExprBuilder::build(Value v, AffineMap access) {
  auto key = std::make_pair(v, access);
  if (Expr *known = memo.lookup(key))
    return known;
  Expr *e = nullptr;
  if (v == scores && access.isIdentity()) {
    e = make(Expr::Scores);
  } else if (std::optional<double> c = splatValue(v)) {
    e = make(Expr::Const);
    e->value = *c;
  } else if (matchPattern(v, m_Constant())) {
    e = make(Expr::Leaf);
    e->tensor = v;
    e->access = access;
  } else if (Operation *def = v.getDefiningOp()) {
    if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def)) {
      FailureOr<AffineMap> src = throughReshape(def, access);
      if (failed(src))
        return fail("a reshape that is not a unit-dim insert/drop");
      e = build(def->getOperand(0), *src);
    } else if (auto castOp = dyn_cast<tensor::CastOp>(def)) {
      e = build(castOp.getSource(), access);
    } else if (auto bcast = dyn_cast<linalg::BroadcastOp>(def)) {
      SmallVector<AffineExpr> kept;
      for (unsigned d = 0; d < access.getNumResults(); ++d)
        if (!llvm::is_contained(bcast.getDimensions(), d))
          kept.push_back(access.getResult(d));
      e = build(bcast.getInput(),
                AffineMap::get(rank, 0, kept, v.getContext()));
    } else if (auto tr = dyn_cast<linalg::TransposeOp>(def)) {
      ArrayRef<int64_t> perm = tr.getPermutation();
      SmallVector<AffineExpr> in(perm.size());
      for (auto [r, p] : llvm::enumerate(perm))
        in[p] = access.getResult(r);
      e = build(tr.getInput(), AffineMap::get(rank, 0, in, v.getContext()));
    } else if (auto fill = dyn_cast<linalg::FillOp>(def)) {
      std::optional<double> c = splatValue(fill.value());
      if (!c)
        return fail("a linalg.fill of a non-constant value");
      e = make(Expr::Const);
      e->value = *c;
    } else if (auto lop = dyn_cast<linalg::LinalgOp>(def)) {
      if (isa<linalg::SoftmaxOp>(def))
        return fail("a linalg.softmax not directly feeding P·V");
      e = buildLinalg(lop, cast<OpResult>(v).getResultNumber(), access);
    } else if (isa<tensor::EmptyOp>(def)) {
      return fail("reads an uninitialized tensor.empty");
    }
  }
  if (!e && why.empty()) {
    // Anything else (function arguments, unknown producers) is data.
    e = make(Expr::Leaf);
    e->tensor = v;
    e->access = access;
  }
  if (e)
    memo[key] = e;
  return e;
}

Expr *ExprBuilder::buildLinalg(linalg::LinalgOp op, unsigned resultNo,
                               AffineMap access) {
  MLIRContext *ctx = op->getContext();
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() <= resultNo)
    return fail("a linalg op that is not on tensors");
  OpOperand *init = op.getDpsInitOperand(resultNo);
  AffineMap out = op.getMatchingIndexingMap(init);
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  SmallVector<unsigned> reductions;
  for (auto [l, it] : llvm::enumerate(iters))
    if (it == utils::IteratorType::reduction)
      reductions.push_back(l);

  SmallVector<AffineExpr> loops(iters.size());
  if (reductions.empty()) {
    if (!out.isPermutation())
      return fail("an elementwise op whose output map is not a permutation");
    for (auto [p, r] : llvm::enumerate(out.getResults()))
      loops[cast<AffineDimExpr>(r).getPosition()] = access.getResult(p);
  } else {
    // A row reduction: the reduced loop runs along the key index j.
    if (reductions.size() != 1 || access.isFunctionOfDim(rank - 1) ||
        op.getNumDpsInits() != 1 || !out.isProjectedPermutation() ||
        out.getNumResults() + 1 != iters.size())
      return fail("a reduction that is not one reduction over keys");
    for (auto [p, r] : llvm::enumerate(out.getResults()))
      loops[cast<AffineDimExpr>(r).getPosition()] = access.getResult(p);
    loops[reductions.front()] = getAffineDimExpr(rank - 1, ctx);
  }
  AffineMap loopMap = AffineMap::get(rank, 0, loops, ctx);

  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  Value yielded = yield.getOperand(resultNo);
  DenseMap<Value, Expr *> args;
  if (reductions.empty())
    return buildBody(op, yielded, loopMap, args, 0);

  Value outArg = body->getArgument(init->getOperandNumber());
  Operation *combine = yielded.getDefiningOp();
  if (!combine || combine->getNumOperands() != 2 ||
      !isa<arith::AddFOp, arith::MaximumFOp, arith::MaxNumFOp>(combine))
    return fail("a reduction that is neither a sum nor a max");
  Value other = combine->getOperand(0) == outArg   ? combine->getOperand(1)
                : combine->getOperand(1) == outArg ? combine->getOperand(0)
                                                   : Value();
  if (!other)
    return fail("a reduction whose body does not accumulate");
  Expr *elem = buildBody(op, other, loopMap, args, 0);
  Expr *initExpr = elem ? build(init->get(), access) : nullptr;
  if (!initExpr)
    return nullptr;
  Expr *e = make(isa<arith::AddFOp>(combine) ? Expr::RowSum : Expr::RowMax);
  e->args = {elem, initExpr};
  return e;
}

Expr *ExprBuilder::buildBody(linalg::LinalgOp op, Value v, AffineMap loops,
                             DenseMap<Value, Expr *> &args, int depth) {
  if (Expr *known = args.lookup(v))
    return known;
  if (depth > 64)
    return fail("an elementwise body deeper than 64 ops");
  Block *body = op.getBlock();
  Expr *e = nullptr;
  if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getOwner() == body) {
    OpOperand &operand = op->getOpOperand(arg.getArgNumber());
    if (isa<RankedTensorType>(operand.get().getType())) {
      e = build(operand.get(),
                op.getMatchingIndexingMap(&operand).compose(loops));
    } else if (std::optional<double> c = splatValue(operand.get())) {
      e = make(Expr::Const);
      e->value = *c;
    } else {
      return fail("an elementwise op reading a non-constant scalar");
    }
  } else if (std::optional<double> c = splatValue(v)) {
    e = make(Expr::Const);
    e->value = *c;
  } else if (v.getParentBlock() != body || !v.getDefiningOp()) {
    return fail("an elementwise body using a value from outside");
  } else if (auto index = v.getDefiningOp<linalg::IndexOp>()) {
    AffineExpr l = loops.getResult(index.getDim());
    if (auto d = dyn_cast<AffineDimExpr>(l)) {
      e = make(Expr::Index);
      e->dim = d.getPosition();
    } else if (auto c = dyn_cast<AffineConstantExpr>(l)) {
      e = make(Expr::Const);
      e->value = c.getValue();
    } else {
      return fail("a linalg.index of a composite loop");
    }
  } else {
    Operation *def = v.getDefiningOp();
    if (def->getNumResults() != 1 || def->getNumRegions() != 0 ||
        !isa<arith::ArithDialect, math::MathDialect>(def->getDialect()))
      return fail("an op other than arith/math in an elementwise body: " +
                  def->getName().getStringRef());
    e = make(Expr::Op);
    e->op = def;
    for (Value operand : def->getOperands()) {
      Expr *a = buildBody(op, operand, loops, args, depth + 1);
      if (!a)
        return nullptr;
      e->args.push_back(a);
    }
  }
  if (e)
    args[v] = e;
  return e;
}
