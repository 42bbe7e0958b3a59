//===- Importer.cpp - ONNX graph -> func on tensors -----------------------===//
#include "tools/attn-import-onnx/Importer.h"

#include "runtime/Buffer.h"
#include "runtime/Errors.h"

#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn::onnx_import;
namespace rt = mlir::attn::rt;
using rt::makeError;

namespace {
/// The static shape of a graph input/output's type, or an error.
llvm::Expected<llvm::SmallVector<int64_t, 4>>
staticShape(const onnx::ValueInfoProto &info, llvm::StringRef what) {
  const onnx::TypeProto &type = info.type();
  if (!type.has_tensor_type())
    return makeError(what + " '" + info.name() + "' is not a tensor");
  llvm::SmallVector<int64_t, 4> shape;
  if (!type.tensor_type().has_shape())
    return makeError(what + " '" + info.name() +
                     "' has no shape (static "
                     "shapes only)");
  for (const auto &dim : type.tensor_type().shape().dim()) {
    if (!dim.has_dim_value() || dim.dim_value() < 0)
      return makeError(
          what + " '" + info.name() + "' has a dynamic dim" +
          (dim.has_dim_param() ? " '" + dim.dim_param() + "'" : std::string()) +
          " (static shapes only: export with fixed sizes)");
    shape.push_back(dim.dim_value());
  }
  return shape;
}
} // namespace

llvm::SmallVector<int64_t, 4> mlir::attn::onnx_import::shapeOf(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return llvm::SmallVector<int64_t, 4>(t.getShape());
}

std::optional<llvm::SmallVector<int64_t, 4>>
mlir::attn::onnx_import::broadcastShapes(llvm::ArrayRef<int64_t> a,
                                         llvm::ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  llvm::SmallVector<int64_t, 4> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      return std::nullopt;
    out[i] = x == 1 ? y : x;
  }
  return out;
}

Importer::Importer(MLIRContext &ctx, const OnnxModel &model,
                   const ImportOptions &options)
    : b(&ctx), loc(UnknownLoc::get(&ctx)), model(model), options(options) {
  addMathHandlers(handlers);
  addMatMulHandlers(handlers);
  addShapeHandlers(handlers);
  addAttentionHandlers(handlers);
}

llvm::Expected<OwningOpRef<ModuleOp>>
mlir::attn::onnx_import::importModel(MLIRContext &ctx, const OnnxModel &model,
                                     const ImportOptions &options) {
  ctx.loadDialect<func::FuncDialect, linalg::LinalgDialect,
                  tensor::TensorDialect, arith::ArithDialect, math::MathDialect,
                  attn::AttnDialect>();
  Importer importer(ctx, model, options);
  return importer.run();
}

llvm::Error Importer::declareInputs(func::FuncOp &func) {
  const onnx::GraphProto &g = model.proto.graph();
  for (const onnx::TensorProto &t : g.initializer()) {
    auto c = readTensor(t);
    if (!c)
      return makeError("initializer: " + llvm::toString(c.takeError()));
    values[t.name()].constant = std::move(*c);
  }
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  for (const onnx::ValueInfoProto &in : g.input()) {
    if (values.count(in.name()))
      continue; // an initializer listed as an input (old exporters)
    auto shape = staticShape(in, "graph input");
    if (!shape)
      return shape.takeError();
    std::optional<Elem> e = elemFromOnnx(in.type().tensor_type().elem_type());
    if (!e)
      return makeError("graph input '" + in.name() + "' has unsupported type " +
                       llvm::Twine(in.type().tensor_type().elem_type()));
    argTypes.push_back(RankedTensorType::get(*shape, elemType(*e)));
    argNames.push_back(in.name());
  }
  func = func::FuncOp::create(b, loc, options.funcName,
                              b.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames)) {
    values[name].value = entry->getArgument(i);
    func.setArgAttr(i, "onnx.name", b.getStringAttr(name));
  }
  b.setInsertionPointToStart(entry);
  return llvm::Error::success();
}

