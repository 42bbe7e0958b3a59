//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
#include "tools/attn-import-onnx/Npy.h"

#include "runtime/Errors.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir::attn::onnx_import;
using mlir::attn::rt::makeError;

namespace {
/// The text after `'key':` in the header dict, trimmed.
llvm::StringRef field(llvm::StringRef header, llvm::StringRef key) {
  size_t at = header.find(("'" + key + "'").str());
  if (at == llvm::StringRef::npos)
    return "";
  llvm::StringRef rest = header.drop_front(at + key.size() + 2).ltrim();
  if (!rest.consume_front(":"))
    return "";
  return rest.ltrim();
}
} // namespace

int64_t NpyArray::numElements() const {
  return mlir::ShapedType::getNumElements(shape);
}

llvm::Expected<NpyArray>
mlir::attn::onnx_import::readNpy(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return makeError("cannot open '" + path +
                     "': " + buffer.getError().message());
  llvm::StringRef data = (*buffer)->getBuffer();
  std::string bad = "'" + path.str() + "' is not a .npy file";
  if (!data.consume_front("\x93NUMPY") || data.size() < 4)
    return makeError(bad);
  uint8_t major = data[0];
  if (major < 1 || major > 3)
    return makeError(bad + " (version " + llvm::Twine(int(major)) +
                     "; 1 to 3 are read)");
  data = data.drop_front(2);
  size_t len = 0;
  if (major == 1) {
    len = uint8_t(data[0]) | (uint8_t(data[1]) << 8);
    data = data.drop_front(2);
  } else {
    if (data.size() < 4)
      return makeError(bad + " (truncated header)");
    len = uint32_t(uint8_t(data[0])) | (uint32_t(uint8_t(data[1])) << 8) |
          (uint32_t(uint8_t(data[2])) << 16) |
          (uint32_t(uint8_t(data[3])) << 24);
    data = data.drop_front(4);
  }
  if (len > data.size())
    return makeError(bad + " (truncated header)");
  llvm::StringRef header = data.take_front(len);
  data = data.drop_front(len);
  NpyArray a;
  llvm::StringRef descr = field(header, "descr");
  if (!descr.consume_front("'") || descr.find('\'') == llvm::StringRef::npos)
    return makeError(bad + " (no descr)");
  a.descr = descr.take_until([](char c) { return c == '\''; }).str();
  // "<f4": byte order, kind, item size.
  if (a.descr.size() < 3)
    return makeError("'" + path + "' has unsupported dtype '" + a.descr + "'");
  if (field(header, "fortran_order").starts_with("True"))
    return makeError("'" + path + "' is in Fortran order (C order needed)");
  llvm::StringRef shape = field(header, "shape");
  if (!shape.consume_front("("))
    return makeError(bad + " (no shape)");
  shape = shape.take_until([](char c) { return c == ')'; });
  while (!(shape = shape.ltrim(" ,")).empty()) {
    int64_t d;
    // At most 2^40 elements: the product cannot overflow below.
    if (shape.consumeInteger(10, d) || d < 0 ||
        (d > 0 && a.numElements() > (int64_t(1) << 40) / d))
      return makeError(bad + " (bad shape)");
    a.shape.push_back(d);
  }
  int64_t item = 0;
  llvm::StringRef size = llvm::StringRef(a.descr).drop_front(2);
  if (size.getAsInteger(10, item) || item <= 0 || item > 16)
    return makeError("'" + path + "' has unsupported dtype '" + a.descr + "'");
  uint64_t bytes = uint64_t(a.numElements()) * uint64_t(item);
  if (data.size() != bytes)
    return makeError("'" + path + "' holds " + llvm::Twine(data.size()) +
                     " data bytes, its header says " + llvm::Twine(bytes) +
                     " (truncated?)");
  a.bytes.assign(data.begin(), data.end());
  return a;
}

void mlir::attn::onnx_import::writeNpy(llvm::raw_ostream &os,
                                       const NpyArray &a) {
  std::string dict =
      "{'descr': '" + a.descr + "', 'fortran_order': False, 'shape': (";
  for (auto [i, d] : llvm::enumerate(a.shape))
    dict += (i ? ", " : "") + std::to_string(d);
  if (a.shape.size() == 1)
    dict += ",";
  dict += "), }";
  // Header padded with spaces to a multiple of 64 bytes, ending in '\n'.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  os << "\x93NUMPY" << char(1) << char(0) << char(dict.size() & 0xff)
     << char(dict.size() >> 8) << dict;
  os.write(a.bytes.data(), a.bytes.size());
}
