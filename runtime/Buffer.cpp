//===- Buffer.cpp - host buffer descriptions ------------------------------===//
#include "runtime/Buffer.h"

#include <limits>

#include "llvm/ADT/StringRef.h"

using namespace mlir::attn::rt;

const char *mlir::attn::rt::stringifyDType(DType t) {
  switch (t) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I32:
    return "i32";
  case DType::I1:
    return "i1";
  case DType::I64:
    return "i64";
  }
  return "?";
}

std::optional<DType> mlir::attn::rt::parseDType(llvm::StringRef s) {
  for (DType t :
       {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I1, DType::I64})
    if (s == stringifyDType(t))
      return t;
  return std::nullopt;
}

int64_t mlir::attn::rt::dtypeBytes(DType t) {
  switch (t) {
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::I1:
    return 1;
  case DType::I64:
    return 8;
  }
  return 0;
}

llvm::SmallVector<int64_t, 4>
mlir::attn::rt::rowMajorStrides(llvm::ArrayRef<int64_t> shape) {
  llvm::SmallVector<int64_t, 4> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

std::string mlir::attn::rt::shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  // A kernel's run-time size prints as `?`, as in MLIR shapes.
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + (shape[i] == std::numeric_limits<int64_t>::min()
                                ? std::string("?")
                                : std::to_string(shape[i]));
  return s + "]";
}

BufferRef BufferRef::contiguous(void *data, DType dtype,
                                llvm::ArrayRef<int64_t> shape) {
  BufferRef b;
  b.data = data;
  b.dtype = dtype;
  b.shape.assign(shape.begin(), shape.end());
  return b;
}

BufferRef BufferRef::device(uint64_t devicePtr, DType dtype,
                            llvm::ArrayRef<int64_t> shape) {
  BufferRef b =
      contiguous(reinterpret_cast<void *>(uintptr_t(devicePtr)), dtype, shape);
  b.space = MemorySpace::Device;
  return b;
}

const char *mlir::attn::rt::stringifyMemorySpace(MemorySpace s) {
  return s == MemorySpace::Host ? "host" : "device";
}

bool BufferRef::isDense() const {
  if (strides.empty())
    return true;
  if (strides.size() != shape.size())
    return false;
  llvm::SmallVector<int64_t, 4> dense = rowMajorStrides(shape);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && strides[i] != dense[i])
      return false;
  return true;
}

llvm::SmallVector<int64_t, 4> BufferRef::effectiveStrides() const {
  return strides.empty() ? rowMajorStrides(shape) : strides;
}

int64_t BufferRef::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string BufferRef::shapeString() const {
  return mlir::attn::rt::shapeString(shape);
}
