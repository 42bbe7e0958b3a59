//===- Buffer.h - caller-owned buffers -------------------------*- C++ -*-===//
//
// The runtime never allocates or copies the caller's tensors: a BufferRef
// describes one (pointer, dtype, shape, strides in elements, host or device
// memory) and the kernel reads or writes it in place. (One exception: a CUDA
// kernel given host buffers stages them through device copies.)
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_BUFFER_H
#define ATTN_RUNTIME_BUFFER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::attn::rt {

/// Element types of host buffers. f16/bf16 are stored as raw 16-bit
/// patterns (uint16_t); I1 (boolean masks) as one byte holding 0 or 1.
/// I64 (dropout's [seed, offset] state) comes last so that the C API's
/// attn_dtype values stay stable.
enum class DType { F32, F16, BF16, I32, I1, I64 };

const char *stringifyDType(DType t);
std::optional<DType> parseDType(llvm::StringRef s);
int64_t dtypeBytes(DType t);

/// Where a buffer's memory lives. CPU kernels take host memory only; CUDA
/// kernels take device memory in place and stage host memory through
/// device copies (tests, tools).
enum class MemorySpace { Host, Device };

const char *stringifyMemorySpace(MemorySpace s);

struct BufferRef {
  void *data = nullptr;
  DType dtype = DType::F32;
  llvm::SmallVector<int64_t, 4> shape;
  /// In elements, one per dim. Empty means contiguous row-major.
  llvm::SmallVector<int64_t, 4> strides;
  /// Host memory, or a CUDA device address (CUdeviceptr) held in `data`.
  MemorySpace space = MemorySpace::Host;

  /// A contiguous row-major host buffer.
  static BufferRef contiguous(void *data, DType dtype,
                              llvm::ArrayRef<int64_t> shape);
  /// A contiguous row-major buffer in CUDA device memory.
  static BufferRef device(uint64_t devicePtr, DType dtype,
                          llvm::ArrayRef<int64_t> shape);
  uint64_t devicePtr() const { return reinterpret_cast<uintptr_t>(data); }
  /// True when the strides are the row-major ones (empty or equal).
  bool isDense() const;
  /// The strides, materialising the row-major default when empty.
  llvm::SmallVector<int64_t, 4> effectiveStrides() const;
  int64_t numElements() const;
  /// "[2, 8, 64, 128]".
  std::string shapeString() const;
};

/// Row-major strides of `shape`.
llvm::SmallVector<int64_t, 4> rowMajorStrides(llvm::ArrayRef<int64_t> shape);
std::string shapeString(llvm::ArrayRef<int64_t> shape);

} // namespace mlir::attn::rt

#endif