llvm::Expected<OwningOpRef<ModuleOp>> Importer::run() {
  module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  func::FuncOp func;
  if (llvm::Error e = declareInputs(func))
    return std::move(e);
  for (const onnx::NodeProto &node : model.proto.graph().node())
    if (llvm::Error e = importNode(node))
      return std::move(e);
  if (llvm::Error e = finish(func))
    return std::move(e);
  return std::move(module);
}

llvm::Error Importer::importNode(const onnx::NodeProto &node) {
  loc = NameLoc::get(b.getStringAttr(node.name().empty() && node.output_size()
                                         ? node.output(0)
                                         : node.name()));
  bool ms = node.domain() == "com.microsoft";
  if (!ms && !node.domain().empty() && node.domain() != "ai.onnx")
    return nodeError(node, "unsupported op (domain '" + node.domain() + "')");
  // All inputs constant: shape arithmetic, folded on the host.
  llvm::SmallVector<const ConstTensor *, 4> consts;
  bool allConst = !ms;
  for (int i = 0; i < node.input_size(); ++i) {
    if (node.input(i).empty()) {
      consts.push_back(nullptr);
      continue;
    }
    if (!values.count(node.input(i)))
      return nodeError(node, "input '" + node.input(i) +
                                 "' is not defined before the node");
    const ConstTensor *c = constInput(node, i);
    allConst &= c != nullptr;
    consts.push_back(c);
  }
  if (allConst) {
    auto folded = foldNode(node, consts, model.opset);
    if (!folded)
      return folded.takeError();
    bool small = *folded && llvm::all_of(**folded, [&](const ConstTensor &c) {
      return c.numElements() <= options.foldLimit;
    });
    if (*folded && small) {
      for (auto [i, c] : llvm::enumerate(**folded))
        setOutput(node, i, std::move(c));
      return llvm::Error::success();
    }
  }
  std::string key = ms ? "com.microsoft." + node.op_type() : node.op_type();
  auto it = handlers.find(key);
  if (it == handlers.end())
    return nodeError(node, "unsupported op");
  return it->second(*this, node);
}

