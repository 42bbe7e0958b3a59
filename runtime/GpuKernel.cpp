//===- GpuKernel.cpp - CUDA kernels: launch plan, load, run ---------------===//
#include "runtime/GpuKernel.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/Errors.h"
#include "runtime/GpuBlockMask.h"
#include "runtime/cuda/CudaDriver.h"

#include "llvm/Support/Format.h"

#include <chrono>
#include <optional>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

//===----------------------------------------------------------------------===//
// Kernel code (the launch plan is read in GpuLaunchPlan.cpp)
//===----------------------------------------------------------------------===//

struct GpuKernelCode::DeviceState {
  cuda::Driver *driver = nullptr;
  void *module = nullptr;
  std::vector<void *> functions; // one per launch
  /// Per scratch buffer; those of run-time size grow on demand (none
  /// until first needed).
  std::vector<std::optional<cuda::DeviceBuffer>> scratch;
  /// Per tensor map: the bytes last uploaded and the source address they
  /// encode (0: none yet).
  std::vector<cuda::TensorMap> tensorMapBytes;
  std::vector<uint64_t> tensorMapAddress;
  /// Per tensor map: the dims it was encoded for (run-time sizes).
  std::vector<std::vector<uint64_t>> tensorMapDims;
  std::optional<cuda::Stream> stream;
  std::optional<cuda::Event> lastUse; // after the last queued launches
  void *lastStream = nullptr;
  bool used = false;

  ~DeviceState() {
    // Calls queued with enqueue may still run: let them finish first.
    if (stream)
      llvm::consumeError(stream->synchronize());
    if (module)
      llvm::consumeError(driver->unloadModule(module));
  }
};

GpuKernelCode::GpuKernelCode() = default;
GpuKernelCode::GpuKernelCode(GpuKernelCode &&other)
    : binary(std::move(other.binary)), format(std::move(other.format)),
      chip(std::move(other.chip)), scratchBytes(std::move(other.scratchBytes)),
      scratchExprs(std::move(other.scratchExprs)),
      launches(std::move(other.launches)),
      tensorMaps(std::move(other.tensorMaps)), exprs(std::move(other.exprs)),
      checks(std::move(other.checks)),
      bufferNames(std::move(other.bufferNames)),
      device(std::move(other.device)) {}
GpuKernelCode::~GpuKernelCode() = default;

int64_t GpuKernelCode::totalBlocks() const {
  if (hasRunTimeSizes())
    return -1;
  int64_t total = 0;
  for (const GpuLaunch &l : launches)
    total += int64_t(l.grid[0]) * l.grid[1] * l.grid[2];
  return total;
}

std::string GpuKernelCode::planString(
    llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes) const {
  std::optional<std::vector<GpuLaunch>> resolved;
  if (hasRunTimeSizes() && !shapes.empty()) {
    auto r = resolveLaunches(shapes);
    if (r)
      resolved = std::move(*r);
    else
      llvm::consumeError(r.takeError());
  }
  std::string s;
  for (const GpuLaunch &l : resolved ? *resolved : launches) {
    if (!l.enabled)
      continue; // skipped for these sizes
    if (!s.empty())
      s += "; ";
    auto dim = [&](int d) {
      return l.gridExpr[d] >= 0 ? exprString(l.gridExpr[d])
                                : std::to_string(l.grid[d]);
    };
    s += l.kernel + " grid (" + dim(0) + ", " + dim(1) + ", " + dim(2) +
         ") block (" + std::to_string(l.block[0]) + ", " +
         std::to_string(l.block[1]) + ", " + std::to_string(l.block[2]) +
         ") smem " + std::to_string(l.sharedBytes);
    if (l.condExpr >= 0)
      s += " if " + exprString(l.condExpr);
  }
  return s;
}

