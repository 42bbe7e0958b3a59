//===- KvStorage.cpp - host memory for KV caches --------------------------===//
#include "runtime/kvcache/KvStorage.h"
#include "runtime/Errors.h"
#include "runtime/cuda/CudaDriver.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/mman.h>

using namespace mlir::attn;
using namespace mlir::attn::kv;

KvMemory::~KvMemory() = default;
KvAllocator::~KvAllocator() = default;

namespace {

constexpr int64_t kAlignment = 64;
constexpr int64_t kHugePage = 2 << 20;

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
  // Pools of 2 MiB and more sit on 2 MiB boundaries and ask for
  // transparent huge pages: decode walks a head's small pieces of many
  // pages, and with 4 KiB pages every piece costs a TLB miss. (A hint:
  // where THP is off, madvise fails and the pool works as before.)
  const int64_t align = bytes >= kHugePage ? kHugePage : kAlignment;
  // aligned_alloc wants a multiple of the alignment, and at least one byte
  // keeps data() non-null for empty pools.
  int64_t rounded = (std::max<int64_t>(bytes, 1) + align - 1) / align * align;
  void *ptr = std::aligned_alloc(align, static_cast<size_t>(rounded));
  if (!ptr)
    return rt::makeError("out of host memory allocating " + llvm::Twine(bytes) +
                         " bytes for a KV cache");
  if (align == kHugePage)
    (void)madvise(ptr, static_cast<size_t>(rounded), MADV_HUGEPAGE);
  // Zeroed, so rows never written read as 0 rather than NaN garbage.
  std::memset(ptr, 0, static_cast<size_t>(rounded));
  return std::make_unique<HostMemory>(ptr, bytes);
}

HostAllocator &HostAllocator::get() {
  static HostAllocator allocator;
  return allocator;
}

namespace {

class CudaMemory final : public KvMemory {
public:
  CudaMemory(cuda::DeviceBuffer buffer, int64_t size)
      : buffer(std::move(buffer)), size(size) {}
  void *data() override {
    return reinterpret_cast<void *>(static_cast<uintptr_t>(buffer.get()));
  }
  int64_t bytes() const override { return size; }
  bool hostAccessible() const override { return false; }
  void read(int64_t offset, void *dst, int64_t n) const override {
    // The driver was loaded when the buffer was made; a failing copy is a
    // lost context, which no caller could recover from.
    cuda::Driver *driver = llvm::cantFail(cuda::Driver::get());
    if (llvm::Error e = driver->copyToHost(dst, buffer.get() + offset, n))
      llvm::report_fatal_error(std::move(e));
  }
  void write(int64_t offset, const void *src, int64_t n) override {
    cuda::Driver *driver = llvm::cantFail(cuda::Driver::get());
    if (llvm::Error e = driver->copyToDevice(buffer.get() + offset, src, n))
      llvm::report_fatal_error(std::move(e));
  }

private:
  cuda::DeviceBuffer buffer;
  int64_t size;
};

} // namespace

llvm::Expected<std::unique_ptr<KvMemory>>
CudaAllocator::allocate(int64_t bytes) {
  if (bytes < 0)
    return rt::makeError("cannot allocate " + llvm::Twine(bytes) + " bytes");
  auto driver = cuda::Driver::get();
  if (!driver)
    return driver.takeError();
  // 256-byte multiples keep every pool 16-byte aligned for vector loads.
  size_t rounded =
      static_cast<size_t>((std::max<int64_t>(bytes, 1) + 255) / 256 * 256);
  auto buffer = cuda::DeviceBuffer::create(**driver, rounded);
  if (!buffer)
    return rt::makeError("allocating " + llvm::Twine(bytes) +
                         " bytes of device memory for a KV cache: " +
                         llvm::toString(buffer.takeError()));
  if (llvm::Error e = (*driver)->memsetD8(buffer->get(), 0, rounded, nullptr))
    return std::move(e);
  if (llvm::Error e = (*driver)->synchronize())
    return std::move(e);
  return std::make_unique<CudaMemory>(std::move(*buffer), bytes);
}

CudaAllocator &CudaAllocator::get() {
  static CudaAllocator allocator;
  return allocator;
}