llvm::Error Importer::finish(func::FuncOp func) {
  const onnx::GraphProto &g = model.proto.graph();
  SmallVector<Value> results;
  for (const onnx::ValueInfoProto &out : g.output()) {
    auto it = values.find(out.name());
    if (it == values.end())
      return makeError("graph output '" + out.name() + "' is never computed");
    Value v =
        it->second.value ? it->second.value : constant(*it->second.constant);
    // A declared static shape must match what the graph computes.
    if (out.type().has_tensor_type() && out.type().tensor_type().has_shape()) {
      auto declared = staticShape(out, "graph output");
      if (declared && *declared != shapeOf(v))
        return makeError("graph output '" + out.name() + "' is declared " +
                         rt::shapeString(*declared) +
                         " but the graph computes " +
                         rt::shapeString(shapeOf(v)));
      llvm::consumeError(declared ? llvm::Error::success()
                                  : declared.takeError());
    }
    results.push_back(v);
  }
  func::ReturnOp::create(b, loc, results);
  func.setType(b.getFunctionType(func.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  for (auto [i, out] : llvm::enumerate(g.output()))
    func.setResultAttr(i, "onnx.name", b.getStringAttr(out.name()));
  if (failed(mlir::verify(*module)))
    return makeError("internal error: the imported module does not verify");
  return llvm::Error::success();
}

bool Importer::hasInput(const onnx::NodeProto &node, int i) const {
  return i < node.input_size() && !node.input(i).empty();
}

const ConstTensor *Importer::constInput(const onnx::NodeProto &node,
                                        int i) const {
  if (!hasInput(node, i))
    return nullptr;
  auto it = values.find(node.input(i));
  if (it == values.end() || !it->second.constant)
    return nullptr;
  return &*it->second.constant;
}

llvm::Expected<Value> Importer::input(const onnx::NodeProto &node, int i) {
  if (!hasInput(node, i))
    return nodeError(node, "input " + llvm::Twine(i) + " is missing");
  auto it = values.find(node.input(i));
  if (it == values.end())
    return nodeError(node, "input '" + node.input(i) + "' is not defined");
  if (!it->second.value) {
    OpBuilder::InsertionGuard guard(b);
    // Constants at the function entry, so that every use is dominated.
    Block *entry = b.getInsertionBlock();
    b.setInsertionPointToStart(entry);
    it->second.value = constant(*it->second.constant);
  }
  return it->second.value;
}

llvm::Expected<ElemOperand> Importer::elemInput(const onnx::NodeProto &node,
                                                int i) {
  if (const ConstTensor *c = constInput(node, i); c && c->isSplat()) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(b.getInsertionBlock());
    ElemOperand op;
    op.scalar = scalarConstant(c->data.front(), elemType(c->elem));
    op.shape = c->shape;
    return op;
  }
  auto v = input(node, i);
  if (!v)
    return v.takeError();
  return ElemOperand{*v, Value(), shapeOf(*v)};
}

llvm::Expected<llvm::SmallVector<int64_t, 4>>
Importer::inputShape(const onnx::NodeProto &node, int i) {
  if (const ConstTensor *c = constInput(node, i))
    return c->shape;
  auto v = input(node, i);
  if (!v)
    return v.takeError();
  return shapeOf(*v);
}

llvm::Expected<llvm::SmallVector<int64_t, 4>>
Importer::intsInput(const onnx::NodeProto &node, int i) {
  const ConstTensor *c = constInput(node, i);
  if (!c)
    return nodeError(node, "input " + llvm::Twine(i) + " ('" +
                               (hasInput(node, i) ? node.input(i) : "") +
                               "') must be a constant (static shapes only)");
  llvm::SmallVector<int64_t, 4> v;
  for (double x : c->data)
    v.push_back(static_cast<int64_t>(x));
  return v;
}

void Importer::setOutput(const onnx::NodeProto &node, int i, Value v) {
  if (i < node.output_size() && !node.output(i).empty())
    values[node.output(i)] = Entry{std::nullopt, v};
}

void Importer::setOutput(const onnx::NodeProto &node, int i, ConstTensor c) {
  if (i < node.output_size() && !node.output(i).empty())
    values[node.output(i)] = Entry{std::move(c), Value()};
}

Type Importer::elemType(Elem e) {
  switch (e) {
  case Elem::F32:
    return b.getF32Type();
  case Elem::F64:
    return b.getF64Type();
  case Elem::F16:
    return b.getF16Type();
  case Elem::BF16:
    return b.getBF16Type();
  case Elem::I64:
    return b.getI64Type();
  case Elem::I32:
    return b.getI32Type();
  case Elem::I8:
  case Elem::U8:
    return b.getI8Type();
  case Elem::Bool:
    return b.getI1Type();
  }
  return b.getF32Type();
}

Value Importer::scalarConstant(double v, Type t) {
  if (auto f = dyn_cast<FloatType>(t))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(f, v));
  return arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(t, static_cast<int64_t>(v)));
}

Value Importer::constant(const ConstTensor &c) {
  Type elem = elemType(c.elem);
  auto type = RankedTensorType::get(c.shape, elem);
  DenseElementsAttr attr;
  if (auto f = dyn_cast<FloatType>(elem)) {
    SmallVector<APFloat> vals;
    for (double x : c.data) {
      APFloat a(x);
      bool lost;
      a.convert(f.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      vals.push_back(a);
    }
    attr = c.isSplat() ? DenseElementsAttr::get(type, vals.front())
                       : DenseElementsAttr::get(type, vals);
  } else {
    unsigned width = elem.getIntOrFloatBitWidth();
    SmallVector<APInt> vals;
    for (double x : c.data)
      vals.push_back(APInt(width, static_cast<int64_t>(x), /*isSigned=*/true,
                           /*implicitTrunc=*/true));
    attr = c.isSplat() ? DenseElementsAttr::get(type, vals.front())
                       : DenseElementsAttr::get(type, vals);
  }
  return arith::ConstantOp::create(b, loc, attr);
}

Value Importer::empty(llvm::ArrayRef<int64_t> shape, Type elem) {
  return tensor::EmptyOp::create(b, loc, shape, elem);
}

Value Importer::zeros(llvm::ArrayRef<int64_t> shape, Type elem) {
  Value zero = scalarConstant(0, elem);
  return linalg::FillOp::create(b, loc, zero, empty(shape, elem)).result();
}
