//===- EmitMath.cpp - elementwise ops, MatMul, Gemm, Softmax --------------===//
//
// Elementwise ONNX ops become one broadcasting linalg.generic each (splat
// constants read as scalars inside the body, the way attn-raise-attention
// reads scales and -inf fills); MatMul a linalg.matmul (2-D) or a generic
// contraction over the broadcast batch dims; Softmax linalg.softmax.
//
//===----------------------------------------------------------------------===//
#include "tools/attn-import-onnx/Importer.h"

#include "runtime/Buffer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::attn::onnx_import;
namespace rt = mlir::attn::rt;

namespace {

using ScalarFn = std::function<Value(OpBuilder &, Location, ValueRange)>;

Type elemOf(const ElemOperand &o) {
  return o.tensor ? cast<RankedTensorType>(o.tensor.getType()).getElementType()
                  : o.scalar.getType();
}

/// Emits `fn` over the node's inputs broadcast together. `resultElem`:
/// the result's element type, or null for the first input's.
llvm::Error emitElementwise(Importer &im, const onnx::NodeProto &node,
                            int numInputs, Type resultElem,
                            const ScalarFn &fn) {
  SmallVector<ElemOperand> ins;
  llvm::SmallVector<int64_t, 4> shape;
  for (int i = 0; i < numInputs; ++i) {
    auto in = im.elemInput(node, i);
    if (!in)
      return in.takeError();
    auto s = broadcastShapes(shape, in->shape);
    if (!s)
      return nodeError(node, "input shapes " + rt::shapeString(shape) +
                                 " and " + rt::shapeString(in->shape) +
                                 " do not broadcast");
    shape = *s;
    ins.push_back(*in);
  }
  // Mixed element types are not ONNX (no implicit promotion), except where
  // the op says so (Where's condition).
  Type elem = resultElem ? resultElem : elemOf(ins.front());
  if (llvm::none_of(ins, [](const ElemOperand &o) { return o.tensor; })) {
    // Every input a splat constant: still a tensor of the broadcast shape.
    Type t = elemOf(ins.front());
    ins.front().tensor =
        linalg::FillOp::create(im.b, im.loc, ins.front().scalar,
                               im.empty(shape, t))
            .result();
  }
  im.setOutput(node, 0, im.elementwise(ins, shape, elem, fn));
  return llvm::Error::success();
}

bool isF(Value v) { return isa<FloatType>(v.getType()); }

ScalarFn binary(StringRef name) {
  return [name](OpBuilder &b, Location loc, ValueRange s) -> Value {
    Value x = s[0], y = s[1];
    if (name == "Add")
      return isF(x) ? arith::AddFOp::create(b, loc, x, y).getResult()
                    : arith::AddIOp::create(b, loc, x, y).getResult();
    if (name == "Sub")
      return isF(x) ? arith::SubFOp::create(b, loc, x, y).getResult()
                    : arith::SubIOp::create(b, loc, x, y).getResult();
    if (name == "Mul")
      return isF(x) ? arith::MulFOp::create(b, loc, x, y).getResult()
                    : arith::MulIOp::create(b, loc, x, y).getResult();
    if (name == "Div")
      return isF(x) ? arith::DivFOp::create(b, loc, x, y).getResult()
                    : arith::DivSIOp::create(b, loc, x, y).getResult();
    if (name == "Pow") {
      Value e = Importer::convertScalar(b, loc, y, x.getType());
      return math::PowFOp::create(b, loc, x, e);
    }
    if (name == "And")
      return arith::AndIOp::create(b, loc, x, y);
    if (name == "Or")
      return arith::OrIOp::create(b, loc, x, y);
    // Comparisons.
    bool f = isF(x);
    auto fp = name == "Equal"         ? arith::CmpFPredicate::OEQ
              : name == "Less"        ? arith::CmpFPredicate::OLT
              : name == "Greater"     ? arith::CmpFPredicate::OGT
              : name == "LessOrEqual" ? arith::CmpFPredicate::OLE
                                      : arith::CmpFPredicate::OGE;
    auto ip = name == "Equal"         ? arith::CmpIPredicate::eq
              : name == "Less"        ? arith::CmpIPredicate::slt
              : name == "Greater"     ? arith::CmpIPredicate::sgt
              : name == "LessOrEqual" ? arith::CmpIPredicate::sle
                                      : arith::CmpIPredicate::sge;
    return f ? arith::CmpFOp::create(b, loc, fp, x, y).getResult()
             : arith::CmpIOp::create(b, loc, ip, x, y).getResult();
  };
}

ScalarFn unary(StringRef name) {
  return [name](OpBuilder &b, Location loc, ValueRange s) -> Value {
    Value x = s[0];
    if (name == "Sqrt")
      return math::SqrtOp::create(b, loc, x);
    if (name == "Tanh")
      return math::TanhOp::create(b, loc, x);
    if (name == "Exp")
      return math::ExpOp::create(b, loc, x);
    if (name == "Erf")
      return math::ErfOp::create(b, loc, x);
    if (name == "Neg")
      return isF(x) ? arith::NegFOp::create(b, loc, x).getResult()
                    : arith::SubIOp::create(
                          b, loc,
                          arith::ConstantOp::create(
                              b, loc, b.getIntegerAttr(x.getType(), 0)),
                          x)
                          .getResult();
    if (name == "Reciprocal") {
      Value one =
          arith::ConstantOp::create(b, loc, b.getFloatAttr(x.getType(), 1));
      return arith::DivFOp::create(b, loc, one, x);
    }
    if (name == "Relu") {
      Value zero =
          arith::ConstantOp::create(b, loc, b.getFloatAttr(x.getType(), 0));
      return arith::MaximumFOp::create(b, loc, x, zero);
    }
    // Not
    Value one =
        arith::ConstantOp::create(b, loc, b.getIntegerAttr(x.getType(), 1));
    return arith::XOrIOp::create(b, loc, x, one);
  };
}

llvm::Error emitWhere(Importer &im, const onnx::NodeProto &node) {
  auto x = im.elemInput(node, 1);
  if (!x)
    return x.takeError();
  return emitElementwise(
      im, node, 3, elemOf(*x), [](OpBuilder &b, Location loc, ValueRange s) {
        return arith::SelectOp::create(b, loc, s[0], s[1], s[2]).getResult();
      });
}

llvm::Error emitCast(Importer &im, const onnx::NodeProto &node) {
  auto to = intAttr(node, "to", -1);
  if (!to)
    return to.takeError();
  std::optional<Elem> e = elemFromOnnx(*to);
  if (!e)
    return nodeError(node, "cast to unsupported type " + llvm::Twine(*to));
  Type t = im.elemType(*e);
  auto in = im.input(node, 0);
  if (!in)
    return in.takeError();
  if (cast<RankedTensorType>(in->getType()).getElementType() == t) {
    im.setOutput(node, 0, *in);
    return llvm::Error::success();
  }
  return emitElementwise(im, node, 1, t,
                         [t](OpBuilder &b, Location loc, ValueRange s) {
                           return Importer::convertScalar(b, loc, s[0], t);
                         });
}

/// Pass-through ops of inference graphs.
llvm::Error emitIdentity(Importer &im, const onnx::NodeProto &node) {
  if (node.op_type() == "Dropout") {
    if (const ConstTensor *training = im.constInput(node, 2);
        training && training->data.front() != 0)
      return nodeError(node, "training_mode = true is not supported");
    if (im.hasInput(node, 2) && !im.constInput(node, 2))
      return nodeError(node, "training_mode must be a constant");
    if (node.output_size() > 1 && !node.output(1).empty())
      return nodeError(node, "the mask output is not supported");
  }
  auto in = im.input(node, 0);
  if (!in)
    return in.takeError();
  im.setOutput(node, 0, *in);
  return llvm::Error::success();
}

llvm::Error emitSoftmax(Importer &im, const onnx::NodeProto &node) {
  auto in = im.input(node, 0);
  if (!in)
    return in.takeError();
  int64_t rank = shapeOf(*in).size();
  auto axis = intAttr(node, "axis", im.model.opset >= 13 ? -1 : 1);
  if (!axis)
    return axis.takeError();
  int64_t a = *axis < 0 ? *axis + rank : *axis;
  if (a < 0 || a >= rank)
    return nodeError(node, "axis " + llvm::Twine(*axis) +
                               " is out of range for rank " +
                               llvm::Twine(rank));
  // Before opset 13 Softmax flattens from `axis` on: one axis only when it
  // is the last.
  if (im.model.opset < 13 && a != rank - 1)
    return nodeError(node, "opset < 13 softmax over axes " + llvm::Twine(a) +
                               ".. is not supported");
  auto type = cast<RankedTensorType>(in->getType());
  Value init = im.empty(type.getShape(), type.getElementType());
  auto op =
      linalg::SoftmaxOp::create(im.b, im.loc, TypeRange{type}, *in, init, a);
  im.setOutput(node, 0, op.getResult()[0]);
  return llvm::Error::success();
}
} // namespace

void mlir::attn::onnx_import::addMathHandlers(HandlerMap &map) {
  for (StringRef name : {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or"})
    map[name] = [name](Importer &im, const onnx::NodeProto &node) {
      return emitElementwise(im, node, 2, Type(), binary(name));
    };
  for (StringRef name :
       {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
    map[name] = [name](Importer &im, const onnx::NodeProto &node) {
      return emitElementwise(im, node, 2, im.b.getI1Type(), binary(name));
    };
  for (StringRef name :
       {"Sqrt", "Tanh", "Exp", "Erf", "Neg", "Reciprocal", "Relu", "Not"})
    map[name] = [name](Importer &im, const onnx::NodeProto &node) {
      return emitElementwise(im, node, 1, Type(), unary(name));
    };
  map["Where"] = emitWhere;
  map["Cast"] = emitCast;
  map["Identity"] = emitIdentity;
  map["Dropout"] = emitIdentity;
  map["Softmax"] = emitSoftmax;
}
