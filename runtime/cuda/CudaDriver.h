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

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace mlir::attn::cuda {

using DevicePtr = uint64_t;

/// The 128 bytes of a CUtensorMap (TMA descriptor), as the driver encodes
/// them; the kernel reads them from global (or constant/param) memory.
using TensorMap = std::array<uint64_t, 16>;

/// CUtensorMapDataType values used here.
constexpr int kTensorMapFloat16 = 6;  // CU_TENSOR_MAP_DATA_TYPE_FLOAT16
constexpr int kTensorMapBFloat16 = 9; // CU_TENSOR_MAP_DATA_TYPE_BFLOAT16

/// A tiled tensor map over `address`: `dims` innermost first (rank 1-5),
/// `strides` in bytes for dims 1..rank-1, `box` per dim; element strides
/// 1, no interleave, out-of-bounds elements read as zero. `swizzle` and
/// `l2Promotion` are CUtensorMapSwizzle / CUtensorMapL2promotion values.
struct TensorMapDesc {
  int dataType = kTensorMapBFloat16;
  DevicePtr address = 0;
  llvm::ArrayRef<uint64_t> dims;
  llvm::ArrayRef<uint64_t> strides;
  llvm::ArrayRef<uint32_t> box;
  int swizzle = 0;
  int l2Promotion = 3; // CU_TENSOR_MAP_L2_PROMOTION_L2_256B
};

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
  /// Stream-ordered copies and fills (`stream` null: the legacy default
  /// stream). Host memory of async copies must stay alive until the stream
  /// reaches them.
  llvm::Error copyToDeviceAsync(DevicePtr dst, const void *src, size_t bytes,
                                void *stream);
  llvm::Error copyToHostAsync(void *dst, DevicePtr src, size_t bytes,
                              void *stream);
  llvm::Error copyDeviceToDevice(DevicePtr dst, DevicePtr src, size_t bytes,
                                 void *stream);
  llvm::Error memsetD8(DevicePtr dst, uint8_t value, size_t bytes,
                       void *stream);
  llvm::Error memsetD16(DevicePtr dst, uint16_t value, size_t count,
                        void *stream);

  /// True when `ptr` is device (or managed) memory of this context: the
  /// driver knows the address. Host pointers and garbage give false.
  bool isDevicePointer(DevicePtr ptr) const;
  /// The allocation holding `ptr`: its base and size in bytes.
  llvm::Expected<std::pair<DevicePtr, size_t>> allocationOf(DevicePtr ptr);
  /// Free and total device memory in bytes.
  llvm::Expected<std::pair<size_t, size_t>> memoryInfo();

  /// Loads a cubin or PTX image (PTX is JIT-compiled by the driver).
  llvm::Expected<void *> loadModule(llvm::StringRef image);
  llvm::Error unloadModule(void *module);
  llvm::Expected<void *> function(void *module, llvm::StringRef name);
  /// Launches on `stream` (null: the legacy default stream); `params` as
  /// for cuLaunchKernel.
  llvm::Error launch(void *function, std::array<unsigned, 3> grid,
                     std::array<unsigned, 3> block, unsigned sharedBytes,
                     void **params, void *stream = nullptr);
  /// Dynamic shared memory above 48 KiB must be allowed per function
  /// (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
  llvm::Error setMaxDynamicSharedBytes(void *function, unsigned bytes);
  /// Per-block shared memory a kernel may opt into
  /// (CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN).
  int maxSharedBytesOptin() const { return sharedOptin; }
  int multiprocessorCount() const { return numSms; }
  llvm::Error synchronize();

  /// cuTensorMapEncodeTiled (CUDA 12+; bound optionally: an older driver
  /// loads, and this returns an error saying so).
  llvm::Expected<TensorMap> encodeTensorMap(const TensorMapDesc &desc);
  bool hasTensorMaps() const;

  // Streams and events: opaque CUstream / CUevent handles.
  /// A non-blocking stream (no implicit sync with the legacy stream).
  llvm::Expected<void *> createStream();
  llvm::Error destroyStream(void *stream);
  llvm::Error synchronizeStream(void *stream);
  llvm::Expected<void *> createEvent(bool timing = true);
  llvm::Error destroyEvent(void *event);
  llvm::Error recordEvent(void *event, void *stream);
  llvm::Error synchronizeEvent(void *event);
  /// Makes later work on `stream` wait for `event`.
  llvm::Error streamWaitEvent(void *stream, void *event);
  /// Milliseconds between two recorded (and completed) events.
  llvm::Expected<float> elapsedMs(void *start, void *end);

  struct Api; // the resolved driver entry points

private:
  Driver() = default;
  llvm::Error check(int result, const char *what) const;

  const Api *api = nullptr;
  void *context = nullptr;
  std::string name;
  int capability = 0;
  int sharedOptin = 48 * 1024;
  int numSms = 0;
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

/// A stream destroyed on destruction.
class Stream {
public:
  static llvm::Expected<Stream> create(Driver &driver);
  Stream(Stream &&other) noexcept;
  Stream &operator=(Stream &&) = delete;
  ~Stream();
  void *get() const { return handle; }
  llvm::Error synchronize() { return driver->synchronizeStream(handle); }

private:
  Stream(Driver &driver, void *handle) : driver(&driver), handle(handle) {}
  Driver *driver;
  void *handle;
};

/// A timing event destroyed on destruction.
class Event {
public:
  static llvm::Expected<Event> create(Driver &driver);
  Event(Event &&other) noexcept;
  Event &operator=(Event &&) = delete;
  ~Event();
  void *get() const { return handle; }
  llvm::Error record(void *stream) {
    return driver->recordEvent(handle, stream);
  }
  /// Milliseconds from `start` to this event (both recorded); waits for
  /// this one.
  llvm::Expected<float> msSince(const Event &start);

private:
  Event(Driver &driver, void *handle) : driver(&driver), handle(handle) {}
  Driver *driver;
  void *handle;
};

} // namespace mlir::attn::cuda

#endif
