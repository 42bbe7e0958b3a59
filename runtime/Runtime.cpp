//===- Runtime.cpp - kernel cache, compile and launch ---------------------===//
#include "runtime/Runtime.h"
#include "runtime/Errors.h"
#include "runtime/JitCompiler.h"
#include "runtime/KernelBuilder.h"

#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <chrono>
#include <condition_variable>
#include <cstring>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

const DialectRegistry &runtimeRegistry() {
  static const DialectRegistry *registry = [] {
    auto *r = new DialectRegistry();
    registerRuntimeDialects(*r);
    return r;
  }();
  return *registry;
}

/// A context per compile: kernels compile concurrently without sharing
/// MLIR state, and nothing survives the compile but machine code. MLIR's
/// own threading stays off; parallelism comes from compiling several
/// kernels at once.
std::unique_ptr<MLIRContext> newContext() {
  auto ctx = std::make_unique<MLIRContext>(runtimeRegistry(),
                                           MLIRContext::Threading::DISABLED);
  // Errors go back to the caller as one line; a dump of the failing op
  // would bury the message.
  ctx->printOpOnDiagnostic(false);
  return ctx;
}

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

llvm::Error validateOptions(const CompileOptions &o) {
  if (o.tileRows <= 0)
    return makeError("tile-rows must be > 0, got " + llvm::Twine(o.tileRows));
  if (o.tileKv <= 0)
    return makeError("tile-kv must be > 0, got " + llvm::Twine(o.tileKv));
  if (o.vectorWidth < 0)
    return makeError("vector-width must be >= 0, got " +
                     llvm::Twine(o.vectorWidth));
  return llvm::Error::success();
}

/// AttentionSpec::key() prints floats with 6 digits; the cache must not
/// merge specs whose scale or softcap differ beyond that.
std::string exactSpecKey(const AttentionSpec &spec) {
  std::string key = spec.key();
  auto bits = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return std::to_string(u);
  };
  if (spec.scale)
    key += ",scale-bits=" + bits(*spec.scale);
  if (spec.softcap)
    key += ",softcap-bits=" + bits(*spec.softcap);
  return key;
}

} // namespace

std::string CompileOptions::key() const {
  return "tile-rows=" + std::to_string(tileRows) +
         ",tile-kv=" + std::to_string(tileKv) +
         ",vector-width=" + std::to_string(vectorWidth) +
         (cpu.empty() ? "" : ",cpu=" + cpu);
}

//===----------------------------------------------------------------------===//
// Kernel
//===----------------------------------------------------------------------===//

Kernel::Kernel(KernelSignature sig, std::unique_ptr<CpuKernelCode> code,
               CompileStats stats, std::shared_ptr<ThreadPool> pool)
    : sig(std::move(sig)), code(std::move(code)), stats(stats),
      pool(std::move(pool)) {}

Kernel::~Kernel() = default;

int64_t Kernel::workItems() const { return code->workItems; }

llvm::Error Kernel::run(const AttentionArgs &args) const {
  return run(args, *pool);
}

llvm::Error Kernel::run(const AttentionArgs &args, ThreadPool &onPool) const {
  auto bound = bindArguments(sig, args);
  if (!bound)
    return bound.takeError();
  runKernelCode(*code, *bound, onPool);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Runtime
//===----------------------------------------------------------------------===//

struct Runtime::CacheEntry {
  std::mutex mutex;
  std::condition_variable ready;
  bool done = false;
  KernelRef kernel;
  std::string error;
};

Runtime::Runtime(RuntimeOptions options)
    : pool(std::make_shared<ThreadPool>(options.numThreads)) {}

Runtime::~Runtime() = default;

llvm::Expected<KernelRef> Runtime::lookupOrCompile(
    const std::string &key,
    llvm::function_ref<llvm::Expected<KernelRef>()> compileFn) {
  std::shared_ptr<CacheEntry> entry;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto [it, inserted] = cache.try_emplace(key);
    if (inserted)
      it->second = std::make_shared<CacheEntry>();
    owner = inserted;
    entry = it->second;
  }
  if (!owner) {
    std::unique_lock<std::mutex> lock(entry->mutex);
    entry->ready.wait(lock, [&] { return entry->done; });
    if (!entry->kernel)
      return makeError(entry->error);
    ++hits;
    return entry->kernel;
  }

  ++compiles;
  llvm::Expected<KernelRef> result = compileFn();
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    if (result)
      entry->kernel = *result;
    else
      entry->error = llvm::toString(result.takeError());
    entry->done = true;
  }
  entry->ready.notify_all();
  if (entry->kernel)
    return entry->kernel;
  // Failures are not cached: the next request retries.
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = cache.find(key);
    if (it != cache.end() && it->second == entry)
      cache.erase(it);
  }
  return makeError(entry->error);
}

