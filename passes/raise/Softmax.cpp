//===- Softmax.cpp - softmax and logit forms ------------------------------===//
#include "passes/raise/Raise.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn::raise;

bool mlir::attn::raise::isMaskingValue(double v, Type elt) {
  if (std::isinf(v) && v < 0)
    return true;
  // -1e9 and float's lowest are what masked_fill users write; with f16
  // the lowest finite value (-65504) is the only finite choice.
  return v <= -1e9 || (elt.isF16() && v <= -65504.0);
}

static bool isConst(const Expr *e, double v) {
  return e->kind == Expr::Const && e->value == v;
}

Expr *mlir::attn::raise::matchSoftmax(Expr *p, bool &stable, std::string &why) {
  stable = false;
  // p = e / sum(e) or e * (1 / sum(e)).
  Expr *num = nullptr, *den = nullptr;
  if (p->isOp("arith.divf")) {
    num = p->args[0];
    den = p->args[1];
  } else if (p->isOp("arith.mulf")) {
    for (int i = 0; i < 2; ++i) {
      Expr *r = p->args[i];
      if (r->isOp("arith.divf") && isConst(r->args[0], 1.0)) {
        num = p->args[1 - i];
        den = r->args[1];
      }
    }
  }
  if (!num) {
    why = "the attention weights are not a softmax (no e / sum(e))";
    return nullptr;
  }
  if (den->kind != Expr::RowSum || !isConst(den->args[1], 0.0) ||
      !sameExpr(den->args[0], num)) {
    why = "the softmax denominator is not the sum over keys of its "
          "numerator";
    return nullptr;
  }
  if (!num->isOp("math.exp")) {
    why = "the softmax numerator is not an exp";
    return nullptr;
  }
  Expr *z = num->args[0];
  // Stable: exp(x - max_j x). Any row constant would do mathematically;
  // accept the max of the same logits.
  if (z->isOp("arith.subf") && z->args[1]->kind == Expr::RowMax) {
    if (!sameExpr(z->args[1]->args[0], z->args[0]) ||
        z->args[1]->args[1]->kind != Expr::Const) {
      why = "the softmax subtracts a maximum of something else";
      return nullptr;
    }
    stable = true;
    return z->args[0];
  }
  return z;
}

LogicalResult mlir::attn::raise::matchLogits(Expr *x, Type elt, Logits &out,
                                             std::string &why) {
  // A positive scale outside the selects (seeds 003/004:
  // softmax(masked_fill(S, m, -inf) / sqrt(d))) is the same scale inside
  // them, as long as each masking value stays masking once scaled. A bias
  // under a scale would need the scale too: refused.
  double outer = 1.0;
  bool scaledOutside = false;
  auto masking = [&](const Expr *e) {
    return e->kind == Expr::Const && isMaskingValue(e->value, elt) &&
           isMaskingValue(e->value * outer, elt);
  };
  const char *badScale = "the scale is not a finite constant applied to the "
                         "scores before any mask or bias";
  while (x->kind != Expr::Scores) {
    if (x->isOp("arith.select")) {
      if (masking(x->args[1]) && x->args[2]->usesScores()) {
        out.selects.push_back({x->args[0], true});
        x = x->args[2];
      } else if (masking(x->args[2]) && x->args[1]->usesScores()) {
        out.selects.push_back({x->args[0], false});
        x = x->args[1];
      } else {
        why = "a select on the logits that does not mask with -inf";
        return failure();
      }
      continue;
    }
    if (x->isOp("arith.addf")) {
      bool lhs = x->args[0]->usesScores(), rhs = x->args[1]->usesScores();
      if (lhs == rhs) {
        why = "an addition of two terms that both (or neither) read scores";
        return failure();
      }
      if (scaledOutside) {
        why = badScale;
        return failure();
      }
      out.additive.push_back(x->args[lhs ? 1 : 0]);
      x = x->args[lhs ? 0 : 1];
      continue;
    }
    if (x->isOp("arith.mulf") || x->isOp("arith.divf")) {
      bool div = x->isOp("arith.divf");
      int s = x->args[0]->usesScores() ? 0 : 1;
      Expr *c = x->args[1 - s];
      if (!x->args[s]->usesScores() || c->kind != Expr::Const ||
          (div && s != 0) || c->value == 0 || !std::isfinite(c->value)) {
        why = badScale;
        return failure();
      }
      double factor = div ? 1.0 / c->value : c->value;
      if (x->args[s]->kind != Expr::Scores) {
        // Masks (or more scales) below: only a positive factor commutes
        // with -inf fills.
        if (!(factor > 0)) {
          why = badScale;
          return failure();
        }
        scaledOutside = true;
        outer *= factor;
      }
      out.scale *= factor;
      x = x->args[s];
      continue;
    }
    why = "the logits use an op that is not a scale, mask or bias: " +
          (x->kind == Expr::Op ? x->op->getName().getStringRef().str()
                               : std::string("a reduction or leaf"));
    return failure();
  }
  return success();
}
