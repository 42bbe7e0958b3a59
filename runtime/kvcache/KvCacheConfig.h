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

/// Allocates one zeroed pool of `shape` elements of `dtype` (host memory
/// when `allocator` is null).
llvm::Expected<std::unique_ptr<KvMemory>>
allocatePool(KvAllocator *allocator, llvm::ArrayRef<int64_t> shape,
             rt::DType dtype, llvm::StringRef what);

} // namespace mlir::attn::kv

#endif
