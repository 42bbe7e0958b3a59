//===- OnnxModel.h - reading ONNX models (libonnx's protobuf) --*- C++ -*-===//
//
// The importer's view of an ONNX file: the parsed ModelProto (Debian's
// libonnx-dev, onnx/onnx_pb.h), its opset, and small host tensors
// (ConstTensor) for initializers, Constant nodes and the shape arithmetic
// folded at import. Every failure is an llvm::Error with a one-line
// message naming the file, node or tensor.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_IMPORT_ONNX_ONNXMODEL_H
#define ATTN_TOOLS_IMPORT_ONNX_ONNXMODEL_H

#include "onnx/onnx_pb.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::attn::onnx_import {

/// Element types the importer handles (ONNX TensorProto::DataType values).
enum class Elem { F32, F64, F16, BF16, I64, I32, I8, U8, Bool };

/// The ONNX data type `t` as an Elem; nullopt for others.
std::optional<Elem> elemFromOnnx(int t);
const char *elemName(Elem e);
bool isFloat(Elem e);

/// A host tensor: initializers, Constant outputs and folded values. Values
/// are held as doubles (exact for every int64 shape value below 2^53 and
/// every f32/f16/bf16 value); `elem` says what they are.
struct ConstTensor {
  Elem elem = Elem::F32;
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<double> data;

  int64_t numElements() const;
  bool isScalarLike() const { return data.size() == 1; }
  /// All elements equal (true for one element).
  bool isSplat() const;
};

/// Reads TensorProto `t` (raw_data or typed fields; no external data).
llvm::Expected<ConstTensor> readTensor(const onnx::TensorProto &t);

struct OnnxModel {
  onnx::ModelProto proto;
  std::string path;
  /// Version of the default ("" / "ai.onnx") domain.
  int64_t opset = 0;
  /// Version of com.microsoft, 0 when not imported.
  int64_t msOpset = 0;
};

/// Parses the file at `path`: "cannot open", "is empty", "not an ONNX
/// model (the protobuf does not parse; truncated?)", "no graph" and "no
/// default-domain opset" are the errors.
llvm::Expected<OnnxModel> loadModel(llvm::StringRef path);

/// "node 'name' (OpType)" for messages; the node's first output when it
/// has no name.
std::string describeNode(const onnx::NodeProto &node);

/// Attribute accessors; a present attribute of the wrong type is an error.
const onnx::AttributeProto *findAttr(const onnx::NodeProto &node,
                                     llvm::StringRef name);
llvm::Expected<int64_t> intAttr(const onnx::NodeProto &node,
                                llvm::StringRef name, int64_t dflt);
llvm::Expected<float> floatAttr(const onnx::NodeProto &node,
                                llvm::StringRef name, float dflt);
/// nullopt when absent.
llvm::Expected<std::optional<llvm::SmallVector<int64_t, 4>>>
intsAttr(const onnx::NodeProto &node, llvm::StringRef name);

/// `node`: message (one line), as an llvm::Error.
llvm::Error nodeError(const onnx::NodeProto &node, const llvm::Twine &msg);

} // namespace mlir::attn::onnx_import

#endif
