//===- KvStorage.cpp - host memory for KV caches --------------------------===//
#include "runtime/kvcache/KvStorage.h"
#include "runtime/Errors.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

using namespace mlir::attn;
using namespace mlir::attn::kv;

KvMemory::~KvMemory() = default;
KvAllocator::~KvAllocator() = default;

namespace {

constexpr int64_t kAlignment = 64;

class HostMemory final : public KvMemory {
public:
  HostMemory(void *ptr, int64_t size) : ptr(ptr), size(size) {}
  ~HostMemory() override { std::free(ptr); }
  void *data() override { return ptr; }
  int64_t bytes() const override { return size; }
  bool hostAccessible() const override { return true; }
  void read(int64_t offset, void *dst, int64_t n) const override {
    std::memcpy(dst, static_cast<const char *>(ptr) + offset, n);
  }
  void write(int64_t offset, const void *src, int64_t n) override {
    std::memcpy(static_cast<char *>(ptr) + offset, src, n);
  }

private:
  void *ptr;
  int64_t size;
};

} // namespace

llvm::Expected<std::unique_ptr<KvMemory>>
HostAllocator::allocate(int64_t bytes) {
  if (bytes < 0)
    return rt::makeError("cannot allocate " + llvm::Twine(bytes) + " bytes");
  // aligned_alloc wants a multiple of the alignment, and at least one byte
  // keeps data() non-null for empty pools.
  int64_t rounded =
      (std::max<int64_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  void *ptr = std::aligned_alloc(kAlignment, static_cast<size_t>(rounded));
  if (!ptr)
    return rt::makeError("out of host memory allocating " + llvm::Twine(bytes) +
                         " bytes for a KV cache");
  // Zeroed, so rows never written read as 0 rather than NaN garbage.
  std::memset(ptr, 0, static_cast<size_t>(rounded));
  return std::make_unique<HostMemory>(ptr, bytes);
}

HostAllocator &HostAllocator::get() {
  static HostAllocator allocator;
  return allocator;
}
