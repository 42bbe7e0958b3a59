//===- DecomposeLayer.cpp - attn.multi_head_attention -> GEMMs + attention ===//
//
// The layer as its math, on tensors: projections are 2-D matmuls over the
// flattened [B·S, E] rows reading the nn.Linear weight transposed (which
// attn-tile-matmul packs panel by panel), heads are reshapes and slices of
// the projection's output (the bshd layout attn.attention reads), and the
// output projection reads the attention's [B, S, Hq, Dv] as [B·S, Hq·Dv].
// No transpose or copy of activations anywhere; bufferization turns the
// reshapes and slices into views.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNDECOMPOSELAYER
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class LayerDecomposer {
public:
  explicit LayerDecomposer(MultiHeadAttentionOp op)
      : op(op), b(op.getLoc(), op),
        elt(op.getQuery().getType().getElementType()) {}

  LogicalResult run();

private:
  RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type t) {
    return RankedTensorType::get(shape, t);
  }
  /// [B, S, X] -> [B·S, X] (a reshape: the same bytes).
  Value rows(Value t) {
    return tensor::CollapseShapeOp::create(
        b, t, SmallVector<ReassociationIndices>{{0, 1}, {2}});
  }
  /// [M, N] -> [B, S, N / inner, inner] (or [B, S, N] when `inner` is 0).
  Value split(Value t, int64_t batch, int64_t seq, int64_t inner) {
    auto ty = cast<RankedTensorType>(t.getType());
    int64_t n = ty.getDimSize(1);
    if (inner == 0)
      return tensor::ExpandShapeOp::create(
          b, tensorOf({batch, seq, n}, ty.getElementType()), t,
          SmallVector<ReassociationIndices>{{0, 1}, {2}});
    return tensor::ExpandShapeOp::create(
        b, tensorOf({batch, seq, n / inner, inner}, ty.getElementType()), t,
        SmallVector<ReassociationIndices>{{0, 1}, {2, 3}});
  }
  /// Rows [r0, r0 + n) of a [N, E] weight (or elements of an [N] bias).
  Value rowSlice(Value w, int64_t r0, int64_t n) {
    if (!w)
      return w;
    auto ty = cast<RankedTensorType>(w.getType());
    SmallVector<OpFoldResult> off(ty.getRank(), b.getIndexAttr(0)), size,
        stride(ty.getRank(), b.getIndexAttr(1));
    off[0] = b.getIndexAttr(r0);
    size.push_back(b.getIndexAttr(n));
    if (ty.getRank() == 2)
      size.push_back(b.getIndexAttr(ty.getDimSize(1)));
    return tensor::ExtractSliceOp::create(b, w, off, size, stride);
  }
  /// x [M, K] · wᵀ (w [N, K], nn.Linear) + bias [N], accumulated in f32;
  /// the result in `elt`.
  Value linear(Value x, Value w, Value bias);
  /// Heads [h0, h0 + n) of a [B, S, H, D] tensor.
  Value heads(Value t, int64_t h0, int64_t n) {
    auto ty = cast<RankedTensorType>(t.getType());
    SmallVector<OpFoldResult> off = {b.getIndexAttr(0), b.getIndexAttr(0),
                                     b.getIndexAttr(h0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> size = {
        b.getIndexAttr(ty.getDimSize(0)), b.getIndexAttr(ty.getDimSize(1)),
        b.getIndexAttr(n), b.getIndexAttr(ty.getDimSize(3))};
    SmallVector<OpFoldResult> stride(4, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, t, off, size, stride);
  }
  /// `t` converted to `to` elementwise (f32 <-> f16/bf16).
  Value convert(Value t, Type to);
  Value attention(Value q, Value k, Value v, Type outElt);
  /// [B, Skv, Hkv, Skv] with ones where the key index equals the last.
  Value identityValues(int64_t batch, int64_t skv, int64_t hkv);

  MultiHeadAttentionOp op;
  ImplicitLocOpBuilder b;
  Type elt;
};

Value LayerDecomposer::convert(Value t, Type to) {
  auto ty = cast<RankedTensorType>(t.getType());
  if (ty.getElementType() == to)
    return t;
  auto outTy = tensorOf(ty.getShape(), to);
  Value init = tensor::EmptyOp::create(b, ty.getShape(), to);
  auto map = b.getMultiDimIdentityMap(ty.getRank());
  SmallVector<utils::IteratorType> iters(ty.getRank(),
                                         utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, TypeRange{outTy}, ValueRange{t}, ValueRange{init},
             ArrayRef<AffineMap>{map, map}, iters,
             [&](OpBuilder &nb, Location loc, ValueRange args) {
               Value x = args[0];
               Value y =
                   to.getIntOrFloatBitWidth() >
                           ty.getElementType().getIntOrFloatBitWidth()
                       ? arith::ExtFOp::create(nb, loc, to, x).getResult()
                       : arith::TruncFOp::create(nb, loc, to, x).getResult();
               linalg::YieldOp::create(nb, loc, y);
             })
      .getResult(0);
}

Value LayerDecomposer::linear(Value x, Value w, Value bias) {
  int64_t m = cast<RankedTensorType>(x.getType()).getDimSize(0);
  int64_t n = cast<RankedTensorType>(w.getType()).getDimSize(0);
  Type f32 = b.getF32Type();
  auto accTy = tensorOf({m, n}, f32);
  Value init = tensor::EmptyOp::create(b, accTy.getShape(), f32);
  // The bias is the GEMM's starting value: C = bias, C += X·Wᵀ.
  if (bias) {
    init = linalg::BroadcastOp::create(b, convert(bias, f32), init,
                                       ArrayRef<int64_t>{0})
               ->getResult(0);
  } else {
    Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
    init = linalg::FillOp::create(b, zero, init).getResult(0);
  }
  auto mm = linalg::MatmulOp::create(b, TypeRange{accTy}, ValueRange{x, w},
                                     ValueRange{init});
  // (m, n, k): A[m, k], B[n, k] (nn.Linear's [out, in]), C[m, n].
  AffineExpr dm, dn, dk;
  bindDims(b.getContext(), dm, dn, dk);
  auto map = [&](ArrayRef<AffineExpr> r) {
    return AffineMapAttr::get(AffineMap::get(3, 0, r, b.getContext()));
  };
  mm.setIndexingMapsAttr(
      b.getArrayAttr({map({dm, dk}), map({dn, dk}), map({dm, dn})}));
  return convert(mm.getResult(0), elt);
}

Value LayerDecomposer::attention(Value q, Value k, Value v, Type outElt) {
  auto qTy = cast<RankedTensorType>(q.getType());
  auto vTy = cast<RankedTensorType>(v.getType());
  auto outTy = tensorOf({qTy.getDimSize(0), qTy.getDimSize(1),
                         qTy.getDimSize(2), vTy.getDimSize(3)},
                        outElt);
  FloatAttr scale = b.getF32FloatAttr(op.getScaleOrDefault());
  auto attn = AttentionOp::create(
      b, outTy, /*lse=*/Type(), q, k, v, op.getBoolMask(), /*bias=*/Value(),
      op.getKvLengths(), op.getQSegmentIds(), op.getKvSegmentIds(),
      /*sinks=*/Value(), op.getDropoutState(), /*kv_num_blocks=*/Value(),
      /*kv_indices=*/Value(), scale, /*softcap=*/FloatAttr(), op.getMaskAttr(),
      LayoutAttr::get(b.getContext(), Layout::BSHD), op.getDropoutPAttr(),
      /*block_size=*/DenseI64ArrayAttr());
  return attn.getOutput();
}

Value LayerDecomposer::identityValues(int64_t batch, int64_t skv, int64_t hkv) {
  SmallVector<int64_t> shape = {batch, skv, hkv, skv};
  auto ty = tensorOf(shape, elt);
  Value init = tensor::EmptyOp::create(b, shape, elt);
  SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, TypeRange{ty}, ValueRange{}, ValueRange{init},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(4)}, iters,
             [&](OpBuilder &nb, Location loc, ValueRange) {
               Value j = linalg::IndexOp::create(nb, loc, 1);
               Value c = linalg::IndexOp::create(nb, loc, 3);
               Value eq = arith::CmpIOp::create(nb, loc,
                                                arith::CmpIPredicate::eq, j, c);
               Value one = arith::ConstantOp::create(nb, loc,
                                                     nb.getFloatAttr(elt, 1.0));
               Value zero = arith::ConstantOp::create(
                   nb, loc, nb.getFloatAttr(elt, 0.0));
               linalg::YieldOp::create(
                   nb, loc,
                   ValueRange{arith::SelectOp::create(nb, loc, eq, one, zero)});
             })
      .getResult(0);
}