llvm::Expected<GpuKernelCode> mlir::attn::rt::compileGpuKernel(
    ModuleOp module, llvm::StringRef funcName, const KernelSignature &sig,
    llvm::function_ref<void(OpPassManager &)> lower, double &lowerMs) {
  MLIRContext *ctx = module.getContext();
  DiagnosticCapture diags(ctx);
  auto start = std::chrono::steady_clock::now();
  PassManager pm(ctx);
  lower(pm);
  if (failed(pm.run(module)))
    return diags.takeError("lowering failed");
  lowerMs = std::chrono::duration<double, std::milli>(
                std::chrono::steady_clock::now() - start)
                .count();
  return extractGpuKernel(module, funcName, sig);
}

//===----------------------------------------------------------------------===//
// Device side
//===----------------------------------------------------------------------===//

namespace {

std::string hex(uint64_t v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format_hex(v, 2);
  return s;
}

int64_t byteSize(const BufferRef &b) {
  return b.numElements() * dtypeBytes(b.dtype);
}

/// Skv of a call: the spec's, or with run-time sizes the key buffer's.
int64_t callKvLen(const KernelSignature &sig, llvm::ArrayRef<BufferRef> bound) {
  if (sig.spec.kvLen != kDynamicSize)
    return sig.spec.kvLen;
  for (auto [info, buf] : llvm::zip(sig.args, bound))
    if (info.role == ArgRole::Key)
      return buf.shape[sig.spec.layout == Layout::BSHD ? 1 : 2];
  return 0;
}

llvm::SmallVector<llvm::ArrayRef<int64_t>, 6>
shapesOf(llvm::ArrayRef<BufferRef> buffers) {
  llvm::SmallVector<llvm::ArrayRef<int64_t>, 6> shapes;
  for (const BufferRef &b : buffers)
    shapes.push_back(b.shape);
  return shapes;
}

/// Checks the buffers for a CUDA kernel; fills `bound` (ABI order). With
/// run-time sizes, also that the plan evaluates for them (before the
/// device is touched, so a bad size is the same error without one).
llvm::Error bindForGpu(const GpuKernelCode &code, const KernelSignature &sig,
                       const AttentionArgs &args,
                       llvm::SmallVector<BufferRef, 6> &bound) {
  auto b = bindArguments(sig, args);
  if (!b)
    return b.takeError();
  bound = std::move(*b);
  if (code.hasRunTimeSizes()) {
    auto launches = code.resolveLaunches(shapesOf(bound));
    if (!launches)
      return launches.takeError();
  }
  for (auto [info, buf] : llvm::zip(sig.args, bound))
    if (!buf.isDense())
      return makeError(llvm::Twine(stringifyArgRole(info.role)) + ": strides " +
                       shapeString(buf.strides) + " are not dense row-major " +
                       shapeString(rowMajorStrides(buf.shape)) +
                       "; CUDA kernels need dense row-major buffers");
  return llvm::Error::success();
}

/// Device buffers must be device memory of this context, `align`-byte
/// aligned and inside their allocation.
llvm::Error checkDeviceBuffer(cuda::Driver &driver, llvm::StringRef name,
                              uint64_t align, const BufferRef &buf) {
  uint64_t ptr = buf.devicePtr();
  if (!driver.isDevicePointer(ptr))
    return makeError(llvm::Twine(name) + ": " + hex(ptr) +
                     " is not CUDA device memory (host buffers must be "
                     "marked MemorySpace::Host)");
  if (ptr % align)
    return makeError(llvm::Twine(name) + ": " + hex(ptr) + " is not " +
                     llvm::Twine(align) + "-byte aligned");
  auto range = driver.allocationOf(ptr);
  if (!range)
    return makeError(llvm::Twine(name) + ": " +
                     llvm::toString(range.takeError()));
  uint64_t end = range->first + range->second;
  if (ptr + uint64_t(byteSize(buf)) > end)
    return makeError(llvm::Twine(name) + ": needs " +
                     llvm::Twine(byteSize(buf)) + " bytes from " + hex(ptr) +
                     ", but its device allocation ends " +
                     llvm::Twine(end - ptr) + " bytes after it");
  return llvm::Error::success();
}

llvm::Error checkDeviceBuffer(cuda::Driver &driver, const ArgInfo &info,
                              const BufferRef &buf) {
  // Tiles move as 16-byte vectors (cp.async); a misaligned address would
  // be a sticky launch failure that ends the CUDA context. Lengths, lse and
  // sinks move element by element.
  uint64_t align = info.role == ArgRole::KvLengths ||
                           info.role == ArgRole::Lse ||
                           info.role == ArgRole::Sinks
                       ? uint64_t(dtypeBytes(buf.dtype))
                       : 16;
  return checkDeviceBuffer(driver, stringifyArgRole(info.role), align, buf);
}

llvm::Error checkDeviceKvLengths(cuda::Driver &driver, const BufferRef &buf,
                                 int64_t kvLen, void *stream) {
  std::vector<int32_t> lengths(buf.shape[0]);
  if (llvm::Error e =
          driver.copyToHostAsync(lengths.data(), buf.devicePtr(),
                                 lengths.size() * sizeof(int32_t), stream))
    return e;
  if (llvm::Error e = driver.synchronizeStream(stream))
    return e;
  for (size_t b = 0; b < lengths.size(); ++b)
    if (lengths[b] < 0 || lengths[b] > kvLen)
      return makeError("kv_lengths: value " + llvm::Twine(lengths[b]) +
                       " at batch " + llvm::Twine(b) +
                       " is outside [0, Skv = " + llvm::Twine(kvLen) + "]");
  return llvm::Error::success();
}

/// Scratch of run-time size (split partials): at least `bytes` each. A
/// buffer grows (never shrinks); the calls that may still read the old one
/// finish first.
llvm::Error growScratch(GpuKernelCode::DeviceState &st,
                        llvm::ArrayRef<int64_t> bytes) {
  for (auto [i, need] : llvm::enumerate(bytes)) {
    std::optional<cuda::DeviceBuffer> &buf = st.scratch[i];
    if (buf && buf->size() >= size_t(std::max<int64_t>(need, 1)))
      continue;
    if (buf && st.used)
      if (llvm::Error e = st.driver->synchronizeEvent(st.lastUse->get()))
        return e;
    buf.reset();
    // Headroom: a growing batch reallocates a few times, not every call.
    size_t size = std::max<size_t>(size_t(need) + size_t(need) / 4, 256);
    auto fresh = cuda::DeviceBuffer::create(*st.driver, size);
    if (!fresh)
      return makeError("scratch of " + llvm::Twine(size) +
                       " bytes: " + llvm::toString(fresh.takeError()));
    buf.emplace(std::move(*fresh));
  }
  return llvm::Error::success();
}

/// Queues the launches with the buffers' device addresses; `shapes` (ABI
/// order) give the run-time sizes.
llvm::Error launchAll(GpuKernelCode &code, llvm::ArrayRef<uint64_t> buffers,
                      llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes,
                      void *stream) {
  GpuKernelCode::DeviceState &st = *code.device;
  cuda::Driver &driver = *st.driver;
  // Grids and size parameters for these buffers (checked before anything
  // is queued, so a bad size changes nothing).
  std::optional<std::vector<GpuLaunch>> resolved;
  std::vector<int64_t> scratchBytes = code.scratchBytes;
  if (code.hasRunTimeSizes()) {
    // Split counts for this device's SMs.
    auto r = code.resolveLaunches(shapes, driver.multiprocessorCount(),
                                  &scratchBytes);
    if (!r)
      return r.takeError();
    resolved = std::move(*r);
  }
  llvm::ArrayRef<GpuLaunch> launches = resolved ? *resolved : code.launches;
  std::vector<std::vector<uint64_t>> mapDims(code.tensorMaps.size()),
      mapStrides(code.tensorMaps.size());
  for (auto [i, map] : llvm::enumerate(code.tensorMaps))
    if (llvm::Error e =
            map.resolve(shapes[map.source], mapDims[i], mapStrides[i]))
      return e;
  // Scratch is shared by all calls of this kernel: order this call after
  // the previous one when it went to another stream.
  if (st.used && st.lastStream != stream)
    if (llvm::Error e = driver.streamWaitEvent(stream, st.lastUse->get()))
      return e;
  if (llvm::Error e = growScratch(st, scratchBytes))
    return e;
  // Tensor maps over buffers whose address changed since the last upload:
  // encode, then upload in stream order (after the previous call, before
  // these launches). The host bytes stay in the device state; the driver
  // stages pageable host-to-device copies before returning anyway.
  for (auto [i, map] : llvm::enumerate(code.tensorMaps)) {
    uint64_t address = buffers[map.source];
    if (st.tensorMapAddress[i] == address && st.tensorMapDims[i] == mapDims[i])
      continue;
    auto bytes = driver.encodeTensorMap(
        map.describe(address, mapDims[i], mapStrides[i]));
    if (!bytes)
      return makeError("encoding the tensor map of " + map.role + ": " +
                       llvm::toString(bytes.takeError()));
    st.tensorMapBytes[i] = *bytes;
    if (llvm::Error e = driver.copyToDeviceAsync(
            st.scratch[map.scratch]->get(), st.tensorMapBytes[i].data(),
            sizeof(cuda::TensorMap), stream))
      return makeError("uploading the tensor map of " + map.role + ": " +
                       llvm::toString(std::move(e)));
    st.tensorMapAddress[i] = address;
    st.tensorMapDims[i] = mapDims[i];
  }
  for (auto [i, launch] : llvm::enumerate(launches)) {
    if (!launch.enabled)
      continue; // e.g. the combine kernel of an unsplit call
    std::vector<uint64_t> storage(launch.params.size());
    std::vector<void *> params(launch.params.size());
    for (auto [j, p] : llvm::enumerate(launch.params)) {
      switch (p.kind) {
      case GpuParam::Kind::Buffer:
        storage[j] = buffers[p.index];
        break;
      case GpuParam::Kind::Scratch:
        storage[j] = st.scratch[p.index]->get();
        break;
      case GpuParam::Kind::I32:
      case GpuParam::Kind::I64:
      case GpuParam::Kind::Expr: // resolved above
        // Little-endian: a 4-byte parameter reads the low half.
        storage[j] = p.bits;
        break;
      }
      params[j] = &storage[j];
    }
    if (llvm::Error e =
            driver.launch(st.functions[i], launch.grid, launch.block,
                          launch.sharedBytes, params.data(), stream))
      return makeError("launching " + launch.kernel + ": " +
                       llvm::toString(std::move(e)));
  }
  if (llvm::Error e = st.lastUse->record(stream))
    return e;
  st.lastStream = stream;
  st.used = true;
  return llvm::Error::success();
}

llvm::Error loadLocked(GpuKernelCode &code) {
  if (code.device)
    return llvm::Error::success();
  auto driver = cuda::Driver::get();
  if (!driver)
    return driver.takeError();
  auto st = std::make_unique<GpuKernelCode::DeviceState>();
  st->driver = *driver;
  auto module = st->driver->loadModule(code.binary);
  if (!module)
    return makeError("loading the kernel (" + code.format + " for " +
                     code.chip + ") on " + st->driver->deviceName() + " (sm_" +
                     llvm::Twine(st->driver->computeCapability()) +
                     "): " + llvm::toString(module.takeError()));
  st->module = *module;
  for (const GpuLaunch &l : code.launches) {
    auto fn = st->driver->function(st->module, l.kernel);
    if (!fn)
      return makeError("kernel " + l.kernel + ": " +
                       llvm::toString(fn.takeError()));
    if (l.sharedBytes > 48 * 1024) {
      if (int64_t(l.sharedBytes) > st->driver->maxSharedBytesOptin())
        return makeError("kernel " + l.kernel + " needs " +
                         llvm::Twine(l.sharedBytes) +
                         " bytes of dynamic shared memory; the device "
                         "allows " +
                         llvm::Twine(st->driver->maxSharedBytesOptin()));
      if (llvm::Error e =
              st->driver->setMaxDynamicSharedBytes(*fn, l.sharedBytes))
        return makeError("kernel " + l.kernel + ": " +
                         llvm::toString(std::move(e)));
    }
    st->functions.push_back(*fn);
  }
  if (!code.tensorMaps.empty() && !st->driver->hasTensorMaps())
    return makeError("the CUDA driver has no cuTensorMapEncodeTiled (TMA "
                     "needs CUDA 12+)");
  st->tensorMapBytes.resize(code.tensorMaps.size());
  st->tensorMapAddress.assign(code.tensorMaps.size(), 0);
  st->tensorMapDims.resize(code.tensorMaps.size());
  st->scratch.resize(code.scratchBytes.size());
  for (auto [i, bytes] : llvm::enumerate(code.scratchBytes)) {
    if (i < code.scratchExprs.size() && code.scratchExprs[i] >= 0)
      continue; // sized per call (growScratch)
    auto buf = cuda::DeviceBuffer::create(*st->driver, size_t(bytes));
    if (!buf)
      return makeError("scratch of " + llvm::Twine(bytes) +
                       " bytes: " + llvm::toString(buf.takeError()));
    st->scratch[i].emplace(std::move(*buf));
  }
  auto stream = cuda::Stream::create(*st->driver);
  if (!stream)
    return stream.takeError();
  st->stream.emplace(std::move(*stream));
  auto event = cuda::Event::create(*st->driver);
  if (!event)
    return event.takeError();
  st->lastUse.emplace(std::move(*event));
  code.device = std::move(st);
  return llvm::Error::success();
}

} // namespace

