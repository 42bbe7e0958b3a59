//===- MultiHeadAttention.cpp - attn.multi_head_attention verifier --------===//
//
// The sizes (B, Sq, Skv, E, Ek, Ev, Hq, Hkv, D, Dv, E_out) are read from the
// operand that fixes each one, then every operand is checked against them
// with an error naming the operand and what its dims mean; `?` agrees with
// anything. The masks and attributes shared with attn.attention go through
// its own checks (VerifyUtils.h).
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "dialect/Limits.h"
#include "dialect/VerifyUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::verify;

namespace {

int64_t dimOf(Value v, unsigned i) {
  auto t = cast<ShapedType>(v.getType());
  return i < t.getRank() ? t.getDimSize(i) : ShapedType::kDynamic;
}

/// `total / heads`, `?` when either is; fails (returns nullopt) when the
/// heads do not divide it.
std::optional<int64_t> perHead(int64_t total, int64_t heads) {
  if (ShapedType::isDynamic(total))
    return ShapedType::kDynamic;
  if (total % heads != 0)
    return std::nullopt;
  return total / heads;
}

int64_t first(int64_t a, int64_t b) { return ShapedType::isDynamic(a) ? b : a; }

struct Check {
  StringRef name;
  Value v;
  SmallVector<int64_t, 4> expected;
  StringRef meaning;
};

} // namespace

int64_t MultiHeadAttentionOp::getNumKvHeadsOrDefault() {
  return getNumKvHeads().value_or(getNumHeads());
}

int64_t MultiHeadAttentionOp::getHeadDim() {
  if (Value w = getQkvWeight())
    return *perHead(dimOf(w, 0), getNumHeads() + 2 * getNumKvHeadsOrDefault());
  return *perHead(dimOf(getQWeight(), 0), getNumHeads());
}

int64_t MultiHeadAttentionOp::getValueHeadDim() {
  if (getQkvWeight())
    return getHeadDim();
  return *perHead(dimOf(getVWeight(), 0), getNumKvHeadsOrDefault());
}

Value MultiHeadAttentionOp::getKeyInput() {
  return getKey() ? getKey() : getQuery();
}

Value MultiHeadAttentionOp::getValueInput() {
  return getValue() ? getValue() : getQuery();
}

float MultiHeadAttentionOp::getScaleOrDefault() {
  if (auto s = getScale())
    return s->convertToFloat();
  return 1.0f / std::sqrt(static_cast<float>(getHeadDim()));
}

namespace {

/// The input projection's weights and biases: D and Dv, and the checks of
/// their shapes appended to `checks`.
LogicalResult projectionChecks(MultiHeadAttentionOp op, int64_t hq, int64_t hkv,
                               int64_t e, int64_t ek, int64_t ev, int64_t &d,
                               int64_t &dv, SmallVector<Check> &checks) {
  if (static_cast<bool>(op.getQkvWeight()) ==
      static_cast<bool>(op.getQWeight()))
    return op.emitOpError("needs exactly one input projection: qkv_weight "
                          "(combined) or qkv_weights (separate)");
  if (op.getQkvWeight()) {
    if (op.getQBias())
      return op.emitOpError("a combined qkv_weight takes a combined qkv_bias, "
                            "not qkv_biases");
    int64_t rows = dimOf(op.getQkvWeight(), 0);
    std::optional<int64_t> perRow = perHead(rows, hq + 2 * hkv);
    if (!perRow)
      return op.emitOpError()
             << "qkv_weight rows (" << rows << ") must be (Hq + 2·Hkv)·D = ("
             << hq << " + 2·" << hkv << ")·D";
    d = dv = *perRow;
    int64_t n = ShapedType::isDynamic(d) ? d : (hq + 2 * hkv) * d;
    if (!sizesAgree(e, ek) || !sizesAgree(e, ev))
      return op.emitOpError()
             << "a combined qkv_weight needs key and value inputs of the "
                "query's embedding E = "
             << e << " (got Ek = " << ek << ", Ev = " << ev
             << "); use qkv_weights";
    checks.push_back(
        {"qkv_weight", op.getQkvWeight(), {n, e}, "[(Hq + 2·Hkv)·D, E]"});
    if (Value bias = op.getQkvBias())
      checks.push_back({"qkv_bias", bias, {n}, "[(Hq + 2·Hkv)·D]"});
    return success();
  }
  if (op.getQkvBias())
    return op.emitOpError("separate qkv_weights take separate qkv_biases, "
                          "not a combined qkv_bias");
  int64_t qRows = dimOf(op.getQWeight(), 0), vRows = dimOf(op.getVWeight(), 0);
  std::optional<int64_t> qd = perHead(qRows, hq), vd = perHead(vRows, hkv);
  if (!qd)
    return op.emitOpError() << "q_weight rows (" << qRows
                            << ") must be a multiple of Hq = " << hq;
  if (!vd)
    return op.emitOpError() << "v_weight rows (" << vRows
                            << ") must be a multiple of Hkv = " << hkv;
  d = *qd;
  dv = *vd;
  auto times = [](int64_t h, int64_t x) {
    return ShapedType::isDynamic(x) ? x : h * x;
  };
  checks.push_back(
      {"q_weight", op.getQWeight(), {times(hq, d), e}, "[Hq·D, E]"});
  checks.push_back(
      {"k_weight", op.getKWeight(), {times(hkv, d), ek}, "[Hkv·D, Ek]"});
  checks.push_back(
      {"v_weight", op.getVWeight(), {times(hkv, dv), ev}, "[Hkv·Dv, Ev]"});
  if (op.getQBias()) {
    checks.push_back({"q_bias", op.getQBias(), {times(hq, d)}, "[Hq·D]"});
    checks.push_back({"k_bias", op.getKBias(), {times(hkv, d)}, "[Hkv·D]"});
    checks.push_back({"v_bias", op.getVBias(), {times(hkv, dv)}, "[Hkv·Dv]"});
  }
  return success();
}

/// The masks, lengths, segment ids and dropout, checked as attn.attention
/// checks them.
LogicalResult attentionChecks(MultiHeadAttentionOp op, int64_t b, int64_t hq,
                              int64_t sq, int64_t skv) {
  Operation *o = op.getOperation();
  SmallVector<int64_t, 4> full = {b, hq, sq, skv};
  if (Value m = op.getBoolMask())
    if (failed(checkBroadcastable(o, "bool_mask", cast<ShapedType>(m.getType()),
                                  full)))
      return failure();
  if (failed(checkLengths(o, "kv_lengths", op.getKvLengths(), b)))
    return failure();
  if (op.getQSegmentIds() &&
      (failed(checkShape(o, "q_segment_ids",
                         cast<ShapedType>(op.getQSegmentIds().getType()),
                         {b, sq}, "[B, Sq]")) ||
       failed(checkShape(o, "kv_segment_ids",
                         cast<ShapedType>(op.getKvSegmentIds().getType()),
                         {b, skv}, "[B, Skv]"))))
    return failure();
  if (failed(checkQueryPositions(o, op.getMask(), sq)) ||
      failed(checkScaleAndCap(o, op.getScale(), std::nullopt)) ||
      failed(checkDropout(o, op.getDropoutState(), op.getDropoutP())))
    return failure();
  if (Value w = op.getWeights()) {
    if (ShapedType::isDynamic(skv) || skv > limits::kMaxHeadDim)
      return op.emitOpError()
             << "the weights result needs a static Skv of at most "
             << limits::kMaxHeadDim << " (it is for small sizes), got "
             << shapeStr({skv});
    return checkShape(o, "weights", cast<ShapedType>(w.getType()), full,
                      "[B, Hq, Sq, Skv]");
  }
  return success();
}

} // namespace