LogicalResult LayerDecomposer::run() {
  for (Value v : op->getOperands())
    if (!cast<ShapedType>(v.getType()).hasStaticShape())
      return op.emitOpError("attn-decompose-layer needs static shapes (got ")
             << v.getType() << ")";
  auto qTy = op.getQuery().getType();
  int64_t batch = qTy.getDimSize(0), sq = qTy.getDimSize(1);
  int64_t skv = cast<ShapedType>(op.getKeyInput().getType()).getDimSize(1);
  int64_t hq = op.getNumHeads(), hkv = op.getNumKvHeadsOrDefault();
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim();
  Value xq = rows(op.getQuery());
  Value q, k, v;
  if (Value w = op.getQkvWeight(); w && op.isSelfAttention()) {
    // One GEMM: [B·S, (Hq + 2·Hkv)·D] is [B, S, Hq + 2·Hkv, D], the bshd
    // rows of Q, K and V side by side.
    Value all = split(linear(xq, w, op.getQkvBias()), batch, sq, d);
    q = heads(all, 0, hq);
    k = heads(all, hq, hkv);
    v = heads(all, hq + hkv, hkv);
  } else {
    Value wq = op.getQWeight(), wk = op.getKWeight(), wv = op.getVWeight();
    Value bq = op.getQBias(), bk = op.getKBias(), bv = op.getVBias();
    if (Value w = op.getQkvWeight()) {
      // Cross-attention with the combined weight: its row blocks.
      Value bias = op.getQkvBias();
      wq = rowSlice(w, 0, hq * d);
      wk = rowSlice(w, hq * d, hkv * d);
      wv = rowSlice(w, (hq + hkv) * d, hkv * d);
      bq = rowSlice(bias, 0, hq * d);
      bk = rowSlice(bias, hq * d, hkv * d);
      bv = rowSlice(bias, (hq + hkv) * d, hkv * d);
    }
    q = split(linear(xq, wq, bq), batch, sq, d);
    k = split(linear(rows(op.getKeyInput()), wk, bk), batch, skv, d);
    v = split(linear(rows(op.getValueInput()), wv, bv), batch, skv, dv);
  }
  // [B, Sq, Hq, Dv] is [B·Sq, Hq·Dv]: the output projection reads it as is.
  Value a = attention(q, k, v, elt);
  Value flat = tensor::CollapseShapeOp::create(
      b, a, SmallVector<ReassociationIndices>{{0, 1}, {2, 3}});
  Value out =
      split(linear(flat, op.getOutWeight(), op.getOutBias()), batch, sq, 0);
  SmallVector<Value> results = {out};
  if (op.getWeights()) {
    // softmax(s) · I = P, with attn.attention's own masks and dropout.
    Value p = attention(q, k, identityValues(batch, skv, hkv), elt);
    Value init =
        tensor::EmptyOp::create(b, ArrayRef<int64_t>{batch, hq, sq, skv}, elt);
    results.push_back(
        linalg::TransposeOp::create(b, p, init, ArrayRef<int64_t>{0, 2, 1, 3})
            ->getResult(0));
  }
  op->replaceAllUsesWith(results);
  op->erase();
  return success();
}

struct AttnDecomposeLayerPass
    : public attn::impl::AttnDecomposeLayerBase<AttnDecomposeLayerPass> {
  void runOnOperation() override {
    SmallVector<MultiHeadAttentionOp> ops;
    getOperation().walk([&](MultiHeadAttentionOp op) { ops.push_back(op); });
    for (MultiHeadAttentionOp op : ops)
      if (failed(LayerDecomposer(op).run()))
        return signalPassFailure();
  }
};

} // namespace
