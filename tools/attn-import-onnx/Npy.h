//===- Npy.h - NumPy .npy files (inputs and reference outputs) -*- C++ -*-===//
#ifndef ATTN_TOOLS_IMPORT_ONNX_NPY_H
#define ATTN_TOOLS_IMPORT_ONNX_NPY_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mlir::attn::onnx_import {

/// A C-order array: `descr` is NumPy's type string ("<f4", "|b1", "<i8").
struct NpyArray {
  std::string descr;
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<char> bytes;
  int64_t numElements() const;
};

/// Reads a version 1-3 .npy file; errors name the file (not .npy,
/// Fortran order, truncated data).
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);
/// Writes `array` as a version 1.0 .npy file.
void writeNpy(llvm::raw_ostream &os, const NpyArray &array);

} // namespace mlir::attn::onnx_import

#endif
