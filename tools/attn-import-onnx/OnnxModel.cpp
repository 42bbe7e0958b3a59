//===- OnnxModel.cpp - reading ONNX models --------------------------------===//
#include "tools/attn-import-onnx/OnnxModel.h"

#include "runtime/Errors.h"
#include "runtime/HalfFloat.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstring>

using namespace mlir::attn::onnx_import;
namespace rt = mlir::attn::rt;
using rt::makeError;

namespace {
int64_t elemBytes(Elem e) {
  switch (e) {
  case Elem::F64:
  case Elem::I64:
    return 8;
  case Elem::F32:
  case Elem::I32:
    return 4;
  case Elem::F16:
  case Elem::BF16:
    return 2;
  case Elem::I8:
  case Elem::U8:
  case Elem::Bool:
    return 1;
  }
  return 1;
}

/// Element `i` of little-endian raw bytes of type `e`.
double rawElement(const char *p, Elem e) {
  switch (e) {
  case Elem::F32: {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  case Elem::F64: {
    double d;
    std::memcpy(&d, p, 8);
    return d;
  }
  case Elem::F16:
  case Elem::BF16: {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return e == Elem::F16 ? rt::halfToFloat(h) : rt::bfloatToFloat(h);
  }
  case Elem::I64: {
    int64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<double>(v);
  }
  case Elem::I32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case Elem::I8:
    return static_cast<int8_t>(*p);
  case Elem::U8:
    return static_cast<uint8_t>(*p);
  case Elem::Bool:
    return *p != 0;
  }
  return 0;
}
} // namespace

std::optional<Elem> mlir::attn::onnx_import::elemFromOnnx(int t) {
  switch (t) {
  case onnx::TensorProto::FLOAT:
    return Elem::F32;
  case onnx::TensorProto::DOUBLE:
    return Elem::F64;
  case onnx::TensorProto::FLOAT16:
    return Elem::F16;
  case onnx::TensorProto::BFLOAT16:
    return Elem::BF16;
  case onnx::TensorProto::INT64:
    return Elem::I64;
  case onnx::TensorProto::INT32:
    return Elem::I32;
  case onnx::TensorProto::INT8:
    return Elem::I8;
  case onnx::TensorProto::UINT8:
    return Elem::U8;
  case onnx::TensorProto::BOOL:
    return Elem::Bool;
  default:
    return std::nullopt;
  }
}

const char *mlir::attn::onnx_import::elemName(Elem e) {
  static const char *names[] = {"f32", "f64", "f16", "bf16", "i64",
                                "i32", "i8",  "u8",  "bool"};
  return names[static_cast<int>(e)];
}

bool mlir::attn::onnx_import::isFloat(Elem e) {
  return e == Elem::F32 || e == Elem::F64 || e == Elem::F16 || e == Elem::BF16;
}

int64_t ConstTensor::numElements() const {
  return mlir::ShapedType::getNumElements(shape);
}

bool ConstTensor::isSplat() const {
  for (double x : data)
    if (!(x == data.front()) && !(std::isnan(x) && std::isnan(data.front())))
      return false;
  return !data.empty();
}

llvm::Expected<ConstTensor>
mlir::attn::onnx_import::readTensor(const onnx::TensorProto &t) {
  std::string name = "tensor '" + t.name() + "'";
  std::optional<Elem> elem = elemFromOnnx(t.data_type());
  if (!elem)
    return makeError(name + " has unsupported data type " +
                     llvm::Twine(t.data_type()));
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return makeError(name + " uses external data (not supported)");
  ConstTensor c;
  c.elem = *elem;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > (int64_t(1) << 40) / d))
      return makeError(name + " has a bad shape");
    c.shape.push_back(d);
    n *= d;
  }
  c.data.resize(n);
  if (t.has_raw_data()) {
    const std::string &raw = t.raw_data();
    int64_t bytes = elemBytes(*elem);
    if (static_cast<int64_t>(raw.size()) != n * bytes)
      return makeError(name + " holds " + llvm::Twine(raw.size()) +
                       " bytes of raw data for " + llvm::Twine(n) + " " +
                       elemName(*elem) + " elements");
    for (int64_t i = 0; i < n; ++i)
      c.data[i] = rawElement(raw.data() + i * bytes, *elem);
    return c;
  }
  auto fill = [&](const auto &field) -> llvm::Error {
    if (field.size() != n)
      return makeError(name + " holds " + llvm::Twine(field.size()) +
                       " values for " + llvm::Twine(n) + " elements");
    for (int64_t i = 0; i < n; ++i)
      c.data[i] = static_cast<double>(field.Get(i));
    return llvm::Error::success();
  };
  llvm::Error e = llvm::Error::success();
  switch (*elem) {
  case Elem::F32:
    e = fill(t.float_data());
    break;
  case Elem::F64:
    e = fill(t.double_data());
    break;
  case Elem::I64:
    e = fill(t.int64_data());
    break;
  default: // int32_data holds every narrower type (f16/bf16 as bits)
    e = fill(t.int32_data());
    if (!e && (*elem == Elem::F16 || *elem == Elem::BF16))
      for (double &x : c.data)
        x = *elem == Elem::F16 ? rt::halfToFloat(uint16_t(x))
                               : rt::bfloatToFloat(uint16_t(x));
    break;
  }
  if (e)
    return std::move(e);
  return c;
}

