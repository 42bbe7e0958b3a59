//===- Raise.h - shared pieces of attn-raise-attention ---------*- C++ -*-===//
//
// attn-raise-attention reads naive attention (two contractions around a
// softmax) as scalar expressions over the score matrix's iteration space
// (batch dims..., query i, key j): every elementwise linalg op, reduction,
// broadcast, transpose and unit-dim reshape between the two contractions
// is inlined into one expression DAG (ExprBuilder), which is then matched
// against softmax / scale / mask forms without caring how a front end
// split the computation into ops.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_RAISE_RAISE_H
#define ATTN_PASSES_RAISE_RAISE_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <deque>
#include <optional>
#include <string>

namespace mlir::attn::raise {

/// One scalar of the expression DAG, at a point of the canonical space.
struct Expr {
  enum Kind {
    Scores, ///< the Q·Kᵀ contraction's result at the point
    Const,  ///< a scalar constant (`value`)
    Index,  ///< the canonical loop index `dim`
    Leaf,   ///< element `access(point)` of `tensor` (arguments, constants)
    Op,     ///< an arith/math op (`op`) applied to `args`
    RowMax, ///< max over j of args[0] (args[1]: the init)
    RowSum, ///< sum over j of args[0] (args[1]: the init)
  };
  Kind kind = Const;
  double value = 0;
  unsigned dim = 0;
  Value tensor;
  AffineMap access;
  Operation *op = nullptr;
  SmallVector<Expr *, 3> args;

  bool isOp(StringRef name) const {
    return kind == Op && op->getName().getStringRef() == name;
  }
  /// True when the DAG below reads the scores.
  bool usesScores() const;
};

/// Structural equality (same ops, predicates, constants and leaves).
bool sameExpr(const Expr *a, const Expr *b);

/// Builds expressions of tensors over a canonical space of `rank` dims
/// whose last dim (`rank - 1`) is the key index j. Fails (nullptr, with
/// `why`) on ops it cannot read as pure elementwise data flow.
class ExprBuilder {
public:
  ExprBuilder(Value scores, unsigned rank) : scores(scores), rank(rank) {}
  Expr *build(Value v, AffineMap access);
  Expr *build(Value v) {
    return build(v, AffineMap::getMultiDimIdentityMap(rank, v.getContext()));
  }
  std::string why;

private:
  Expr *make(Expr::Kind kind);
  Expr *buildLinalg(linalg::LinalgOp op, unsigned resultNo, AffineMap access);
  Expr *buildBody(linalg::LinalgOp op, Value v, AffineMap loops,
                  DenseMap<Value, Expr *> &args, int depth);
  Expr *fail(const Twine &reason) {
    if (why.empty())
      why = reason.str();
    return nullptr;
  }

  Value scores;
  unsigned rank;
  std::deque<Expr> storage;
  DenseMap<std::pair<Value, AffineMap>, Expr *> memo;
};

/// Evaluates an expression that reads no scores and no non-constant
/// tensors at canonical point `point`; nullopt when it cannot.
std::optional<double> evaluate(const Expr *e, ArrayRef<int64_t> point);

/// Whether `e` reads only constants and indices of the last two canonical
/// dims (the mask candidates that can be checked exhaustively).
bool isStaticPattern(const Expr *e, unsigned rank);

/// The tensor leaves `e` reads (function arguments and other values).
void collectLeaves(const Expr *e, SmallVectorImpl<const Expr *> &leaves);

} // namespace mlir::attn::raise

namespace mlir::attn::raise {

/// A batched matmul `out[b..., m, n] = sum_k lhs[b..., m, k] rhs[b..., k, n]`
/// into a zero-filled init (batch_matmul, matmul, generic contractions,
/// transposed operands through indexing maps).
struct Matmul {
  linalg::LinalgOp op;
  Value lhs, rhs;
  bool lhsTransposed = false; ///< lhs is stored [b..., k, m]
  bool rhsTransposed = false; ///< rhs is stored [b..., n, k]
  unsigned batch = 0;
};
FailureOr<Matmul> matchMatmul(Operation *op, std::string &why);

/// Q, K or V traced back through transposes, the head split/merge
/// reshapes and K/V head repetition to a rank-4 (or, without heads, rank-3)
/// tensor `src`. `perm[l]` is the dim of `src` holding logical dim `l` of
/// (B, H, S, D) (rank 4) or (N, S, D) (rank 3).
struct Operand {
  Value src;
  SmallVector<int64_t, 4> perm;
  int64_t group = 1;  ///< K/V heads repeated this many times (GQA)
  double scale = 1.0; ///< a constant factor folded into Q
  bool is4d() const { return perm.size() == 4; }
  int64_t size(unsigned l) const {
    return cast<RankedTensorType>(src.getType()).getDimSize(perm[l]);
  }
};
/// `v` holds the logical [batch..., S, D] operand with logical dim l in
/// dim `perm[l]`. `allowScale`: look for Q·c / Q/c.
FailureOr<Operand> resolveOperand(Value v, SmallVector<int64_t, 4> perm,
                                  bool allowScale, std::string &why);

/// Materializes `operand` as a rank-4 tensor in BHSD (`bshd` false) or
/// BSHD order: transposes where its dims are elsewhere, a unit head dim
/// for rank-3 operands.
Value materialize(OpBuilder &b, Location loc, const Operand &operand,
                  bool bshd);

} // namespace mlir::attn::raise

namespace mlir::attn::raise {

/// What the logits between the two contractions add to the scores.
struct Logits {
  double scale = 1.0;
  /// `select(cond, -inf, x)` (maskedWhenTrue) or `select(cond, x, -inf)`.
  SmallVector<std::pair<Expr *, bool>> selects;
  /// Terms added to the scores (masks or biases).
  SmallVector<Expr *> additive;
};

/// Recognises softmax over keys in `p` (the first contraction's weights):
/// stable (exp(x - max x) / sum) or unstable (exp(x) / sum), divided or
/// multiplied by a reciprocal. Returns the logits x.
Expr *matchSoftmax(Expr *p, bool &stable, std::string &why);

/// Splits logits into scale, select masks and additive terms.
LogicalResult matchLogits(Expr *x, Type elt, Logits &out, std::string &why);

/// Whether `v` masks a logit: -inf, <= -1e9, or f16's lowest value.
bool isMaskingValue(double v, Type elt);

} // namespace mlir::attn::raise

#endif
