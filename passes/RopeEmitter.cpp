//===- RopeEmitter.cpp - row copies with rotary embedding -----------------===//
//
// A row is read in vectors, converted to f32, rotated pair block by pair
// block and written converted to the destination's type. NeoX pairs
// (x[i], x[i + r/2]) are two contiguous vectors; interleaved pairs
// (x[2i], x[2i+1]) are one vector of 2w lanes split into even and odd
// lanes by shuffles and merged back after the rotation. The vector width w
// is the largest power of two (up to 16 lanes) dividing r/2, so every
// rotated access is in bounds and unmasked; the pass-through dims use the
// plain copy's 16-lane vectors with a masked tail.
//
//===----------------------------------------------------------------------===//
#include "passes/RopeEmitter.h"
#include "common/Rope.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kWidth = 16;

/// common/Rope.h's Math on f32 vectors.
struct VectorMath {
  using V = Value;
  ImplicitLocOpBuilder &b;
  V mul(V x, V y) const { return arith::MulFOp::create(b, x, y); }
  V add(V x, V y) const { return arith::AddFOp::create(b, x, y); }
  V sub(V x, V y) const { return arith::SubFOp::create(b, x, y); }
};

/// Converts a vector to element type `to` (via f32).
Value convert(ImplicitLocOpBuilder &b, Value v, Type to) {
  auto ty = cast<VectorType>(v.getType());
  if (ty.getElementType() == to)
    return v;
  auto f32Ty = VectorType::get(ty.getShape(), b.getF32Type());
  if (!ty.getElementType().isF32())
    v = arith::ExtFOp::create(b, f32Ty, v);
  if (!to.isF32())
    v = arith::TruncFOp::create(b, VectorType::get(ty.getShape(), to), v);
  return v;
}

struct RowAccess {
  ImplicitLocOpBuilder &b;
  IndexMath im{b};

  SmallVector<Value> at(ValueRange prefix, int64_t c) {
    SmallVector<Value> idx(prefix);
    idx.push_back(im.c(c));
    return idx;
  }
  /// `n` elements of `mem` at [prefix..., c], in its element type.
  Value read(Value mem, ValueRange prefix, int64_t c, int64_t n,
             bool inBounds) {
    Type elt = cast<MemRefType>(mem.getType()).getElementType();
    Value pad = arith::ConstantOp::create(b, b.getFloatAttr(elt, 0.0));
    return vector::TransferReadOp::create(b, VectorType::get({n}, elt), mem,
                                          at(prefix, c), pad,
                                          ArrayRef<bool>{inBounds});
  }
  Value readF32(Value mem, ValueRange prefix, int64_t c, int64_t n) {
    return convert(b, read(mem, prefix, c, n, true), b.getF32Type());
  }
  void write(Value v, Value mem, ValueRange prefix, int64_t c, bool inBounds) {
    v = convert(b, v, cast<MemRefType>(mem.getType()).getElementType());
    vector::TransferWriteOp::create(b, v, mem, at(prefix, c),
                                    ArrayRef<bool>{inBounds});
  }
};

SmallVector<int64_t> lanes(int64_t n, int64_t first, int64_t step) {
  SmallVector<int64_t> mask;
  for (int64_t i = 0; i < n; ++i)
    mask.push_back(first + i * step);
  return mask;
}

/// Rotates dims [0, rotary_dim) of the row (common/Rope.h).
void emitRotation(ImplicitLocOpBuilder &b, RowAccess &row, Value src,
                  ValueRange srcIdx, Value dst, ValueRange dstIdx,
                  const RotaryOperands &rotary, Value pos) {
  int64_t r = rotary.rope.getRotaryDim(), half = r / 2;
  bool interleaved = rotary.rope.getStyle() == RopeStyle::Interleaved;
  rope::Form form = interleaved ? rope::Form::Interleaved : rope::Form::NeoX;
  int64_t w =
      std::min<int64_t>(interleaved ? kWidth / 2 : kWidth, half & -half);
  VectorMath m{b};
  for (int64_t i = 0; i < half; i += w) {
    rope::PairDims p = rope::pairDims(form, r, i);
    Value c = row.readF32(rotary.cos, pos, i, w);
    Value s = row.readF32(rotary.sin, pos, i, w);
    Value x0, x1;
    if (interleaved) {
      Value v = row.readF32(src, srcIdx, p.first, 2 * w);
      x0 = vector::ShuffleOp::create(b, v, v, lanes(w, 0, 2));
      x1 = vector::ShuffleOp::create(b, v, v, lanes(w, 1, 2));
    } else {
      x0 = row.readF32(src, srcIdx, p.first, w);
      x1 = row.readF32(src, srcIdx, p.second, w);
    }
    auto [y0, y1] = rope::rotatePair(m, x0, x1, c, s);
    if (interleaved) {
      SmallVector<int64_t> merge;
      for (int64_t k = 0; k < w; ++k)
        merge.append({k, w + k});
      row.write(vector::ShuffleOp::create(b, y0, y1, merge), dst, dstIdx,
                p.first, true);
    } else {
      row.write(y0, dst, dstIdx, p.first, true);
      row.write(y1, dst, dstIdx, p.second, true);
    }
  }
}

} // namespace

void mlir::attn::emitRowCopy(ImplicitLocOpBuilder &b, Value src,
                             ValueRange srcIdx, Value dst, ValueRange dstIdx,
                             int64_t dim, const RotaryOperands &rotary,
                             Value pos) {
  RowAccess row{b};
  int64_t first = 0;
  if (rotary) {
    emitRotation(b, row, src, srcIdx, dst, dstIdx, rotary, pos);
    first = rotary.rope.getRotaryDim();
  }
  for (int64_t c = first; c < dim; c += kWidth) {
    bool inBounds = c + kWidth <= dim;
    row.write(row.read(src, srcIdx, c, kWidth, inBounds), dst, dstIdx, c,
              inBounds);
  }
}

Value mlir::attn::rotaryPositions(ImplicitLocOpBuilder &b,
                                  const RotaryOperands &rotary) {
  int64_t n = cast<MemRefType>(rotary.cos.getType()).getDimSize(0);
  if (!ShapedType::isDynamic(n))
    return arith::ConstantIndexOp::create(b, n);
  return memref::DimOp::create(b, rotary.cos, 0);
}
