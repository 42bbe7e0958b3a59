//===- CudaDriver.h - the CUDA driver API, loaded at run time --*- C++ -*-===//
//
// The GPU backend's lowest layer: libcuda.so.1 is dlopen'ed on first use, so
// every attn binary runs on machines without a GPU (or without a driver) and
// reports "no CUDA device: ..." as an llvm::Error instead of failing to load
// or crashing. No CUDA headers are needed to build it.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CUDA_CUDADRIVER_H
#define ATTN_RUNTIME_CUDA_CUDADRIVER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mlir::attn::cuda {

using DevicePtr = uint64_t;

/// One process-wide driver bound to device 0's primary context.
class Driver {
public:
  /// Loads and initializes the driver once; later calls return the same
  /// driver or the same error.
  static llvm::Expected<Driver *> get();

  const std::string &deviceName() const { return name; }
  /// e.g. 90 for sm_90.
  int computeCapability() const { return capability; }

  llvm::Expected<DevicePtr> allocate(size_t bytes);
  llvm::Error release(DevicePtr ptr);
  llvm::Error copyToDevice(DevicePtr dst, const void *src, size_t bytes);
  llvm::Error copyToHost(void *dst, DevicePtr src, size_t bytes);

  /// Loads a cubin or PTX image (PTX is JIT-compiled by the driver).
  llvm::Expected<void *> loadModule(llvm::StringRef image);
  llvm::Error unloadModule(void *module);
  llvm::Expected<void *> function(void *module, llvm::StringRef name);
  /// Launches on the default stream; `params` as for cuLaunchKernel.
  llvm::Error launch(void *function, std::array<unsigned, 3> grid,
                     std::array<unsigned, 3> block, unsigned sharedBytes,
                     void **params);
  llvm::Error synchronize();

  struct Api; // the resolved driver entry points

private:
  Driver() = default;
  llvm::Error check(int result, const char *what) const;

  const Api *api = nullptr;
  void *context = nullptr;
  std::string name;
  int capability = 0;
};

/// Device memory freed on destruction.
class DeviceBuffer {
public:
  static llvm::Expected<DeviceBuffer> create(Driver &driver, size_t bytes);
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&) = delete;
  ~DeviceBuffer();
  DevicePtr get() const { return ptr; }
  size_t size() const { return bytes; }

private:
  DeviceBuffer(Driver &driver, DevicePtr ptr, size_t bytes)
      : driver(&driver), ptr(ptr), bytes(bytes) {}
  Driver *driver;
  DevicePtr ptr;
  size_t bytes;
};

} // namespace mlir::attn::cuda

#endif
