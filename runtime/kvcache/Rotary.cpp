//===- Rotary.cpp - rotary embedding operands of the cache ops ------------===//
#include "runtime/kvcache/Rotary.h"
#include "common/Rope.h"
#include "runtime/Errors.h"
#include "runtime/Reference.h"
#include "runtime/kvcache/CacheOperands.h"

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::makeError;

llvm::Error mlir::attn::kv::checkRotary(const RotaryEmbedding &rope,
                                        llvm::StringRef what,
                                        llvm::StringRef rows, int64_t headDim,
                                        rt::DType rowType) {
  const rt::BufferRef &cos = rope.cos;
  if (cos.shape.size() != 2)
    return makeError(what +
                     ": rotary_cos must have rank 2 [max_pos, "
                     "rotary_dim / 2], got shape " +
                     cos.shapeString());
  int64_t r = rope.rotaryDim();
  if (r <= 0 || r > headDim)
    return makeError(what + ": rotary_cos has " + llvm::Twine(cos.shape[1]) +
                     " columns: rotary_dim " + llvm::Twine(r) +
                     " must be in [2, " + llvm::Twine(headDim) + "] (the " +
                     rows + " head dim)");
  if (cos.dtype != rt::DType::F32 && cos.dtype != rowType)
    return makeError(what + ": rotary_cos has element type " +
                     rt::stringifyDType(cos.dtype) + ", expected f32 or the " +
                     rows + "'s " + rt::stringifyDType(rowType));
  if (llvm::Error e = checkBuffer(cos, what, "rotary_cos", cos.dtype, cos.shape,
                                  "[max_pos, rotary_dim / 2]"))
    return e;
  if (llvm::Error e =
          checkBuffer(rope.sin, what, "rotary_sin", cos.dtype, cos.shape,
                      "(rotary_cos's shape [max_pos, rotary_dim / 2] and "
                      "type)"))
    return e;
  for (auto [b, name] :
       {std::pair{&cos, "rotary_cos"}, {&rope.sin, "rotary_sin"}})
    if (!b->strides.empty() && b->strides.back() != 1)
      return makeError(what + ": " + name + " has innermost stride " +
                       llvm::Twine(b->strides.back()) +
                       ", the kernels need 1 (contiguous rows)");
  return llvm::Error::success();
}

llvm::Error mlir::attn::kv::checkRotaryPositions(const RotaryEmbedding &rope,
                                                 llvm::StringRef what,
                                                 llvm::StringRef rows,
                                                 int64_t b, int64_t first,
                                                 int64_t end) {
  if (first >= end)
    return llvm::Error::success();
  if (first < 0)
    return makeError(what + ": " + rows + " positions of sequence " +
                     llvm::Twine(b) + " start at " + llvm::Twine(first) +
                     " (the cache holds fewer tokens than the queries)");
  if (end > rope.maxPositions())
    return makeError(what + ": " + rows + " positions of sequence " +
                     llvm::Twine(b) + " reach " + llvm::Twine(end - 1) +
                     " but rotary_cos holds " +
                     llvm::Twine(rope.maxPositions()) + " positions");
  return llvm::Error::success();
}

void mlir::attn::kv::rotateRow(const RotaryEmbedding &rope, int64_t pos,
                               llvm::MutableArrayRef<double> row) {
  int64_t r = rope.rotaryDim();
  rope::Form form = rope.style == RopeStyle::Interleaved
                        ? rope::Form::Interleaved
                        : rope::Form::NeoX;
  auto cs = rope.cos.effectiveStrides(), ss = rope.sin.effectiveStrides();
  rope::ScalarMath<double> m;
  for (int64_t i = 0; i < r / 2; ++i) {
    rope::PairDims p = rope::pairDims(form, r, i);
    double c = rt::loadAsDouble(rope.cos, pos * cs[0] + i * cs[1]);
    double s = rt::loadAsDouble(rope.sin, pos * ss[0] + i * ss[1]);
    auto [y0, y1] = rope::rotatePair(m, row[p.first], row[p.second], c, s);
    row[p.first] = y0;
    row[p.second] = y1;
  }
}
