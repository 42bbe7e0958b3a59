//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//
#include "runtime/cuda/CudaDriver.h"

#include <dlfcn.h>

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
constexpr int kAttrCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_..._MAJOR
constexpr int kAttrCapabilityMinor = 76;

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
  auto bind = [&](auto &slot, const char *symbol) {
    void *fn = dlsym(lib, symbol);
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
  if (!missing.empty())
    return noDevice("libcuda.so.1 lacks " + missing);
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
                           void **params) {
  return check(api->launchKernel(function, grid[0], grid[1], grid[2], block[0],
                                 block[1], block[2], sharedBytes, nullptr,
                                 params, nullptr),
               "cuLaunchKernel");
}

llvm::Error Driver::synchronize() {
  return check(api->ctxSynchronize(), "cuCtxSynchronize");
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
