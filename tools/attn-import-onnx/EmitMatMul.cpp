//===- EmitMatMul.cpp - MatMul and Gemm -----------------------------------===//
//
// 2-D MatMul is linalg.matmul, and so is [..., M, K] x [K, N] (through a
// reshape: a Linear layer's projection); other higher ranks a
// linalg.generic contraction whose batch dims broadcast numpy-style
// (size-1 or missing dims read index 0), the form attn-raise-attention
// matches as Q·Kᵀ and P·V. Gemm
// is a matmul (transposes through linalg.transpose), alpha and the C term
// as elementwise generics.
//
//===----------------------------------------------------------------------===//
#include "tools/attn-import-onnx/Importer.h"

#include "runtime/Buffer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

using namespace mlir;
using namespace mlir::attn::onnx_import;
namespace rt = mlir::attn::rt;

namespace {

/// a[..., M, K] x b[..., K, N] -> [batch..., M, N]; 1-D operands as in
/// numpy (a vector on the left is one row, on the right one column).
llvm::Expected<Value> matmul(Importer &im, const onnx::NodeProto &node, Value a,
                             Value b) {
  auto sa = shapeOf(a), sb = shapeOf(b);
  auto ta = cast<RankedTensorType>(a.getType());
  Type elem = ta.getElementType();
  if (elem != cast<RankedTensorType>(b.getType()).getElementType())
    return nodeError(node, "operands have different element types");
  bool vecA = sa.size() == 1, vecB = sb.size() == 1;
  if (sa.empty() || sb.empty())
    return nodeError(node, "scalar operands are not matrices");
  if (vecA)
    a = im.reshape(a, {1, sa[0]}), sa = shapeOf(a);
  if (vecB)
    b = im.reshape(b, {sb[0], 1}), sb = shapeOf(b);
  int64_t m = sa[sa.size() - 2], k = sa.back();
  int64_t kb = sb[sb.size() - 2], n = sb.back();
  llvm::ArrayRef<int64_t> batchA(sa.begin(), sa.size() - 2),
      batchB(sb.begin(), sb.size() - 2);
  auto batch = broadcastShapes(batchA, batchB);
  if (k != kb || !batch)
    return nodeError(node, "shapes " + rt::shapeString(sa) + " and " +
                               rt::shapeString(sb) + " do not multiply");
  llvm::SmallVector<int64_t, 4> outShape(*batch);
  outShape.push_back(m);
  outShape.push_back(n);
  // The result without the unit dims numpy adds for vectors.
  llvm::SmallVector<int64_t, 4> finalShape(*batch);
  if (!vecA)
    finalShape.push_back(m);
  if (!vecB)
    finalShape.push_back(n);
  // A weight without batch dims ([..., M, K] x [K, N], a Linear layer):
  // one [batch·M, K] x [K, N] linalg.matmul, which attn-tile-matmul blocks
  // on the vector micro-kernel (a reshape of a dense tensor is free).
  if (!batch->empty() && batchA.size() == batch->size() && batchB.empty()) {
    int64_t rows = m;
    for (int64_t size : *batch)
      rows *= size;
    Value flat = im.reshape(a, {rows, k});
    Value init = im.zeros({rows, n}, elem);
    Value product =
        linalg::MatmulOp::create(im.b, im.loc, TypeRange{init.getType()},
                                 ValueRange{flat, b}, ValueRange{init})
            .getResult(0);
    return im.reshape(product, finalShape);
  }
  Value init = im.zeros(outShape, elem);
  Value result;
  if (batch->empty()) {
    result = linalg::MatmulOp::create(im.b, im.loc, TypeRange{init.getType()},
                                      ValueRange{a, b}, ValueRange{init})
                 .getResult(0);
  } else {
    // Loops (batch..., i, j, r).
    unsigned nb = batch->size(), rank = nb + 3;
    MLIRContext *ctx = im.b.getContext();
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto batchExprs = [&](llvm::ArrayRef<int64_t> s) {
      SmallVector<AffineExpr> e;
      for (auto [j, size] : llvm::enumerate(s)) {
        unsigned dim = nb - s.size() + j;
        e.push_back(size == 1 && (*batch)[dim] != 1
                        ? getAffineConstantExpr(0, ctx)
                        : d(dim));
      }
      return e;
    };
    SmallVector<AffineExpr> ea = batchExprs(batchA), eb = batchExprs(batchB),
                            eo;
    ea.append({d(nb), d(nb + 2)});
    eb.append({d(nb + 2), d(nb + 1)});
    for (unsigned i = 0; i < nb + 2; ++i)
      eo.push_back(d(i));
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, ea, ctx),
                                   AffineMap::get(rank, 0, eb, ctx),
                                   AffineMap::get(rank, 0, eo, ctx)};
    SmallVector<utils::IteratorType> iters(rank - 1,
                                           utils::IteratorType::parallel);
    iters.push_back(utils::IteratorType::reduction);
    bool f = isa<FloatType>(elem);
    result =
        linalg::GenericOp::create(
            im.b, im.loc, TypeRange{init.getType()}, ValueRange{a, b},
            ValueRange{init}, maps, iters,
            [f](OpBuilder &nb2, Location l, ValueRange s) {
              Value p =
                  f ? arith::MulFOp::create(nb2, l, s[0], s[1]).getResult()
                    : arith::MulIOp::create(nb2, l, s[0], s[1]).getResult();
              Value r = f ? arith::AddFOp::create(nb2, l, s[2], p).getResult()
                          : arith::AddIOp::create(nb2, l, s[2], p).getResult();
              linalg::YieldOp::create(nb2, l, r);
            })
            .getResult(0);
  }
  return im.reshape(result, finalShape);
}

