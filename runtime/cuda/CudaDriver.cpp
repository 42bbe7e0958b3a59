//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//
#include "runtime/cuda/CudaDriver.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>
#include <vector>

using namespace mlir::attn::cuda;

// The few driver types this layer needs, as the driver ABI defines them.
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;
constexpr int kAttrCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_..._MAJOR
constexpr int kAttrCapabilityMinor = 76;
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrMaxSharedOptin = 97; // ..._MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
constexpr int kFuncAttrMaxDynamicShared = 8;
constexpr int kPointerAttrMemoryType = 2;   // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr int kPointerAttrIsManaged = 8;    // CU_POINTER_ATTRIBUTE_IS_MANAGED
constexpr unsigned kMemoryTypeDevice = 2;   // CU_MEMORYTYPE_DEVICE
constexpr unsigned kStreamNonBlocking = 1;  // CU_STREAM_NON_BLOCKING
constexpr unsigned kEventDisableTiming = 2; // CU_EVENT_DISABLE_TIMING

struct Driver::Api {
  CUresult (*init)(unsigned);
  CUresult (*deviceGetCount)(int *);
  CUresult (*deviceGet)(CUdevice *, int);
  CUresult (*deviceGetName)(char *, int, CUdevice);
  CUresult (*deviceGetAttribute)(int *, int, CUdevice);
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*ctxSetCurrent)(CUcontext);
  CUresult (*ctxSynchronize)();
  CUresult (*memAlloc)(DevicePtr *, size_t);
  CUresult (*memFree)(DevicePtr);
  CUresult (*memcpyHtoD)(DevicePtr, const void *, size_t);
  CUresult (*memcpyDtoH)(void *, DevicePtr, size_t);
  CUresult (*moduleLoadData)(CUmodule *, const void *);
  CUresult (*moduleUnload)(CUmodule);
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*getErrorName)(CUresult, const char **);
  CUresult (*memcpyHtoDAsync)(DevicePtr, const void *, size_t, CUstream);
  CUresult (*memcpyDtoHAsync)(void *, DevicePtr, size_t, CUstream);
  CUresult (*memcpyDtoDAsync)(DevicePtr, DevicePtr, size_t, CUstream);
  CUresult (*memsetD8Async)(DevicePtr, unsigned char, size_t, CUstream);
  CUresult (*memsetD16Async)(DevicePtr, unsigned short, size_t, CUstream);
  CUresult (*pointerGetAttribute)(void *, int, DevicePtr);
  CUresult (*memGetAddressRange)(DevicePtr *, size_t *, DevicePtr);
  CUresult (*memGetInfo)(size_t *, size_t *);
  CUresult (*funcSetAttribute)(CUfunction, int, int);
  CUresult (*streamCreate)(CUstream *, unsigned);
  CUresult (*streamDestroy)(CUstream);
  CUresult (*streamSynchronize)(CUstream);
  CUresult (*streamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*eventCreate)(CUevent *, unsigned);
  CUresult (*eventDestroy)(CUevent);
  CUresult (*eventRecord)(CUevent, CUstream);
  CUresult (*eventSynchronize)(CUevent);
  CUresult (*eventElapsedTime)(float *, CUevent, CUevent);
  // Optional (null when the driver lacks it).
  CUresult (*tensorMapEncodeTiled)(void *, int, unsigned, void *,
                                   const uint64_t *, const uint64_t *,
                                   const uint32_t *, const uint32_t *, int, int,
                                   int, int);
};