LogicalResult MultiHeadAttentionOp::verify() {
  Operation *op = getOperation();
  Value key = getKeyInput(), value = getValueInput();
  for (auto [name, v] : {std::pair<StringRef, Value>{"query", getQuery()},
                         {"key", key},
                         {"value", value},
                         {"output", getOutput()}})
    if (cast<ShapedType>(v.getType()).getRank() != 3)
      return emitOpError() << name << " must have rank 3 [B, S, E], got rank "
                           << cast<ShapedType>(v.getType()).getRank();
  int64_t hq = getNumHeads(), hkv = getNumKvHeadsOrDefault();
  if (hq < 1 || hkv < 1)
    return emitOpError() << "num_heads and num_kv_heads must be positive, got "
                         << hq << " and " << hkv;
  if (failed(checkHeadRatio(op, hq, hkv)))
    return failure();
  int64_t b = first(dimOf(getQuery(), 0), dimOf(key, 0));
  int64_t sq = dimOf(getQuery(), 1),
          skv = first(dimOf(key, 1), dimOf(value, 1));
  int64_t e = dimOf(getQuery(), 2), ek = dimOf(key, 2), ev = dimOf(value, 2);
  int64_t d = 0, dv = 0;
  SmallVector<Check> checks;
  if (failed(projectionChecks(*this, hq, hkv, e, ek, ev, d, dv, checks)) ||
      failed(checkHeadLimits(op, hq, hkv, d, dv)))
    return failure();
  int64_t eOut = first(dimOf(getOutWeight(), 0), dimOf(getOutput(), 2));
  int64_t attnCols = ShapedType::isDynamic(dv) ? dv : hq * dv;
  checks.push_back({"key", key, {b, skv, ek}, "[B, Skv, Ek]"});
  checks.push_back({"value", value, {b, skv, ev}, "[B, Skv, Ev]"});
  checks.push_back(
      {"out_weight", getOutWeight(), {eOut, attnCols}, "[E_out, Hq·Dv]"});
  if (Value bias = getOutBias())
    checks.push_back({"out_bias", bias, {eOut}, "[E_out]"});
  checks.push_back({"output", getOutput(), {b, sq, eOut}, "[B, Sq, E_out]"});
  for (const Check &c : checks) {
    auto ty = cast<ShapedType>(c.v.getType());
    if (ty.getRank() != static_cast<int64_t>(c.expected.size()))
      return emitOpError() << c.name << " must have rank " << c.expected.size()
                           << " " << c.meaning << ", got rank " << ty.getRank();
    if (failed(checkShape(op, c.name, ty, c.expected, c.meaning)))
      return failure();
  }
  // One element type for every float operand and result.
  Type elt = getQuery().getType().getElementType();
  std::pair<StringRef, Value> floats[] = {{"key", getKey()},
                                          {"value", getValue()},
                                          {"qkv_weight", getQkvWeight()},
                                          {"q_weight", getQWeight()},
                                          {"k_weight", getKWeight()},
                                          {"v_weight", getVWeight()},
                                          {"qkv_bias", getQkvBias()},
                                          {"q_bias", getQBias()},
                                          {"k_bias", getKBias()},
                                          {"v_bias", getVBias()},
                                          {"out_weight", getOutWeight()},
                                          {"out_bias", getOutBias()},
                                          {"output", getOutput()},
                                          {"weights", getWeights()}};
  for (auto [name, v] : floats)
    if (v && cast<ShapedType>(v.getType()).getElementType() != elt)
      return emitOpError() << name << " element type "
                           << cast<ShapedType>(v.getType()).getElementType()
                           << " differs from the query's " << elt
                           << " (one element type for every float operand "
                              "and result)";
  if (failed(attentionChecks(*this, b, hq, sq, skv)))
    return failure();
  return checkAllSizeLimits(op);
}
