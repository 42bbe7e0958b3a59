//===- TensorBuilders.cpp - the importer's tensor-building helpers --------===//
//
// Broadcasting elementwise generics, reshapes as collapse/expand pairs and
// scalar casts: the shapes front ends (torch-mlir, TOSA's lowering) give
// attn-raise-attention, so the raised forms are the same ones.
//
//===----------------------------------------------------------------------===//
#include "tools/attn-import-onnx/Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::attn::onnx_import;

Value Importer::elementwise(
    llvm::ArrayRef<ElemOperand> ins, llvm::ArrayRef<int64_t> outShape,
    Type outElem,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  unsigned rank = outShape.size();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> tensors;
  SmallVector<AffineMap> maps;
  for (const ElemOperand &in : ins) {
    if (!in.tensor)
      continue;
    llvm::ArrayRef<int64_t> s =
        cast<RankedTensorType>(in.tensor.getType()).getShape();
    SmallVector<AffineExpr> exprs;
    for (auto [j, d] : llvm::enumerate(s)) {
      unsigned outDim = rank - s.size() + j;
      exprs.push_back(d == 1 && outShape[outDim] != 1
                          ? getAffineConstantExpr(0, ctx)
                          : getAffineDimExpr(outDim, ctx));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, ctx));
    tensors.push_back(in.tensor);
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{RankedTensorType::get(outShape, outElem)}, tensors,
      ValueRange{empty(outShape, outElem)}, maps, iters,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> scalars;
        unsigned next = 0;
        for (const ElemOperand &in : ins)
          scalars.push_back(in.tensor ? args[next++] : in.scalar);
        Value r = body(nb, nloc, scalars);
        linalg::YieldOp::create(nb, nloc, r);
      });
  return generic.getResult(0);
}

Value Importer::broadcastTo(Value v, llvm::ArrayRef<int64_t> shape) {
  if (shapeOf(v) == llvm::SmallVector<int64_t, 4>(shape))
    return v;
  Type elem = cast<RankedTensorType>(v.getType()).getElementType();
  return elementwise({ElemOperand{v, Value(), shapeOf(v)}}, shape, elem,
                     [](OpBuilder &, Location, ValueRange s) { return s[0]; });
}

Value Importer::reshape(Value v, llvm::ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(v.getType());
  llvm::ArrayRef<int64_t> src = type.getShape();
  if (src == shape)
    return v;
  auto outType = RankedTensorType::get(shape, type.getElementType());
  if (type.getNumElements() == 0)
    return empty(shape, type.getElementType());
  // Rank 0 <-> all-ones: an empty reassociation.
  if (src.empty())
    return tensor::ExpandShapeOp::create(b, loc, outType, v,
                                         ArrayRef<ReassociationIndices>{});
  if (shape.empty())
    return tensor::CollapseShapeOp::create(b, loc, outType, v,
                                           ArrayRef<ReassociationIndices>{});
  // Groups of consecutive dims with equal products on both sides.
  SmallVector<ReassociationIndices> srcGroups, dstGroups;
  size_t i = 0, j = 0;
  while (i < src.size() && j < shape.size()) {
    ReassociationIndices sg{static_cast<int64_t>(i)},
        dg{static_cast<int64_t>(j)};
    int64_t p = src[i++], q = shape[j++];
    while (p != q) {
      if (p < q && i < src.size()) {
        sg.push_back(i);
        p *= src[i++];
      } else if (j < shape.size()) {
        dg.push_back(j);
        q *= shape[j++];
      } else {
        break;
      }
    }
    // A unit dim that only one side has joins the group before it, so a
    // squeezed dim merges into its left neighbour ([1, 1, H, S, D] ->
    // [1, H, S, D] as {0, 1}, not as {1, 2} with the heads: a collapse that
    // seems to merge heads is what attn-raise-attention reads as GQA).
    if (p == q) {
      bool srcUnit = i < src.size() && src[i] == 1;
      bool dstUnit = j < shape.size() && shape[j] == 1;
      for (; srcUnit && !dstUnit && i < src.size() && src[i] == 1; ++i)
        sg.push_back(i);
      for (; dstUnit && !srcUnit && j < shape.size() && shape[j] == 1; ++j)
        dg.push_back(j);
    }
    srcGroups.push_back(sg);
    dstGroups.push_back(dg);
  }
  for (; i < src.size(); ++i) // trailing unit dims
    srcGroups.back().push_back(i);
  for (; j < shape.size(); ++j)
    dstGroups.back().push_back(j);
  SmallVector<int64_t> mid;
  for (const ReassociationIndices &g : srcGroups) {
    int64_t n = 1;
    for (int64_t d : g)
      n *= src[d];
    mid.push_back(n);
  }
  Value x = v;
  if (mid.size() != src.size())
    x = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get(mid, type.getElementType()), x,
        srcGroups);
  if (mid.size() != shape.size())
    x = tensor::ExpandShapeOp::create(b, loc, outType, x, dstGroups);
  return x;
}

Value Importer::convertScalar(OpBuilder &b, Location loc, Value x, Type to) {
  Type from = x.getType();
  if (from == to)
    return x;
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (fromFloat && toFloat)
    return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? arith::ExtFOp::create(b, loc, to, x).getResult()
               : arith::TruncFOp::create(b, loc, to, x).getResult();
  if (!fromFloat && toFloat)
    return from.isInteger(1)
               ? arith::UIToFPOp::create(b, loc, to, x).getResult()
               : arith::SIToFPOp::create(b, loc, to, x).getResult();
  if (to.isInteger(1)) {
    if (fromFloat) {
      Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(from, 0));
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x, zero);
    }
    Value zero = arith::ConstantOp::create(b, loc, b.getIntegerAttr(from, 0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zero);
  }
  if (fromFloat)
    return arith::FPToSIOp::create(b, loc, to, x);
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return from.isInteger(1)
               ? arith::ExtUIOp::create(b, loc, to, x).getResult()
               : arith::ExtSIOp::create(b, loc, to, x).getResult();
  return arith::TruncIOp::create(b, loc, to, x);
}
