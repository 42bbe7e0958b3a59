//===- ScoreModDerivative.cpp - forward-mode derivative of a score_mod ----===//
//
// Each op of the region is cloned (its primal value is needed by the
// rules), then, when one of its operands depends on the score, its tangent
// is emitted from the operands' tangents. A missing tangent stands for an
// exact zero, so that nothing is multiplied by 0 at run time (x * 0 is not
// 0 for an infinite x, and arith does not fold it). Primal ops the
// derivative does not use are erased at the end.
//
//===----------------------------------------------------------------------===//
#include "passes/ScoreModDerivative.h"
#include "passes/Passes.h"

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <numbers>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNDIFFERENTIATESCOREMOD
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class Differentiator {
public:
  Differentiator(Location loc, Block &into) : b(loc, &into, into.end()) {}

  /// Clones `op` and records its result's tangent; fails (located) where
  /// the op depends on the score and has no rule.
  LogicalResult visit(Operation &op);
  /// The tangent of `old` (a value of the source region), null for zero.
  Value tangentOf(Value old) const { return tangents.lookup(old); }

  ImplicitLocOpBuilder b;
  IRMapping map;
  DenseMap<Value, Value> tangents;

private:
  Value cst(Type t, double v) {
    return arith::ConstantOp::create(b, b.getFloatAttr(t, v));
  }
  Value add(Value x, Value y) {
    if (!x || !y)
      return x ? x : y;
    return arith::AddFOp::create(b, x, y);
  }
  Value sub(Value x, Value y) {
    if (!y)
      return x;
    if (!x)
      return arith::NegFOp::create(b, y);
    return arith::SubFOp::create(b, x, y);
  }
  /// `x * t`, zero when the tangent `t` is.
  Value scaled(Value x, Value t) {
    return t ? arith::MulFOp::create(b, x, t).getResult() : Value();
  }
  Value orZero(Value t, Type type) { return t ? t : cst(type, 0.0); }
  /// The tangent of a one-result op from its (mapped) operands `x`, their
  /// tangents `t` and its (cloned) result `y`; failure: no rule.
  FailureOr<Value> rule(Operation &op, ArrayRef<Value> x, ArrayRef<Value> t,
                        Value y);
  FailureOr<Value> mathRule(Operation &op, ArrayRef<Value> x, Value t, Value y);
};

FailureOr<Value> Differentiator::mathRule(Operation &op, ArrayRef<Value> x,
                                          Value t, Value y) {
  Type ty = y.getType();
  Value a = x[0];
  auto mul = [&](Value p, Value q) { return arith::MulFOp::create(b, p, q); };
  auto div = [&](Value p, Value q) { return arith::DivFOp::create(b, p, q); };
  auto one = [&] { return cst(ty, 1.0); };
  return llvm::TypeSwitch<Operation *, FailureOr<Value>>(&op)
      // exp: y t; exp2: ln2 y t; expm1: (y + 1) t.
      .Case([&](math::ExpOp) -> Value { return mul(y, t); })
      .Case([&](math::Exp2Op) -> Value {
        return mul(mul(y, cst(ty, std::numbers::ln2)), t);
      })
      .Case([&](math::ExpM1Op) -> Value {
        return mul(arith::AddFOp::create(b, y, one()), t);
      })
      // log: t / a; log2: t / (a ln2); log10: t / (a ln10); log1p: t / (1+a).
      .Case([&](math::LogOp) -> Value { return div(t, a); })
      .Case([&](math::Log2Op) -> Value {
        return div(t, mul(a, cst(ty, std::numbers::ln2)));
      })
      .Case([&](math::Log10Op) -> Value {
        return div(t, mul(a, cst(ty, std::numbers::ln10)));
      })
      .Case([&](math::Log1pOp) -> Value {
        return div(t, arith::AddFOp::create(b, a, one()));
      })
      // tanh: (1 - y²) t.
      .Case([&](math::TanhOp) -> Value {
        return mul(arith::SubFOp::create(b, one(), mul(y, y)), t);
      })
      // sqrt: t / (2 y); rsqrt = a^-1/2: -y³ t / 2.
      .Case([&](math::SqrtOp) -> Value { return div(mul(t, cst(ty, 0.5)), y); })
      .Case([&](math::RsqrtOp) -> Value {
        return mul(mul(mul(y, y), mul(y, cst(ty, -0.5))), t);
      })
      // sin: cos(a) t; cos: -sin(a) t.
      .Case([&](math::SinOp) -> Value {
        return mul(math::CosOp::create(b, a), t);
      })
      .Case([&](math::CosOp) -> Value {
        return mul(arith::NegFOp::create(b, math::SinOp::create(b, a)), t);
      })
      // erf: 2/√π exp(-a²) t; atan: t / (1 + a²).
      .Case([&](math::ErfOp) -> Value {
        Value e = math::ExpOp::create(b, arith::NegFOp::create(b, mul(a, a)));
        return mul(mul(e, cst(ty, 2 / std::sqrt(std::numbers::pi))), t);
      })
      .Case([&](math::AtanOp) -> Value {
        return div(t, arith::AddFOp::create(b, one(), mul(a, a)));
      })
      // |a|: sign(a) t.
      .Case([&](math::AbsFOp) -> Value {
        return mul(math::CopySignOp::create(b, one(), a), t);
      })
      // Piecewise constant: 0 almost everywhere.
      .Case<math::FloorOp, math::CeilOp, math::RoundOp, math::RoundEvenOp,
            math::TruncOp>([&](auto) -> Value { return Value(); })
      .Default([&](Operation *) { return failure(); });
}