llvm::Expected<OnnxModel>
mlir::attn::onnx_import::loadModel(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return makeError("cannot open '" + path +
                     "': " + buffer.getError().message());
  OnnxModel m;
  m.path = path.str();
  llvm::StringRef bytes = (*buffer)->getBuffer();
  // An empty protobuf parses (every field absent): say what it is.
  if (bytes.empty())
    return makeError("'" + path + "' is empty (not an ONNX model)");
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !m.proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return makeError("'" + path +
                     "' is not an ONNX model (the protobuf does not parse; "
                     "truncated?)");
  if (!m.proto.has_graph())
    return makeError("'" + path + "' has no graph (not an ONNX model?)");
  for (const onnx::OperatorSetIdProto &id : m.proto.opset_import()) {
    if (id.domain().empty() || id.domain() == "ai.onnx")
      m.opset = id.version();
    else if (id.domain() == "com.microsoft")
      m.msOpset = id.version();
  }
  if (m.opset == 0)
    return makeError("'" + path + "' imports no default-domain opset");
  return m;
}

std::string mlir::attn::onnx_import::describeNode(const onnx::NodeProto &node) {
  std::string name = node.name();
  if (name.empty() && node.output_size())
    name = node.output(0);
  std::string op = node.op_type();
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    op = node.domain() + "." + op;
  return "node '" + name + "' (" + op + ")";
}

llvm::Error mlir::attn::onnx_import::nodeError(const onnx::NodeProto &node,
                                               const llvm::Twine &msg) {
  return makeError(describeNode(node) + ": " + msg);
}

const onnx::AttributeProto *
mlir::attn::onnx_import::findAttr(const onnx::NodeProto &node,
                                  llvm::StringRef name) {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

llvm::Expected<int64_t>
mlir::attn::onnx_import::intAttr(const onnx::NodeProto &node,
                                 llvm::StringRef name, int64_t dflt) {
  const onnx::AttributeProto *a = findAttr(node, name);
  if (!a)
    return dflt;
  if (a->type() != onnx::AttributeProto::INT)
    return nodeError(node, "attribute '" + name + "' is not an int");
  return a->i();
}

llvm::Expected<float>
mlir::attn::onnx_import::floatAttr(const onnx::NodeProto &node,
                                   llvm::StringRef name, float dflt) {
  const onnx::AttributeProto *a = findAttr(node, name);
  if (!a)
    return dflt;
  if (a->type() != onnx::AttributeProto::FLOAT)
    return nodeError(node, "attribute '" + name + "' is not a float");
  return a->f();
}

llvm::Expected<std::optional<llvm::SmallVector<int64_t, 4>>>
mlir::attn::onnx_import::intsAttr(const onnx::NodeProto &node,
                                  llvm::StringRef name) {
  const onnx::AttributeProto *a = findAttr(node, name);
  if (!a)
    return std::nullopt;
  if (a->type() != onnx::AttributeProto::INTS)
    return nodeError(node, "attribute '" + name + "' is not a list of ints");
  return llvm::SmallVector<int64_t, 4>(a->ints().begin(), a->ints().end());
}
