//===- Safetensors.h - read and write .safetensors checkpoints -*- C++ -*-===//
//
// The format checkpoints ship in (huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON
//
//   {"__metadata__": {"k": "v", ...},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
//
// (possibly padded with trailing spaces), then the byte buffer the offsets
// index, little-endian and row-major. Parsing checks everything a reader
// relies on: the header fits the file, the JSON is an object of well-formed
// entries, every tensor's byte count is dtype size x shape, and the tensors
// tile the buffer exactly (no gap, no overlap, nothing past its end, as the
// reference Rust reader requires). A malformed file is an llvm::Error naming
// the file and the problem.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CONVERT_SAFETENSORS_H
#define ATTN_RUNTIME_CONVERT_SAFETENSORS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir::attn::st {

/// The safetensors dtypes. The floating types other than F8 can be
/// converted (Uptrain.h); every type can be read, written and copied.
enum class DType {
  Bool,
  U8,
  I8,
  F8E5M2,
  F8E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  I64,
  U64,
  F64
};

/// "F32", "BF16", ... as in the header.
const char *stringifyDType(DType t);
std::optional<DType> parseDType(llvm::StringRef s);
int64_t dtypeBytes(DType t);
/// F16, BF16, F32, F64: the types the head pooling reads and writes.
bool isConvertibleFloat(DType t);

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data; ///< little-endian, row-major

  int64_t numElements() const;
  /// Element i as a double (convertible float types only).
  double get(int64_t i) const;
  /// Stores v rounded once to the dtype (to nearest even; convertible
  /// float types only).
  void set(int64_t i, double v);
};

struct File {
  /// In buffer order for a parsed file; written in this order.
  std::vector<Tensor> tensors;
  std::map<std::string, std::string> metadata; ///< "__metadata__"

  Tensor *find(llvm::StringRef name);
  const Tensor *find(llvm::StringRef name) const;
};

/// Parses a whole file image; `source` names it in errors.
llvm::Expected<File> parse(llvm::StringRef bytes, llvm::StringRef source);
/// The file image: tensors in `file.tensors` order, the header padded with
/// spaces to a multiple of 8 bytes (as the Python writer does) so that the
/// buffer is 8-byte aligned. Fails on duplicate names, the name "__metadata__"
/// and on data whose size does not match dtype x shape.
llvm::Expected<std::string> serialize(const File &file);

llvm::Expected<File> readFile(llvm::StringRef path);
/// Writes through a temporary file renamed over `path`, so that a failure
/// never leaves a partial `path` behind.
llvm::Error writeFile(const File &file, llvm::StringRef path);

} // namespace mlir::attn::st

#endif