llvm::Expected<KernelRef>
Runtime::compileModule(ModuleOp module, KernelSignature sig,
                       llvm::function_ref<void(OpPassManager &)> lower,
                       llvm::StringRef cpu) {
  return jitKernel(module, std::move(sig), lower, cpu, /*buildMs=*/0);
}

llvm::Expected<KernelRef>
Runtime::jitKernel(ModuleOp module, KernelSignature sig,
                   llvm::function_ref<void(OpPassManager &)> lower,
                   llvm::StringRef cpu, double buildMs) {
  JitTimes times;
  auto code = jitCompileKernel(module, kKernelName, lower, times, cpu);
  if (!code)
    return code.takeError();
  CompileStats stats;
  stats.buildMs = buildMs;
  stats.lowerMs = times.lowerMs;
  stats.jitMs = times.jitMs;
  return KernelRef(new Kernel(std::move(sig),
                              std::make_unique<CpuKernelCode>(std::move(*code)),
                              stats, pool));
}

llvm::Expected<KernelRef> Runtime::lowerAndJit(KernelModule &km,
                                               const CompileOptions &opts,
                                               double buildMs) {
  CpuPipelineOptions pipeline;
  pipeline.tileRows = opts.tileRows;
  pipeline.tileKv = opts.tileKv;
  pipeline.vectorWidth = opts.vectorWidth;
  return jitKernel(
      *km.module, km.signature,
      [&](OpPassManager &pm) { buildAttnToCpuPipeline(pm, pipeline); },
      opts.cpu, buildMs);
}

llvm::Expected<KernelRef> Runtime::compile(const AttentionSpec &spec,
                                           Target target,
                                           const CompileOptions &options) {
  if (target == Target::Cuda)
    return makeError("no CUDA backend in this build");
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid attention spec: " + err);
  if (llvm::Error e = validateOptions(options))
    return std::move(e);
  std::string key = "cpu|" + options.key() + "|" + exactSpecKey(spec);
  return lookupOrCompile(key, [&]() -> llvm::Expected<KernelRef> {
    initializeRuntimeOnce();
    auto start = std::chrono::steady_clock::now();
    auto ctx = newContext();
    auto km = buildKernelModule(ctx.get(), spec);
    if (!km)
      return km.takeError();
    return lowerAndJit(*km, options, msSince(start));
  });
}

llvm::Expected<KernelRef> Runtime::compileMlir(llvm::StringRef mlirText,
                                               Target target,
                                               const CompileOptions &options) {
  if (target == Target::Cuda)
    return makeError("no CUDA backend in this build");
  if (llvm::Error e = validateOptions(options))
    return std::move(e);
  initializeRuntimeOnce();
  auto start = std::chrono::steady_clock::now();
  auto ctx = newContext();
  auto km = buildKernelModule(ctx.get(), mlirText);
  if (!km)
    return km.takeError();
  double buildMs = msSince(start);
  // Keyed by the printed kernel wrapper, so formatting and unrelated
  // functions in the input do not defeat the cache.
  std::string text;
  llvm::raw_string_ostream os(text);
  km->module->print(os);
  std::string key = "cpu|" + options.key() + "|mlir:" + text;
  return lookupOrCompile(key, [&]() -> llvm::Expected<KernelRef> {
    return lowerAndJit(*km, options, buildMs);
  });
}

Runtime::CacheStats Runtime::cacheStats() const {
  std::lock_guard<std::mutex> lock(cacheMutex);
  return {hits.load(), compiles.load(), static_cast<int64_t>(cache.size())};
}

void Runtime::clearCache() {
  std::lock_guard<std::mutex> lock(cacheMutex);
  cache.clear();
}