llvm::Error mlir::attn::rt::loadGpuKernel(GpuKernelCode &code) {
  std::lock_guard<std::mutex> lock(code.mutex);
  return loadLocked(code);
}

llvm::Error mlir::attn::rt::enqueueGpuKernel(GpuKernelCode &code,
                                             const KernelSignature &sig,
                                             const AttentionArgs &args,
                                             const GpuEnqueueOptions &options) {
  llvm::SmallVector<BufferRef, 6> bound;
  if (llvm::Error e = bindForGpu(code, sig, args, bound))
    return e;
  std::lock_guard<std::mutex> lock(code.mutex);
  if (llvm::Error e = loadLocked(code))
    return e;
  GpuKernelCode::DeviceState &st = *code.device;
  void *stream = options.stream ? options.stream : st.stream->get();
  std::vector<uint64_t> ptrs;
  for (auto [info, buf] : llvm::zip(sig.args, bound)) {
    if (buf.space != MemorySpace::Device)
      return makeError(llvm::Twine(stringifyArgRole(info.role)) +
                       ": host memory; a queued CUDA call takes device "
                       "buffers only (Kernel::run stages host buffers)");
    if (llvm::Error e = checkDeviceBuffer(*st.driver, info, buf))
      return e;
    if (info.role == ArgRole::KvLengths && options.checkKvLengths)
      if (llvm::Error e = checkDeviceKvLengths(*st.driver, buf,
                                               callKvLen(sig, bound), stream))
        return e;
    if (info.role == ArgRole::KvIndices && options.checkKvLengths)
      if (llvm::Error e = checkDeviceBlockMask(*st.driver, sig, bound, stream))
        return e;
    ptrs.push_back(buf.devicePtr());
  }
  return launchAll(code, ptrs, shapesOf(bound), stream);
}

