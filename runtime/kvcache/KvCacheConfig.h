//===- KvCacheConfig.h - shared checks of cache configs --------*- C++ -*-===//
#ifndef ATTN_RUNTIME_KVCACHE_KVCACHECONFIG_H
#define ATTN_RUNTIME_KVCACHE_KVCACHECONFIG_H

#include "runtime/kvcache/KvCache.h"

namespace mlir::attn::kv {

/// Checks that each (name, value) is positive and fits in int32 (lengths
/// and page ids are i32 in the kernels); `what` prefixes the error.
llvm::Error
checkSizes(llvm::StringRef what,
           llvm::ArrayRef<std::pair<llvm::StringRef, int64_t>> sizes);

/// Checks that a cache of `dtype` may live in `memory`: device caches need
/// f16 or bf16 (the GPU cache kernels' types).
llvm::Error checkMemorySpace(llvm::StringRef what, rt::MemorySpace memory,
                             rt::DType dtype);

/// Allocates one zeroed pool of `shape` elements of `dtype` (when
/// `allocator` is null: host memory, or CUDA device memory for
/// MemorySpace::Device).
llvm::Expected<std::unique_ptr<KvMemory>>
allocatePool(KvAllocator *allocator, rt::MemorySpace memory,
             llvm::ArrayRef<int64_t> shape, rt::DType dtype,
             llvm::StringRef what);

/// The row-major BufferRef of a pool, in the memory space it lives in.
rt::BufferRef poolRef(KvMemory &memory, rt::DType dtype,
                      llvm::ArrayRef<int64_t> shape);

} // namespace mlir::attn::kv

#endif
