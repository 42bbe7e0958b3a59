//===- Importer.h - ONNX graph -> func on linalg/tensor/arith --*- C++ -*-===//
//
// importModel turns an ONNX graph of static shapes into one func.func on
// tensors: graph inputs are its arguments, graph outputs its results,
// initializers and Constant nodes dense constants. Nodes whose inputs are
// all constants (shape arithmetic: Shape, Gather, Concat, Unsqueeze, ...)
// are folded at import (ShapeFolding.cpp); the others are emitted by the
// per-family emitters (EmitMath.cpp, EmitShape.cpp, EmitAttention.cpp)
// as upstream linalg/tensor/arith/math ops, or as attn.attention for the
// attention ops. Any other op is an error naming the node and its type.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_IMPORT_ONNX_IMPORTER_H
#define ATTN_TOOLS_IMPORT_ONNX_IMPORTER_H

#include "tools/attn-import-onnx/OnnxModel.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <optional>

/// `auto var = expr;` returning its error from the enclosing function.
#define ONNX_TRY(var, expr)                                                    \
  auto var = (expr);                                                           \
  if (!var)                                                                    \
    return var.takeError();

namespace mlir::attn::onnx_import {

struct ImportOptions {
  std::string funcName = "main";
  /// Fold nodes of constant inputs whose result has at most this many
  /// elements (bigger ones are emitted as ops).
  int64_t foldLimit = int64_t(1) << 22;
};

/// Imports `model` into a new module of `ctx` (which must have the func,
/// linalg, tensor, arith, math and attn dialects loaded or loadable).
llvm::Expected<OwningOpRef<ModuleOp>>
importModel(MLIRContext &ctx, const OnnxModel &model,
            const ImportOptions &options = {});

/// One input of an elementwise op: a tensor (broadcast numpy-style) or a
/// scalar that every element reads (a splat constant).
struct ElemOperand {
  Value tensor;
  Value scalar;
  /// The operand's shape (a splat constant's too: it still broadcasts).
  llvm::SmallVector<int64_t, 4> shape;
};

class Importer;
using Handler = std::function<llvm::Error(Importer &, const onnx::NodeProto &)>;
using HandlerMap = llvm::StringMap<Handler>;

/// Handlers of each family, keyed by op type (com.microsoft ops as
/// "com.microsoft.Name").
void addMathHandlers(HandlerMap &map);
void addMatMulHandlers(HandlerMap &map);
void addShapeHandlers(HandlerMap &map);
void addAttentionHandlers(HandlerMap &map);

/// Folds `node` when it is shape arithmetic the importer evaluates on the
/// host: the outputs, or nullopt when the op is not foldable (then it is
/// emitted). Errors are malformed nodes.
llvm::Expected<std::optional<std::vector<ConstTensor>>>
foldNode(const onnx::NodeProto &node,
         llvm::ArrayRef<const ConstTensor *> inputs, int64_t opset);

/// Shape rules shared by folding and emitting (errors name the node).
/// Reshape's target: 0 copies the input dim (unless allowzero), -1 infers.
llvm::Expected<llvm::SmallVector<int64_t, 4>>
reshapeTarget(const onnx::NodeProto &node, llvm::ArrayRef<int64_t> in,
              llvm::ArrayRef<int64_t> target, bool allowZero);
/// Unsqueeze / Squeeze axes (from the input of opset >= 13, else the
/// attribute; `axes` empty for Squeeze: every unit dim).
llvm::Expected<llvm::SmallVector<int64_t, 4>>
unsqueezeShape(const onnx::NodeProto &node, llvm::ArrayRef<int64_t> in,
               llvm::ArrayRef<int64_t> axes);
llvm::Expected<llvm::SmallVector<int64_t, 4>>
squeezeShape(const onnx::NodeProto &node, llvm::ArrayRef<int64_t> in,
             llvm::ArrayRef<int64_t> axes);
/// Slice of one axis, normalised and clamped as ONNX specifies.
struct AxisSlice {
  int64_t start = 0, size = 0, step = 1;
};
llvm::Expected<llvm::SmallVector<AxisSlice, 4>>
sliceParams(const onnx::NodeProto &node, llvm::ArrayRef<int64_t> shape,
            llvm::ArrayRef<int64_t> starts, llvm::ArrayRef<int64_t> ends,
            llvm::ArrayRef<int64_t> axes, llvm::ArrayRef<int64_t> steps);
/// `axis` of a rank-`rank` tensor made non-negative, or an error.
llvm::Expected<int64_t> normalizeAxis(const onnx::NodeProto &node, int64_t axis,
                                      int64_t rank);

/// Numpy broadcast of two shapes; nullopt when incompatible.
std::optional<llvm::SmallVector<int64_t, 4>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

class Importer {
public:
  Importer(MLIRContext &ctx, const OnnxModel &model,
           const ImportOptions &options);
  llvm::Expected<OwningOpRef<ModuleOp>> run();