namespace {
/// Runs the loaded `code` (lock held) on `buffers` in ABI order: device
/// buffers in place once `checkDevice(i, buffer)` accepts them, host ones
/// staged through fresh device buffers (outputs uploaded too, so elements
/// the kernel does not write keep the caller's values, and copied back).
/// Waits for the kernel.
llvm::Error runStagedLocked(
    GpuKernelCode &code, llvm::ArrayRef<BufferRef> buffers,
    llvm::ArrayRef<GpuBufferUse> uses,
    llvm::function_ref<llvm::Error(size_t, const BufferRef &, void *)>
        checkDevice) {
  GpuKernelCode::DeviceState &st = *code.device;
  cuda::Driver &driver = *st.driver;
  void *stream = st.stream->get();
  std::vector<uint64_t> ptrs;
  std::vector<cuda::DeviceBuffer> staged;
  staged.reserve(buffers.size());
  // Host buffers to copy back after the kernel: (host, device, bytes).
  std::vector<std::tuple<void *, uint64_t, size_t>> copyBack;
  for (size_t i = 0; i < buffers.size(); ++i) {
    const BufferRef &buf = buffers[i];
    size_t bytes = size_t(byteSize(buf));
    if (buf.space == MemorySpace::Device) {
      if (llvm::Error e = checkDevice(i, buf, stream))
        return e;
      ptrs.push_back(buf.devicePtr());
      continue;
    }
    auto dev = cuda::DeviceBuffer::create(driver, std::max<size_t>(bytes, 1));
    if (!dev)
      return makeError(llvm::Twine(uses[i].name) + ": staging " +
                       llvm::Twine(bytes) +
                       " bytes: " + llvm::toString(dev.takeError()));
    if (llvm::Error e =
            driver.copyToDeviceAsync(dev->get(), buf.data, bytes, stream))
      return e;
    ptrs.push_back(dev->get());
    if (uses[i].isOutput)
      copyBack.emplace_back(buf.data, dev->get(), bytes);
    staged.push_back(std::move(*dev));
  }
  if (llvm::Error e = launchAll(code, ptrs, shapesOf(buffers), stream))
    return e;
  for (auto [host, dev, bytes] : copyBack)
    if (llvm::Error e = driver.copyToHostAsync(host, dev, bytes, stream))
      return e;
  if (llvm::Error e = driver.synchronizeStream(stream))
    return makeError("running " + code.planString() + ": " +
                     llvm::toString(std::move(e)));
  return llvm::Error::success();
}
} // namespace

