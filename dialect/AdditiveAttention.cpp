//===- AdditiveAttention.cpp - attn.additive_attention verifier -----------===//
//
// Every operand's shape is checked against the sizes the others imply
// (B, Sq, Skv, H, Dq, Dk, Dv), with the error naming the operand and what
// its dims mean; `?` agrees with anything.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "dialect/Limits.h"
#include "dialect/VerifyUtils.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::verify;

int64_t AdditiveAttentionOp::getHiddenSize() {
  return getQueryWeight().getType().getDimSize(0);
}

namespace {

/// The first static size among `sizes`, else `?`.
int64_t known(std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes)
    if (!ShapedType::isDynamic(s))
      return s;
  return ShapedType::kDynamic;
}

int64_t dimOf(Value v, unsigned i) {
  auto t = cast<ShapedType>(v.getType());
  return i < t.getRank() ? t.getDimSize(i) : ShapedType::kDynamic;
}

} // namespace

LogicalResult AdditiveAttentionOp::verify() {
  Operation *op = getOperation();
  for (auto [name, v] : {std::pair<StringRef, Value>{"query", getQuery()},
                         {"key", getKey()},
                         {"value", getValue()}})
    if (cast<ShapedType>(v.getType()).getRank() != 3)
      return emitOpError() << name << " must have rank 3 [B, S, dim], got rank "
                           << cast<ShapedType>(v.getType()).getRank();
  for (auto [name, v] :
       {std::pair<StringRef, Value>{"query_weight", getQueryWeight()},
        {"key_weight", getKeyWeight()},
        {"score_weight", getScoreWeight()}})
    if (cast<ShapedType>(v.getType()).getRank() != 2)
      return emitOpError() << name
                           << " must have rank 2 (nn.Linear [out, in]), got "
                              "rank "
                           << cast<ShapedType>(v.getType()).getRank();
  // Every size from the first operand that fixes it.
  int64_t b =
      known({dimOf(getQuery(), 0), dimOf(getKey(), 0), dimOf(getValue(), 0)});
  int64_t sq = dimOf(getQuery(), 1);
  int64_t skv = known({dimOf(getKey(), 1), dimOf(getValue(), 1)});
  int64_t dq = dimOf(getQuery(), 2), dk = dimOf(getKey(), 2),
          dv = dimOf(getValue(), 2);
  int64_t h = known({dimOf(getQueryWeight(), 0), dimOf(getKeyWeight(), 0),
                     dimOf(getScoreWeight(), 1)});
  struct Check {
    StringRef name;
    Value v;
    SmallVector<int64_t, 3> expected;
    StringRef meaning;
  };
  SmallVector<Check> checks = {
      {"key", getKey(), {b, skv, dk}, "[B, Skv, Dk]"},
      {"value", getValue(), {b, skv, dv}, "[B, Skv, Dv]"},
      {"query_weight", getQueryWeight(), {h, dq}, "[H, Dq]"},
      {"key_weight", getKeyWeight(), {h, dk}, "[H, Dk]"},
      {"score_weight", getScoreWeight(), {1, h}, "[1, H]"},
      {"output", getOutput(), {b, sq, dv}, "[B, Sq, Dv]"}};
  if (Value bias = getBias())
    checks.push_back({"bias", bias, {h}, "[H]"});
  if (Value sb = getScoreBias())
    checks.push_back({"score_bias", sb, {1}, "[1]"});
  if (Value len = getKvLengths())
    checks.push_back({"kv_lengths", len, {b}, "[B]"});
  if (Value w = getWeights())
    checks.push_back({"weights", w, {b, sq, skv}, "[B, Sq, Skv]"});
  for (const Check &c : checks)
    if (failed(checkShape(op, c.name, cast<ShapedType>(c.v.getType()),
                          c.expected, c.meaning)))
      return failure();
  if (Value m = getBoolMask()) {
    auto mt = cast<ShapedType>(m.getType());
    if (mt.getRank() != 3)
      return emitOpError() << "bool_mask must have rank 3 (broadcastable to "
                              "[B, Sq, Skv]), got rank "
                           << mt.getRank();
    int64_t full[] = {b, sq, skv};
    for (auto [i, d] : llvm::enumerate(mt.getShape()))
      if (d != 1 && !sizesAgree(d, full[i]))
        return emitOpError()
               << "bool_mask shape " << shapeStr(mt.getShape())
               << " is not broadcastable to [B, Sq, Skv] = " << shapeStr(full)
               << " (each dim must be 1 or equal)";
  }
  // One element type for every float operand and result.
  Type elt = getQuery().getType().getElementType();
  auto sameElt = [&](StringRef name, Value v) -> LogicalResult {
    if (!v || cast<ShapedType>(v.getType()).getElementType() == elt)
      return success();
    return emitOpError() << name << " element type "
                         << cast<ShapedType>(v.getType()).getElementType()
                         << " differs from the query's " << elt
                         << " (one element type for every float operand "
                            "and result)";
  };
  for (auto [name, v] : {std::pair<StringRef, Value>{"key", getKey()},
                         {"value", getValue()},
                         {"query_weight", getQueryWeight()},
                         {"key_weight", getKeyWeight()},
                         {"score_weight", getScoreWeight()},
                         {"bias", getBias()},
                         {"score_bias", getScoreBias()},
                         {"output", getOutput()},
                         {"weights", getWeights()}})
    if (failed(sameElt(name, v)))
      return failure();
  for (auto [name, v] : {std::pair{"hidden size H", h},
                         {"query dim Dq", dq},
                         {"key dim Dk", dk},
                         {"value dim Dv", dv}})
    if (!ShapedType::isDynamic(v) && (v < 1 || v > limits::kMaxHeadDim))
      return emitOpError() << name << " must be in [1, " << limits::kMaxHeadDim
                           << "], got " << v;
  return checkAllSizeLimits(op);
}