  // --- for the emitters ---------------------------------------------------
  OpBuilder b;
  Location loc;
  const OnnxModel &model;

  /// Input `i` of `node` as a tensor value (constants materialised); an
  /// error when missing.
  llvm::Expected<Value> input(const onnx::NodeProto &node, int i);
  /// True when input `i` is present (not "" and i < input_size()).
  bool hasInput(const onnx::NodeProto &node, int i) const;
  /// Input `i` as a host constant, or null when it is computed.
  const ConstTensor *constInput(const onnx::NodeProto &node, int i) const;
  /// Input `i` as an elementwise operand: splat constants become scalars.
  llvm::Expected<ElemOperand> elemInput(const onnx::NodeProto &node, int i);
  /// The shape of input `i` (constant or computed).
  llvm::Expected<llvm::SmallVector<int64_t, 4>>
  inputShape(const onnx::NodeProto &node, int i);
  /// Input `i` must be a constant list of ints (axes, shapes, ...).
  llvm::Expected<llvm::SmallVector<int64_t, 4>>
  intsInput(const onnx::NodeProto &node, int i);

  void setOutput(const onnx::NodeProto &node, int i, Value v);
  void setOutput(const onnx::NodeProto &node, int i, ConstTensor c);

  Type elemType(Elem e);
  Value constant(const ConstTensor &c);
  Value scalarConstant(double v, Type t);
  Value empty(llvm::ArrayRef<int64_t> shape, Type elem);
  Value zeros(llvm::ArrayRef<int64_t> shape, Type elem);
  /// linalg.generic over `outShape` reading `ins` with numpy broadcasting;
  /// `body(b, loc, scalars)` gets one scalar per operand and returns the
  /// result element.
  Value elementwise(
      llvm::ArrayRef<ElemOperand> ins, llvm::ArrayRef<int64_t> outShape,
      Type outElem,
      llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body);
  /// `v` reshaped to `shape` (same element count) by collapse/expand.
  Value reshape(Value v, llvm::ArrayRef<int64_t> shape);
  /// `v` broadcast (numpy rules) to `shape`.
  Value broadcastTo(Value v, llvm::ArrayRef<int64_t> shape);
  /// Scalar conversion between element types (Cast semantics).
  static Value convertScalar(OpBuilder &b, Location loc, Value x, Type to);

private:
  llvm::Error declareInputs(func::FuncOp &func);
  llvm::Error importNode(const onnx::NodeProto &node);
  llvm::Error finish(func::FuncOp func);

  struct Entry {
    std::optional<ConstTensor> constant;
    Value value;
  };
  ImportOptions options;
  llvm::StringMap<Entry> values;
  HandlerMap handlers;
  OwningOpRef<ModuleOp> module;
};

llvm::SmallVector<int64_t, 4> shapeOf(Value v);

} // namespace mlir::attn::onnx_import

#endif