llvm::Error mlir::attn::rt::runGpuKernel(GpuKernelCode &code,
                                         const KernelSignature &sig,
                                         const AttentionArgs &args) {
  llvm::SmallVector<BufferRef, 6> bound;
  if (llvm::Error e = bindForGpu(code, sig, args, bound))
    return e;
  llvm::SmallVector<GpuBufferUse, 6> uses;
  for (const ArgInfo &info : sig.args)
    uses.push_back({stringifyArgRole(info.role), info.isOutput});
  std::lock_guard<std::mutex> lock(code.mutex);
  if (llvm::Error e = loadLocked(code))
    return e;
  cuda::Driver &driver = *code.device->driver;
  return runStagedLocked(
      code, bound, uses,
      [&](size_t i, const BufferRef &buf, void *stream) -> llvm::Error {
        const ArgInfo &info = sig.args[i];
        if (llvm::Error e = checkDeviceBuffer(driver, info, buf))
          return e;
        if (info.role == ArgRole::KvLengths)
          return checkDeviceKvLengths(driver, buf, callKvLen(sig, bound),
                                      stream);
        if (info.role == ArgRole::KvIndices)
          return checkDeviceBlockMask(driver, sig, bound, stream);
        return llvm::Error::success();
      });
}

llvm::Error
mlir::attn::rt::runGpuKernelBuffers(GpuKernelCode &code,
                                    llvm::ArrayRef<BufferRef> buffers,
                                    llvm::ArrayRef<GpuBufferUse> uses) {
  if (buffers.size() != uses.size())
    return makeError("runGpuKernelBuffers: " + llvm::Twine(buffers.size()) +
                     " buffers, " + llvm::Twine(uses.size()) + " uses");
  for (auto [buf, use] : llvm::zip(buffers, uses))
    if (!buf.isDense())
      return makeError(llvm::Twine(use.name) + ": strides " +
                       shapeString(buf.strides) + " are not dense row-major " +
                       shapeString(rowMajorStrides(buf.shape)) +
                       "; CUDA kernels need dense row-major buffers");
  // Run-time sizes are checked before the device is touched: a bad size
  // is the same error without one, and nothing is staged or launched.
  if (code.hasRunTimeSizes())
    if (auto launches = code.resolveLaunches(shapesOf(buffers)); !launches)
      return launches.takeError();
  std::lock_guard<std::mutex> lock(code.mutex);
  if (llvm::Error e = loadLocked(code))
    return e;
  cuda::Driver &driver = *code.device->driver;
  return runStagedLocked(
      code, buffers, uses, [&](size_t i, const BufferRef &buf, void *) {
        return checkDeviceBuffer(driver, uses[i].name, 16, buf);
      });
}

