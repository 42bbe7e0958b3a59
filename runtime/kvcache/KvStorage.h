//===- KvStorage.h - where a KV cache's pools live -------------*- C++ -*-===//
//
// A cache's K/V pools are the only large allocations it makes, and the only
// ones a device backend must place elsewhere. They sit behind KvMemory so
// that a CUDA allocator can slot in later: the bookkeeping (lengths, block
// tables, free lists) stays in host memory, and kernels only ever receive
// `data()` wrapped in a BufferRef.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_KVSTORAGE_H
#define ATTN_RUNTIME_KVCACHE_KVSTORAGE_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>

namespace mlir::attn::kv {

/// One zero-initialised allocation.
class KvMemory {
public:
  virtual ~KvMemory();
  /// The address kernels receive (host or device).
  virtual void *data() = 0;
  virtual int64_t bytes() const = 0;
  /// True when the CPU may dereference `data()`: the float64 reference and
  /// host-side checks need it.
  virtual bool hostAccessible() const = 0;
  /// Byte copies between this memory and host memory; a device backend
  /// implements them with its copy engine.
  virtual void read(int64_t offset, void *dst, int64_t n) const = 0;
  virtual void write(int64_t offset, const void *src, int64_t n) = 0;
};

class KvAllocator {
public:
  virtual ~KvAllocator();
  /// Fails (never aborts) when `bytes` cannot be allocated.
  virtual llvm::Expected<std::unique_ptr<KvMemory>> allocate(int64_t bytes) = 0;
};

/// Host memory, 64-byte aligned (a cache line, and a full AVX-512 vector).
class HostAllocator final : public KvAllocator {
public:
  llvm::Expected<std::unique_ptr<KvMemory>> allocate(int64_t bytes) override;
  /// A process-wide instance: caches created without an allocator use it.
  static HostAllocator &get();
};

/// CUDA device memory (device 0's primary context, through the run-time
/// loaded driver), zeroed. Without a GPU or driver, allocate() returns the
/// driver's "no CUDA device: ..." error. `data()` is the CUdeviceptr;
/// read/write are synchronous copies.
class CudaAllocator final : public KvAllocator {
public:
  llvm::Expected<std::unique_ptr<KvMemory>> allocate(int64_t bytes) override;
  static CudaAllocator &get();
};

} // namespace mlir::attn::kv

#endif