FailureOr<Value> Differentiator::rule(Operation &op, ArrayRef<Value> x,
                                      ArrayRef<Value> t, Value y) {
  Type ty = y.getType();
  auto mul = [&](Value p, Value q) {
    return arith::MulFOp::create(b, p, q).getResult();
  };
  auto pick = [&](arith::CmpFPredicate pred) -> Value {
    // max/min: the tangent of the operand that is picked (ties: the first).
    Value c = arith::CmpFOp::create(b, pred, x[0], x[1]);
    return arith::SelectOp::create(b, c, orZero(t[0], ty), orZero(t[1], ty));
  };
  FailureOr<Value> out =
      llvm::TypeSwitch<Operation *, FailureOr<Value>>(&op)
          .Case([&](arith::AddFOp) { return add(t[0], t[1]); })
          .Case([&](arith::SubFOp) { return sub(t[0], t[1]); })
          .Case([&](arith::NegFOp) { return sub(Value(), t[0]); })
          .Case([&](arith::MulFOp) {
            return add(scaled(x[1], t[0]), scaled(x[0], t[1]));
          })
          // (a / b)' = (ta - y tb) / b.
          .Case([&](arith::DivFOp) -> Value {
            Value num = sub(t[0], scaled(y, t[1]));
            return arith::DivFOp::create(b, num, x[1]);
          })
          // a rem b = a - trunc(a / b) b.
          .Case([&](arith::RemFOp) {
            Value q =
                math::TruncOp::create(b, arith::DivFOp::create(b, x[0], x[1]));
            return sub(t[0], scaled(q, t[1]));
          })
          .Case<arith::MaximumFOp, arith::MaxNumFOp>(
              [&](auto) { return pick(arith::CmpFPredicate::OGE); })
          .Case<arith::MinimumFOp, arith::MinNumFOp>(
              [&](auto) { return pick(arith::CmpFPredicate::OLE); })
          .Case([&](arith::SelectOp) -> Value {
            if (!t[1] && !t[2])
              return Value(); // only the condition depends on the score
            return arith::SelectOp::create(b, x[0], orZero(t[1], ty),
                                           orZero(t[2], ty));
          })
          .Case([&](arith::ExtFOp) -> Value {
            return arith::ExtFOp::create(b, ty, t[0]);
          })
          .Case([&](arith::TruncFOp) -> Value {
            return arith::TruncFOp::create(b, ty, t[0]);
          })
          .Case([&](math::FmaOp) {
            return add(add(scaled(x[1], t[0]), scaled(x[0], t[1])), t[2]);
          })
          // a^c: c a^(c-1) ta + ln(a) y tc.
          .Case([&](math::PowFOp) {
            Value ta;
            if (t[0]) {
              Value cm1 = arith::SubFOp::create(b, x[1], cst(ty, 1.0));
              ta = mul(mul(x[1], math::PowFOp::create(b, x[0], cm1)), t[0]);
            }
            Value tc;
            if (t[1])
              tc = mul(mul(math::LogOp::create(b, x[0]), y), t[1]);
            return add(ta, tc);
          })
          .Default([&](Operation *) {
            if (llvm::count_if(t, [](Value v) { return bool(v); }) != 1)
              return FailureOr<Value>(failure());
            return mathRule(op, x, t[0], y);
          });
  return out;
}