llvm::Expected<std::vector<double>>
mlir::attn::rt::timeGpuKernel(GpuKernelCode &code, const KernelSignature &sig,
                              const AttentionArgs &args, int warmup, int runs) {
  llvm::SmallVector<BufferRef, 6> bound;
  if (llvm::Error e = bindForGpu(code, sig, args, bound))
    return std::move(e);
  if (llvm::Error e = loadGpuKernel(code))
    return std::move(e);
  cuda::Driver &driver = *code.device->driver;
  std::vector<cuda::DeviceBuffer> copies;
  AttentionArgs deviceArgs;
  for (auto [info, buf] : llvm::zip(sig.args, bound)) {
    size_t bytes = size_t(byteSize(buf));
    auto dev = cuda::DeviceBuffer::create(driver, std::max<size_t>(bytes, 1));
    if (!dev)
      return dev.takeError();
    llvm::Error e = buf.space == MemorySpace::Host
                        ? driver.copyToDevice(dev->get(), buf.data, bytes)
                        : driver.copyDeviceToDevice(dev->get(), buf.devicePtr(),
                                                    bytes, nullptr);
    if (e)
      return std::move(e);
    deviceArgs.set(info.role,
                   BufferRef::device(dev->get(), buf.dtype, buf.shape));
    copies.push_back(std::move(*dev));
  }
  if (llvm::Error e = driver.synchronize())
    return std::move(e);
  // One checked call first (device kv_lengths range-checked), then the
  // rest of the warm-up and the timed calls without that small copy.
  GpuEnqueueOptions options;
  for (int i = 0; i < std::max(warmup, 1); ++i) {
    if (llvm::Error e = enqueueGpuKernel(code, sig, deviceArgs, options))
      return std::move(e);
    options.checkKvLengths = false;
  }
  void *stream = code.device->stream->get();
  std::vector<cuda::Event> events;
  for (int i = 0; i < 2 * runs; ++i) {
    auto ev = cuda::Event::create(driver);
    if (!ev)
      return ev.takeError();
    events.push_back(std::move(*ev));
  }
  for (int i = 0; i < runs; ++i) {
    if (llvm::Error e = events[2 * i].record(stream))
      return std::move(e);
    if (llvm::Error e = enqueueGpuKernel(code, sig, deviceArgs, options))
      return std::move(e);
    if (llvm::Error e = events[2 * i + 1].record(stream))
      return std::move(e);
  }
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t = events[2 * i + 1].msSince(events[2 * i]);
    if (!t)
      return t.takeError();
    ms.push_back(*t);
  }
  return ms;
}
