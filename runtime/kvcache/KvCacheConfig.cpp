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
mlir::attn::kv::allocatePool(KvAllocator *allocator, rt::MemorySpace memory,
                             llvm::ArrayRef<int64_t> shape, rt::DType dtype,
                             llvm::StringRef what) {
  auto bytes = checkedBytes(shape, dtype, what);
  if (!bytes)
    return bytes.takeError();
  KvAllocator *a = allocator;
  if (!a && memory == rt::MemorySpace::Device)
    a = &CudaAllocator::get();
  if (!a)
    a = &HostAllocator::get();
  return a->allocate(*bytes);
}

llvm::Error mlir::attn::kv::checkMemorySpace(llvm::StringRef what,
                                             rt::MemorySpace memory,
                                             rt::DType dtype) {
  if (memory == rt::MemorySpace::Device && dtype != rt::DType::F16 &&
      dtype != rt::DType::BF16)
    return rt::makeError(what + ": a device-memory cache must be f16 or bf16 " +
                         "(the GPU cache kernels' types), got " +
                         rt::stringifyDType(dtype));
  return llvm::Error::success();
}

rt::BufferRef mlir::attn::kv::poolRef(KvMemory &memory, rt::DType dtype,
                                      llvm::ArrayRef<int64_t> shape) {
  rt::BufferRef ref = rt::BufferRef::contiguous(memory.data(), dtype, shape);
  if (!memory.hostAccessible())
    ref.space = rt::MemorySpace::Device;
  return ref;
}