LogicalResult Differentiator::visit(Operation &op) {
  Operation *clone = b.clone(op, map);
  SmallVector<Value> t;
  bool active = false;
  for (Value operand : op.getOperands()) {
    t.push_back(tangentOf(operand));
    active |= bool(t.back());
  }
  // A nested region may use the score without the op taking it.
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(op.getRegions(), captured);
  active |= llvm::any_of(captured, [&](Value v) { return tangentOf(v); });
  if (!active)
    return success(); // a constant with respect to the score
  auto fail = [&](StringRef why) -> LogicalResult {
    return op.emitError("attn-differentiate-score-mod: cannot differentiate '")
           << op.getName() << "' with respect to the score" << why;
  };
  if (op.getNumRegions() != 0 || op.getNumResults() != 1)
    return fail(" (only one-result ops without regions)");
  Value y = clone->getResult(0);
  // Results that carry no derivative: comparisons (an i1 that selects) and
  // float-to-integer conversions (piecewise constant).
  if (isa<arith::CmpFOp, arith::FPToSIOp, arith::FPToUIOp>(op))
    return success();
  if (!isa<FloatType>(y.getType()))
    return fail(" (a non-float result)");
  SmallVector<Value> x(clone->getOperands());
  b.setLoc(op.getLoc());
  FailureOr<Value> dy = rule(op, x, t, y);
  if (failed(dy))
    return fail(" (no derivative rule)");
  if (*dy)
    tangents[op.getResult(0)] = *dy;
  return success();
}

} // namespace

LogicalResult mlir::attn::buildScoreModDerivative(Region &scoreMod,
                                                  Region &into) {
  assert(into.empty() && "the derivative region is built from scratch");
  Block &src = scoreMod.front();
  Block *dst = new Block();
  into.push_back(dst);
  for (BlockArgument a : src.getArguments())
    dst->addArgument(a.getType(), a.getLoc());
  Differentiator d(scoreMod.getLoc(), *dst);
  d.map.map(src.getArguments(), dst->getArguments());
  Value score = src.getArgument(0);
  d.tangents[score] =
      arith::ConstantOp::create(d.b, d.b.getFloatAttr(score.getType(), 1.0));
  for (Operation &op : src.without_terminator())
    if (failed(d.visit(op))) {
      into.getBlocks().clear();
      return failure();
    }
  auto yield = cast<YieldOp>(src.getTerminator());
  Value dy = d.tangentOf(yield.getValue());
  d.b.setLoc(yield.getLoc());
  if (!dy)
    dy = arith::ConstantOp::create(
        d.b, d.b.getFloatAttr(yield.getValue().getType(), 0.0));
  YieldOp::create(d.b, dy);
  // Primal values the derivative does not use.
  SmallVector<Operation *> ops;
  for (Operation &op : dst->without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
  return success();
}

namespace {
struct DifferentiateScoreModPass
    : attn::impl::AttnDifferentiateScoreModBase<DifferentiateScoreModPass> {
  void runOnOperation() override {
    WalkResult r = getOperation()->walk([](AttentionGradOp op) {
      if (op.getScoreMod().empty() || !op.getScoreModGrad().empty())
        return WalkResult::advance();
      return failed(buildScoreModDerivative(op.getScoreMod(),
                                            op.getScoreModGrad()))
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
