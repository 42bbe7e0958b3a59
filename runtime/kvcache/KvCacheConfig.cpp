//===- KvCacheConfig.cpp - shared checks of cache configs -----------------===//
#include "runtime/kvcache/KvCacheConfig.h"
#include "runtime/Errors.h"

#include <limits>

using namespace mlir::attn;
using namespace mlir::attn::kv;

llvm::Error mlir::attn::kv::checkSizes(
    llvm::StringRef what,
    llvm::ArrayRef<std::pair<llvm::StringRef, int64_t>> sizes) {
  for (auto [name, value] : sizes)
    if (value <= 0 || value > std::numeric_limits<int32_t>::max())
      return rt::makeError(what + ": " + name + " must be in [1, 2^31), got " +
                           llvm::Twine(value));
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<KvMemory>>
mlir::attn::kv::allocatePool(KvAllocator *allocator,
                             llvm::ArrayRef<int64_t> shape, rt::DType dtype,
                             llvm::StringRef what) {
  auto bytes = checkedBytes(shape, dtype, what);
  if (!bytes)
    return bytes.takeError();
  KvAllocator &a = allocator ? *allocator : HostAllocator::get();
  return a.allocate(*bytes);
}