llvm::Error emitMatMul(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(a, im.input(node, 0));
  ONNX_TRY(b, im.input(node, 1));
  ONNX_TRY(r, matmul(im, node, *a, *b));
  im.setOutput(node, 0, *r);
  return llvm::Error::success();
}

Value transpose2d(Importer &im, Value v) {
  auto s = shapeOf(v);
  Type elem = cast<RankedTensorType>(v.getType()).getElementType();
  Value init = im.empty({s[1], s[0]}, elem);
  return linalg::TransposeOp::create(im.b, im.loc, v, init,
                                     ArrayRef<int64_t>{1, 0})
      .getResult()[0];
}

llvm::Error emitGemm(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(a, im.input(node, 0));
  ONNX_TRY(b, im.input(node, 1));
  if (shapeOf(*a).size() != 2 || shapeOf(*b).size() != 2)
    return nodeError(node, "A and B must be matrices");
  auto transA = intAttr(node, "transA", 0);
  auto transB = intAttr(node, "transB", 0);
  auto alpha = floatAttr(node, "alpha", 1.0f);
  auto beta = floatAttr(node, "beta", 1.0f);
  if (!transA || !transB || !alpha || !beta)
    return llvm::joinErrors(
        llvm::joinErrors(transA.takeError(), transB.takeError()),
        llvm::joinErrors(alpha.takeError(), beta.takeError()));
  Value x = *transA ? transpose2d(im, *a) : *a;
  Value y = *transB ? transpose2d(im, *b) : *b;
  auto r = matmul(im, node, x, y);
  if (!r)
    return r.takeError();
  Value out = *r;
  Type elem = cast<RankedTensorType>(out.getType()).getElementType();
  auto shape = shapeOf(out);
  if (*alpha != 1.0f) {
    Value c = im.scalarConstant(*alpha, elem);
    out = im.elementwise(
        {ElemOperand{out, Value(), shape}}, shape, elem,
        [c](OpBuilder &nb, Location l, ValueRange s) {
          return arith::MulFOp::create(nb, l, s[0], c).getResult();
        });
  }
  if (im.hasInput(node, 2) && *beta != 0.0f) {
    auto c = im.elemInput(node, 2);
    if (!c)
      return c.takeError();
    if (!broadcastShapes(shape, c->shape) ||
        *broadcastShapes(shape, c->shape) != shape)
      return nodeError(node, "C of shape " + rt::shapeString(c->shape) +
                                 " does not broadcast to " +
                                 rt::shapeString(shape));
    Value betaV = im.scalarConstant(*beta, elem);
    bool scaled = *beta != 1.0f;
    out = im.elementwise(
        {ElemOperand{out, Value(), shape}, *c}, shape, elem,
        [=](OpBuilder &nb, Location l, ValueRange s) {
          Value t = scaled
                        ? arith::MulFOp::create(nb, l, s[1], betaV).getResult()
                        : s[1];
          return arith::AddFOp::create(nb, l, s[0], t).getResult();
        });
  }
  im.setOutput(node, 0, out);
  return llvm::Error::success();
}
} // namespace

void mlir::attn::onnx_import::addMatMulHandlers(HandlerMap &map) {
  map["MatMul"] = emitMatMul;
  map["Gemm"] = emitGemm;
}