namespace {

llvm::Error noDevice(const llvm::Twine &why) {
  return llvm::createStringError("no CUDA device: " + why);
}

/// Resolves every entry point, or says which one is missing.
llvm::Expected<Driver::Api> loadApi() {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    return noDevice(llvm::Twine("libcuda.so.1 not found (") + dlerror() + ")");
  Driver::Api api{};
  std::string missing;
  // `fallback`: an older name of the same entry point.
  auto bind = [&](auto &slot, const char *symbol,
                  const char *fallback = nullptr) {
    void *fn = dlsym(lib, symbol);
    if (!fn && fallback)
      fn = dlsym(lib, fallback);
    if (!fn && missing.empty())
      missing = symbol;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(fn);
  };
  bind(api.init, "cuInit");
  bind(api.deviceGetCount, "cuDeviceGetCount");
  bind(api.deviceGet, "cuDeviceGet");
  bind(api.deviceGetName, "cuDeviceGetName");
  bind(api.deviceGetAttribute, "cuDeviceGetAttribute");
  bind(api.primaryCtxRetain, "cuDevicePrimaryCtxRetain");
  bind(api.ctxSetCurrent, "cuCtxSetCurrent");
  bind(api.ctxSynchronize, "cuCtxSynchronize");
  bind(api.memAlloc, "cuMemAlloc_v2");
  bind(api.memFree, "cuMemFree_v2");
  bind(api.memcpyHtoD, "cuMemcpyHtoD_v2");
  bind(api.memcpyDtoH, "cuMemcpyDtoH_v2");
  bind(api.moduleLoadData, "cuModuleLoadData");
  bind(api.moduleUnload, "cuModuleUnload");
  bind(api.moduleGetFunction, "cuModuleGetFunction");
  bind(api.launchKernel, "cuLaunchKernel");
  bind(api.getErrorName, "cuGetErrorName");
  bind(api.memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  bind(api.memcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  bind(api.memcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
  bind(api.memsetD8Async, "cuMemsetD8Async");
  bind(api.memsetD16Async, "cuMemsetD16Async");
  bind(api.pointerGetAttribute, "cuPointerGetAttribute");
  bind(api.memGetAddressRange, "cuMemGetAddressRange_v2");
  bind(api.memGetInfo, "cuMemGetInfo_v2");
  bind(api.funcSetAttribute, "cuFuncSetAttribute");
  bind(api.streamCreate, "cuStreamCreate");
  bind(api.streamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy");
  bind(api.streamSynchronize, "cuStreamSynchronize");
  bind(api.streamWaitEvent, "cuStreamWaitEvent");
  bind(api.eventCreate, "cuEventCreate");
  bind(api.eventDestroy, "cuEventDestroy_v2", "cuEventDestroy");
  bind(api.eventRecord, "cuEventRecord");
  bind(api.eventSynchronize, "cuEventSynchronize");
  bind(api.eventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime");
  if (!missing.empty())
    return noDevice("libcuda.so.1 lacks " + missing);
  // Optional entry points: their users report their absence.
  api.tensorMapEncodeTiled =
      reinterpret_cast<decltype(api.tensorMapEncodeTiled)>(
          dlsym(lib, "cuTensorMapEncodeTiled"));
  return api;
}

} // namespace

llvm::Error Driver::check(int result, const char *what) const {
  if (result == 0)
    return llvm::Error::success();
  const char *errorName = nullptr;
  if (api->getErrorName(result, &errorName) != 0 || !errorName)
    errorName = "unknown error";
  return llvm::createStringError(llvm::Twine(what) + " failed: " + errorName +
                                 " (" + llvm::Twine(result) + ")");
}

llvm::Expected<Driver *> Driver::get() {
  static std::once_flag once;
  static Driver *driver = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    static Api api;
    auto loaded = loadApi();
    if (!loaded) {
      failure = llvm::toString(loaded.takeError());
      return;
    }
    api = *loaded;
    auto d = std::unique_ptr<Driver>(new Driver());
    d->api = &api;
    int count = 0;
    if (int r = api.init(0)) {
      failure = "no CUDA device: " + llvm::toString(d->check(r, "cuInit"));
      return;
    }
    if (api.deviceGetCount(&count) != 0 || count == 0) {
      failure = "no CUDA device: the driver reports none";
      return;
    }
    CUdevice dev = 0;
    int major = 0, minor = 0;
    char buf[256] = {0};
    llvm::Error e = d->check(api.deviceGet(&dev, 0), "cuDeviceGet");
    if (!e)
      e = d->check(api.deviceGetName(buf, sizeof(buf) - 1, dev),
                   "cuDeviceGetName");
    if (!e)
      e = d->check(api.deviceGetAttribute(&major, kAttrCapabilityMajor, dev),
                   "cuDeviceGetAttribute");
    if (!e)
      e = d->check(api.deviceGetAttribute(&minor, kAttrCapabilityMinor, dev),
                   "cuDeviceGetAttribute");
    if (!e)
      e = d->check(
          api.deviceGetAttribute(&d->numSms, kAttrMultiprocessorCount, dev),
          "cuDeviceGetAttribute");
    if (!e)
      e = d->check(
          api.deviceGetAttribute(&d->sharedOptin, kAttrMaxSharedOptin, dev),
          "cuDeviceGetAttribute");
    if (!e)
      e = d->check(api.primaryCtxRetain(&d->context, dev),
                   "cuDevicePrimaryCtxRetain");
    if (e) {
      failure = "no CUDA device: " + llvm::toString(std::move(e));
      return;
    }
    d->name = buf;
    d->capability = major * 10 + minor;
    driver = d.release(); // lives for the process, like the primary context
  });
  if (!driver)
    return llvm::createStringError(failure);
  // Every calling thread needs the context current.
  if (llvm::Error e = driver->check(driver->api->ctxSetCurrent(driver->context),
                                    "cuCtxSetCurrent"))
    return std::move(e);
  return driver;
}

llvm::Expected<DevicePtr> Driver::allocate(size_t bytes) {
  DevicePtr ptr = 0;
  if (llvm::Error e = check(api->memAlloc(&ptr, bytes), "cuMemAlloc"))
    return std::move(e);
  return ptr;
}

llvm::Error Driver::release(DevicePtr ptr) {
  return check(api->memFree(ptr), "cuMemFree");
}

llvm::Error Driver::copyToDevice(DevicePtr dst, const void *src, size_t bytes) {
  return check(api->memcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
}

llvm::Error Driver::copyToHost(void *dst, DevicePtr src, size_t bytes) {
  return check(api->memcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}

llvm::Error Driver::copyToDeviceAsync(DevicePtr dst, const void *src,
                                      size_t bytes, void *stream) {
  return check(api->memcpyHtoDAsync(dst, src, bytes, stream),
               "cuMemcpyHtoDAsync");
}

llvm::Error Driver::copyToHostAsync(void *dst, DevicePtr src, size_t bytes,
                                    void *stream) {
  return check(api->memcpyDtoHAsync(dst, src, bytes, stream),
               "cuMemcpyDtoHAsync");
}

llvm::Error Driver::copyDeviceToDevice(DevicePtr dst, DevicePtr src,
                                       size_t bytes, void *stream) {
  return check(api->memcpyDtoDAsync(dst, src, bytes, stream),
               "cuMemcpyDtoDAsync");
}

llvm::Error Driver::memsetD8(DevicePtr dst, uint8_t value, size_t bytes,
                             void *stream) {
  return check(api->memsetD8Async(dst, value, bytes, stream),
               "cuMemsetD8Async");
}

llvm::Error Driver::memsetD16(DevicePtr dst, uint16_t value, size_t count,
                              void *stream) {
  return check(api->memsetD16Async(dst, value, count, stream),
               "cuMemsetD16Async");
}

bool Driver::isDevicePointer(DevicePtr ptr) const {
  unsigned type = 0;
  if (api->pointerGetAttribute(&type, kPointerAttrMemoryType, ptr) != 0)
    return false; // unknown to the driver: plain host memory or garbage
  // Device allocations report DEVICE; managed ones are accepted through
  // IS_MANAGED. Anything else (host, or system memory the driver merely
  // knows about) is not a kernel buffer.
  if (type == kMemoryTypeDevice)
    return true;
  int managed = 0;
  return api->pointerGetAttribute(&managed, kPointerAttrIsManaged, ptr) == 0 &&
         managed;
}

llvm::Expected<std::pair<DevicePtr, size_t>>
Driver::allocationOf(DevicePtr ptr) {
  DevicePtr base = 0;
  size_t size = 0;
  if (llvm::Error e = check(api->memGetAddressRange(&base, &size, ptr),
                            "cuMemGetAddressRange"))
    return std::move(e);
  return std::make_pair(base, size);
}

llvm::Expected<std::pair<size_t, size_t>> Driver::memoryInfo() {
  size_t free = 0, total = 0;
  if (llvm::Error e = check(api->memGetInfo(&free, &total), "cuMemGetInfo"))
    return std::move(e);
  return std::make_pair(free, total);
}

llvm::Expected<void *> Driver::loadModule(llvm::StringRef image) {
  // PTX must be NUL-terminated; a cubin is read by its own header.
  std::vector<char> data(image.begin(), image.end());
  data.push_back('\0');
  CUmodule module = nullptr;
  if (llvm::Error e =
          check(api->moduleLoadData(&module, data.data()), "cuModuleLoadData"))
    return std::move(e);
  return module;
}

llvm::Error Driver::unloadModule(void *module) {
  return check(api->moduleUnload(module), "cuModuleUnload");
}

llvm::Expected<void *> Driver::function(void *module, llvm::StringRef name) {
  CUfunction fn = nullptr;
  std::string symbol = name.str();
  if (llvm::Error e = check(api->moduleGetFunction(&fn, module, symbol.c_str()),
                            "cuModuleGetFunction"))
    return std::move(e);
  return fn;
}

llvm::Error Driver::launch(void *function, std::array<unsigned, 3> grid,
                           std::array<unsigned, 3> block, unsigned sharedBytes,
                           void **params, void *stream) {
  return check(api->launchKernel(function, grid[0], grid[1], grid[2], block[0],
                                 block[1], block[2], sharedBytes, stream,
                                 params, nullptr),
               "cuLaunchKernel");
}

llvm::Error Driver::setMaxDynamicSharedBytes(void *function, unsigned bytes) {
  return check(api->funcSetAttribute(function, kFuncAttrMaxDynamicShared,
                                     static_cast<int>(bytes)),
               "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
}

llvm::Error Driver::synchronize() {
  return check(api->ctxSynchronize(), "cuCtxSynchronize");
}

bool Driver::hasTensorMaps() const {
  return api->tensorMapEncodeTiled != nullptr;
}

llvm::Expected<TensorMap> Driver::encodeTensorMap(const TensorMapDesc &desc) {
  if (!api->tensorMapEncodeTiled)
    return llvm::createStringError(
        "the CUDA driver has no cuTensorMapEncodeTiled (TMA needs CUDA 12+)");
  size_t rank = desc.dims.size();
  if (rank < 1 || rank > 5 || desc.box.size() != rank ||
      desc.strides.size() != rank - 1)
    return llvm::createStringError("tensor map: rank " + llvm::Twine(rank) +
                                   " with " + llvm::Twine(desc.strides.size()) +
                                   " strides and " +
                                   llvm::Twine(desc.box.size()) + " box sizes");
  // CUtensorMap is a 64-byte aligned 128-byte struct.
  alignas(64) TensorMap map{};
  const uint32_t elementStrides[5] = {1, 1, 1, 1, 1};
  uint64_t strides[5] = {0, 0, 0, 0, 0}; // never a null pointer at rank 1
  std::copy(desc.strides.begin(), desc.strides.end(), strides);
  if (llvm::Error e =
          check(api->tensorMapEncodeTiled(
                    map.data(), desc.dataType, unsigned(rank),
                    reinterpret_cast<void *>(desc.address), desc.dims.data(),
                    strides, desc.box.data(), elementStrides,
                    /*interleave NONE*/ 0, desc.swizzle, desc.l2Promotion,
                    /*oobFill NONE*/ 0),
                "cuTensorMapEncodeTiled"))
    return std::move(e);
  return map;
}

llvm::Expected<void *> Driver::createStream() {
  CUstream stream = nullptr;
  if (llvm::Error e = check(api->streamCreate(&stream, kStreamNonBlocking),
                            "cuStreamCreate"))
    return std::move(e);
  return stream;
}

llvm::Error Driver::destroyStream(void *stream) {
  return check(api->streamDestroy(stream), "cuStreamDestroy");
}

llvm::Error Driver::synchronizeStream(void *stream) {
  return check(api->streamSynchronize(stream), "cuStreamSynchronize");
}

llvm::Expected<void *> Driver::createEvent(bool timing) {
  CUevent event = nullptr;
  if (llvm::Error e =
          check(api->eventCreate(&event, timing ? 0 : kEventDisableTiming),
                "cuEventCreate"))
    return std::move(e);
  return event;
}

llvm::Error Driver::destroyEvent(void *event) {
  return check(api->eventDestroy(event), "cuEventDestroy");
}

llvm::Error Driver::recordEvent(void *event, void *stream) {
  return check(api->eventRecord(event, stream), "cuEventRecord");
}

llvm::Error Driver::synchronizeEvent(void *event) {
  return check(api->eventSynchronize(event), "cuEventSynchronize");
}

llvm::Error Driver::streamWaitEvent(void *stream, void *event) {
  return check(api->streamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

llvm::Expected<float> Driver::elapsedMs(void *start, void *end) {
  float ms = 0;
  if (llvm::Error e = check(api->eventSynchronize(end), "cuEventSynchronize"))
    return std::move(e);
  if (llvm::Error e =
          check(api->eventElapsedTime(&ms, start, end), "cuEventElapsedTime"))
    return std::move(e);
  return ms;
}

llvm::Expected<DeviceBuffer> DeviceBuffer::create(Driver &driver,
                                                  size_t bytes) {
  auto ptr = driver.allocate(bytes);
  if (!ptr)
    return ptr.takeError();
  return DeviceBuffer(driver, *ptr, bytes);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : driver(other.driver), ptr(other.ptr), bytes(other.bytes) {
  other.ptr = 0;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr)
    llvm::consumeError(driver->release(ptr));
}

llvm::Expected<Stream> Stream::create(Driver &driver) {
  auto handle = driver.createStream();
  if (!handle)
    return handle.takeError();
  return Stream(driver, *handle);
}

Stream::Stream(Stream &&other) noexcept
    : driver(other.driver), handle(other.handle) {
  other.handle = nullptr;
}

Stream::~Stream() {
  if (handle)
    llvm::consumeError(driver->destroyStream(handle));
}

llvm::Expected<Event> Event::create(Driver &driver) {
  auto handle = driver.createEvent(/*timing=*/true);
  if (!handle)
    return handle.takeError();
  return Event(driver, *handle);
}

Event::Event(Event &&other) noexcept
    : driver(other.driver), handle(other.handle) {
  other.handle = nullptr;
}

Event::~Event() {
  if (handle)
    llvm::consumeError(driver->destroyEvent(handle));
}

llvm::Expected<float> Event::msSince(const Event &start) {
  return driver->elapsedMs(start.handle, handle);
}
