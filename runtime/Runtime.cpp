//===- Runtime.cpp - kernel cache, compile and launch ---------------------===//
#include "runtime/Runtime.h"
#include "runtime/AdditiveKernel.h"
#include "runtime/BackwardKernel.h"
#include "runtime/DiskCache.h"
#include "runtime/Errors.h"
#include "runtime/GpuKernel.h"
#include "runtime/JitCompiler.h"
#include "runtime/KernelBuilder.h"
#include "runtime/cuda/CudaDriver.h"

#include "passes/GpuFlashKernel.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

/// The cache key part of a kernel built from MLIR text: the printed kernel
/// wrapper, so formatting and unrelated functions in the input do not
/// defeat the cache.
std::string mlirKey(ModuleOp module) {
  std::string text = "mlir:";
  llvm::raw_string_ostream os(text);
  module.print(os);
  return text;
}

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
  if (o.bf16Matmul != "auto" && o.bf16Matmul != "amx" && o.bf16Matmul != "fma")
    return makeError("bf16-matmul must be auto, amx or fma, got '" +
                     o.bf16Matmul + "'");
  if (o.bf16Matmul == "amx") {
    initializeRuntimeOnce();
    if (!o.cpu.empty())
      if (llvm::Error e = validateCpuName(o.cpu))
        return e;
    if (!cpuHasAmxBf16(o.cpu))
      return makeError("bf16-matmul=amx needs a target CPU with AMX-BF16; " +
                       (o.cpu.empty() ? std::string("the host CPU")
                                      : "CPU '" + o.cpu + "'") +
                       " has none");
    if (llvm::Error e = requestAmxTileData())
      return makeError("bf16-matmul=amx: " + llvm::toString(std::move(e)));
  }
  return llvm::Error::success();
}

llvm::Error validateGpuOptions(const CompileOptions &o) {
  if (!parseGpuBinaryFormat(o.gpuFormat))
    return makeError("gpu format must be isa, bin or fatbin, got '" +
                     o.gpuFormat + "'");
  if (o.gpuKvSplits < 0)
    return makeError("gpu kv-splits must be >= 0, got " +
                     llvm::Twine(o.gpuKvSplits));
  if (!o.gpuChip.empty() && !llvm::StringRef(o.gpuChip).starts_with("sm_"))
    return makeError("gpu chip must look like sm_90, got '" + o.gpuChip + "'");
  return llvm::Error::success();
}

/// The chip to compile for when the options name none: sm_90a (wgmma) on a
/// Hopper device, whose arch-specific code runs only there; otherwise the
/// pipeline's portable default.
std::string defaultGpuChip() {
  static const std::string chip = [] {
    auto driver = cuda::Driver::get();
    if (!driver) {
      llvm::consumeError(driver.takeError());
      return std::string(NvvmPipelineOptions().chip);
    }
    return (*driver)->computeCapability() == 90
               ? std::string("sm_90a")
               : std::string(NvvmPipelineOptions().chip);
  }();
  return chip;
}

std::string resolvedGpuChip(const CompileOptions &o) {
  return o.gpuChip.empty() ? defaultGpuChip() : o.gpuChip;
}

/// `o` (validated) as attn-to-nvvm options.
void fillNvvmOptions(const CompileOptions &o, NvvmPipelineOptions &p) {
  p.chip = resolvedGpuChip(o);
  p.format = *parseGpuBinaryFormat(o.gpuFormat);
  p.kvSplits = o.gpuKvSplits;
  p.bwdTileKeys = o.gpuBwdTileKeys;
  p.bwdTileRows = o.gpuBwdTileRows;
  // The toolkit supplies libdevice (and ptxas for "bin"); the GPU machine
  // may keep it elsewhere than the build machine did.
  if (const char *env = std::getenv("ATTN_CUDA_TOOLKIT"); env && *env)
    p.toolkit = env;
}

/// Whether the kernel specialised to `spec`'s sizes would split the KV
/// range (flash-decoding: few blocks for the SMs), which the kernels of a
/// run-time Sq do not do (those of Sq = 1 split per call). The pass's own
/// choice, on the pipeline's SM count.
bool gpuSplitsKv(const AttentionSpec &spec, const CompileOptions &options) {
  GpuFlashGeometry g;
  g.batch = spec.batch;
  g.heads = spec.numHeads;
  g.kvHeads = spec.numKvHeads;
  g.group = spec.numHeads / std::max<int64_t>(spec.numKvHeads, 1);
  g.qLen = spec.queryLen;
  g.kvLen = spec.kvLen;
  g.headDim = spec.headDim;
  g.valueDim = spec.effectiveValueDim();
  g.bshd = spec.layout == Layout::BSHD;
  g.bf16 = spec.dtype == ElementType::BF16;
  g.hasKvLengths = spec.withKvLengths;
  g.hasLse = spec.returnLse;
  g.mask = spec.mask;
  GpuFlashOverrides overrides;
  overrides.mma = llvm::StringRef(resolvedGpuChip(options)) == "sm_90a"
                      ? GpuMmaKind::Auto
                      : GpuMmaKind::Sync;
  std::string why;
  if (failed(checkGpuFlashSupport(g, why)) ||
      failed(chooseGpuFlashGeometry(g, overrides, NvvmPipelineOptions().numSms,
                                    why)))
    return false; // the compile reports it
  return g.splits > 1;
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
         (cpu.empty() ? "" : ",cpu=" + cpu) +
         ",bf16-matmul=" + resolveBf16Matmul(bf16Matmul, cpu).str();
}

std::string CompileOptions::gpuKey() const {
  std::string key = "chip=" + resolvedGpuChip(*this) + ",format=" + gpuFormat +
                    ",kv-splits=" + std::to_string(gpuKvSplits);
  if (gpuBwdTileKeys || gpuBwdTileRows)
    key += ",bwd-tile=" + std::to_string(gpuBwdTileKeys) + "x" +
           std::to_string(gpuBwdTileRows);
  return key;
}

//===----------------------------------------------------------------------===//
// Kernel
//===----------------------------------------------------------------------===//

Kernel::Kernel(KernelSignature sig, std::shared_ptr<const CpuKernelCode> code,
               CompileStats stats, std::shared_ptr<ThreadPool> pool)
    : sig(std::move(sig)), code(std::move(code)), stats(stats),
      pool(std::move(pool)) {
  items = this->code->workItems;
  if (!this->code->workItemsFn || this->sig.spec.hasDynamicSizes())
    return;
  // A view: the count for its static shapes, which is all the size
  // function reads.
  llvm::SmallVector<BufferRef, 6> shapes;
  for (const ArgInfo &a : this->sig.args)
    shapes.push_back(BufferRef::contiguous(nullptr, a.dtype, a.shape));
  items = workItemsFor(*this->code, shapes);
}

Kernel::Kernel(KernelSignature sig, std::shared_ptr<GpuKernelCode> code,
               CompileStats stats)
    : sig(std::move(sig)), tgt(Target::Cuda), gpuCode(std::move(code)),
      stats(stats) {
  items = gpuCode->totalBlocks();
  if (!gpuCode->hasRunTimeSizes() || this->sig.spec.hasDynamicSizes())
    return;
  // A view: the blocks its static shapes launch.
  llvm::SmallVector<llvm::ArrayRef<int64_t>, 6> shapes;
  for (const ArgInfo &a : this->sig.args)
    shapes.push_back(a.shape);
  auto launches = gpuCode->resolveLaunches(shapes);
  if (!launches) {
    llvm::consumeError(launches.takeError());
    return;
  }
  items = 0;
  for (const GpuLaunch &l : *launches)
    if (l.enabled) // a skipped combine launch runs no block
      items += int64_t(l.grid[0]) * l.grid[1] * l.grid[2];
}

Kernel::~Kernel() = default;

int64_t Kernel::workItems() const { return items; }

llvm::Error Kernel::run(const AttentionArgs &args) const {
  if (gpuCode)
    return runGpuKernel(*gpuCode, sig, args);
  return run(args, *pool);
}

llvm::Error Kernel::enqueue(const AttentionArgs &args,
                            const EnqueueOptions &options) const {
  if (!gpuCode)
    return makeError("enqueue: a CPU kernel runs synchronously; use run");
  GpuEnqueueOptions o;
  o.stream = options.stream;
  o.checkKvLengths = options.checkKvLengths;
  return enqueueGpuKernel(*gpuCode, sig, args, o);
}

llvm::Error Kernel::load() const {
  if (!gpuCode)
    return llvm::Error::success();
  return loadGpuKernel(*gpuCode);
}

llvm::Expected<std::vector<double>>
Kernel::timeOnDevice(const AttentionArgs &args, int warmup, int runs) const {
  if (!gpuCode)
    return makeError("timeOnDevice: not a CUDA kernel");
  return timeGpuKernel(*gpuCode, sig, args, warmup, runs);
}

llvm::StringRef Kernel::gpuBinary() const {
  return gpuCode ? llvm::StringRef(gpuCode->binary) : llvm::StringRef();
}

std::string Kernel::gpuLaunchPlan() const {
  if (!gpuCode)
    return std::string();
  llvm::SmallVector<llvm::ArrayRef<int64_t>, 6> shapes;
  if (!sig.spec.hasDynamicSizes())
    for (const ArgInfo &a : sig.args)
      shapes.push_back(a.shape);
  return gpuCode->planString(shapes);
}

llvm::Error Kernel::run(const AttentionArgs &args, ThreadPool &onPool) const {
  if (gpuCode)
    return runGpuKernel(*gpuCode, sig, args);
  for (ArgRole role : allArgRoles())
    if (const BufferRef *b = args.get(role);
        b && b->space == MemorySpace::Device)
      return makeError(llvm::Twine(stringifyArgRole(role)) +
                       ": device memory, but the kernel runs on the CPU");
  auto bound = bindArguments(sig, args);
  if (!bound)
    return bound.takeError();
  return runKernelCode(*code, *bound, onPool);
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
    : pool(std::make_shared<ThreadPool>(options.numThreads)) {
  if (auto dir = DiskCache::resolveDir(options.cacheDir))
    disk = std::make_unique<DiskCache>(*dir, options.cacheMaxBytes);
}

Runtime::~Runtime() = default;

llvm::Expected<KernelRef> Runtime::lookupOrCompile(
    const std::string &key, llvm::function_ref<KernelSignature()> signature,
    llvm::function_ref<llvm::Expected<KernelRef>()> compileFn, bool view) {
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

  llvm::Expected<KernelRef> result =
      view ? compileFn() : loadOrCompile(key, signature, compileFn);
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
Runtime::compileGpuModule(ModuleOp module, KernelSignature sig,
                          llvm::function_ref<void(OpPassManager &)> lower) {
  CompileStats stats;
  auto code = compileGpuKernel(module, kKernelName, sig, lower, stats.lowerMs);
  if (!code)
    return code.takeError();
  return KernelRef(new Kernel(std::move(sig),
                              std::make_unique<GpuKernelCode>(std::move(*code)),
                              stats));
}

llvm::Expected<KernelRef> Runtime::lowerForGpu(KernelModule &km,
                                               const CompileOptions &opts,
                                               double buildMs) {
  NvvmPipelineOptions pipeline;
  fillNvvmOptions(opts, pipeline);
  CompileStats stats;
  stats.buildMs = buildMs;
  auto code = compileGpuKernel(
      *km.module, kKernelName, km.signature,
      [&](OpPassManager &pm) { buildAttnToNvvmPipeline(pm, pipeline); },
      stats.lowerMs);
  if (!code)
    return code.takeError();
  return KernelRef(new Kernel(
      km.signature, std::make_unique<GpuKernelCode>(std::move(*code)), stats));
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
  stats.optMs = times.optMs;
  stats.codegenMs = times.codegenMs;
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
  pipeline.amx = resolveBf16Matmul(opts.bf16Matmul, opts.cpu) == "amx";
  return jitKernel(
      *km.module, km.signature,
      [&](OpPassManager &pm) { buildAttnToCpuPipeline(pm, pipeline); },
      opts.cpu, buildMs);
}

llvm::Expected<KernelRef> Runtime::compile(const AttentionSpec &spec,
                                           Target target,
                                           const CompileOptions &options) {
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid attention spec: " + err);
  bool cuda = target == Target::Cuda;
  if (llvm::Error e =
          cuda ? validateGpuOptions(options) : validateOptions(options))
    return std::move(e);
  // CUDA kernels take no run-time sizes with sinks or dropout (no GPU
  // lowering: the static compile reports it) or block-sparse masks (their
  // bitmaps are sized by the static KV block count), a fixed
  // split count, or where the specialised kernel would split KV and the
  // kernel of run-time sizes cannot: decode (Sq = 1) kernels pick their
  // split count per call, those of a run-time Sq run unsplit.
  auto gpuRunTime = [&] {
    return !spec.withSinks && !spec.dropout && !spec.blockSparse &&
           !options.gpuKvSplits &&
           (spec.queryLen == 1 || !gpuSplitsKv(spec, options));
  };
  if (options.runTimeSizes && !spec.hasDynamicSizes() &&
      (!cuda || gpuRunTime()))
    return compileView(spec, target, options);
  std::string key = cuda ? "cuda|" + options.gpuKey() : "cpu|" + options.key();
  key += "|" + exactSpecKey(spec);
  auto signature = [&] { return signatureForSpec(spec); };
  return lookupOrCompile(key, signature, [&]() -> llvm::Expected<KernelRef> {
    initializeRuntimeOnce();
    auto start = std::chrono::steady_clock::now();
    auto ctx = newContext();
    auto km = buildKernelModule(ctx.get(), spec);
    if (!km)
      return km.takeError();
    if (cuda)
      return lowerForGpu(*km, options, msSince(start));
    return lowerAndJit(*km, options, msSince(start));
  });
}

llvm::Expected<KernelRef>
Runtime::compileBackward(const AttentionSpec &forward, Target target,
                         const CompileOptions &options) {
  AttentionSpec spec = forward;
  spec.returnLse = false; // an input of the backward
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid attention spec: " + err);
  if (spec.hasDynamicSizes())
    return makeError("the backward takes static sizes only for now (no `?`)");
  bool cuda = target == Target::Cuda;
  if (llvm::Error e =
          cuda ? validateGpuOptions(options) : validateOptions(options))
    return std::move(e);
  std::string key =
      cuda ? "bwd|cuda|" + options.gpuKey() : "bwd|cpu|" + options.key();
  key += "|" + exactSpecKey(spec);
  auto signature = [&] { return signatureForBackwardSpec(spec); };
  return lookupOrCompile(key, signature, [&]() -> llvm::Expected<KernelRef> {
    initializeRuntimeOnce();
    auto start = std::chrono::steady_clock::now();
    auto ctx = newContext();
    auto km = buildBackwardKernelModule(ctx.get(), spec);
    if (!km)
      return km.takeError();
    // CUDA: attn-to-nvvm's attn-gpu-backward (passes/GpuBackward.cpp).
    if (cuda)
      return lowerForGpu(*km, options, msSince(start));
    return lowerAndJit(*km, options, msSince(start));
  });
}

llvm::Expected<KernelRef>
Runtime::compileBackwardMlir(llvm::StringRef mlirText, Target target,
                             const CompileOptions &options) {
  bool cuda = target == Target::Cuda;
  if (llvm::Error e =
          cuda ? validateGpuOptions(options) : validateOptions(options))
    return std::move(e);
  initializeRuntimeOnce();
  auto start = std::chrono::steady_clock::now();
  auto ctx = newContext();
  auto km = buildBackwardKernelModule(ctx.get(), mlirText);
  if (!km)
    return km.takeError();
  if (km->signature.spec.hasDynamicSizes())
    return makeError("the backward takes static sizes only for now (no `?`)");
  double buildMs = msSince(start);
  std::string key =
      (cuda ? "bwd|cuda|" + options.gpuKey() : "bwd|cpu|" + options.key()) +
      "|" + mlirKey(*km->module);
  auto signature = [&] { return km->signature; };
  return lookupOrCompile(key, signature, [&]() -> llvm::Expected<KernelRef> {
    if (cuda)
      return lowerForGpu(*km, options, buildMs);
    return lowerAndJit(*km, options, buildMs);
  });
}

llvm::Expected<KernelRef>
Runtime::compileAdditive(const AdditiveSpec &spec, Target target,
                         const CompileOptions &options) {
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid additive attention spec: " + err);
  if (target != Target::Cpu)
    return makeError("additive attention runs on the CPU only for now "
                     "(attn-to-nvvm rejects attn.additive_attention)");
  return compileCpuModule(
      "additive|cpu|" + options.key() + "|" + spec.key(),
      [&] { return signatureForAdditiveSpec(spec); },
      [&](MLIRContext *ctx) { return buildAdditiveKernelModule(ctx, spec); },
      options);
}

llvm::Expected<KernelRef> Runtime::compileCpuModule(
    const std::string &key, llvm::function_ref<KernelSignature()> signature,
    llvm::function_ref<llvm::Expected<KernelModule>(MLIRContext *)> build,
    const CompileOptions &options) {
  if (llvm::Error e = validateOptions(options))
    return std::move(e);
  return lookupOrCompile(key, signature, [&]() -> llvm::Expected<KernelRef> {
    initializeRuntimeOnce();
    auto start = std::chrono::steady_clock::now();
    auto ctx = newContext();
    auto km = build(ctx.get());
    if (!km)
      return km.takeError();
    return lowerAndJit(*km, options, msSince(start));
  });
}

llvm::Expected<KernelRef> Runtime::compileView(const AttentionSpec &spec,
                                               Target target,
                                               const CompileOptions &options) {
  bool cuda = target == Target::Cuda;
  std::string key =
      (cuda ? "view|cuda|" + options.gpuKey() : "view|cpu|" + options.key()) +
      "|" + exactSpecKey(spec);
  auto signature = [&] { return signatureForSpec(spec); };
  return lookupOrCompile(
      key, signature,
      [&]() -> llvm::Expected<KernelRef> {
        auto shared = compile(spec.withRunTimeSizes(), target, options);
        if (!shared)
          return shared.takeError();
        if (cuda)
          return KernelRef(new Kernel(signatureForSpec(spec),
                                      (*shared)->gpuCode, (*shared)->stats));
        return KernelRef(new Kernel(signatureForSpec(spec), (*shared)->code,
                                    (*shared)->stats, pool));
      },
      /*view=*/true);
}

llvm::Expected<KernelRef> Runtime::compileMlir(llvm::StringRef mlirText,
                                               Target target,
                                               const CompileOptions &options) {
  bool cuda = target == Target::Cuda;
  if (llvm::Error e =
          cuda ? validateGpuOptions(options) : validateOptions(options))
    return std::move(e);
  initializeRuntimeOnce();
  auto start = std::chrono::steady_clock::now();
  auto ctx = newContext();
  auto km = buildKernelModule(ctx.get(), mlirText);
  if (!km)
    return km.takeError();
  double buildMs = msSince(start);
  std::string key =
      (cuda ? "cuda|" + options.gpuKey() : "cpu|" + options.key()) + "|" +
      mlirKey(*km->module);
  auto signature = [&] { return km->signature; };
  return lookupOrCompile(key, signature, [&]() -> llvm::Expected<KernelRef> {
    if (cuda)
      return lowerForGpu(*km, options, buildMs);
    return lowerAndJit(*km, options, buildMs);
  });
}

Runtime::CacheStats Runtime::cacheStats() const {
  std::lock_guard<std::mutex> lock(cacheMutex);
  return {hits.load(), compiles.load(), static_cast<int64_t>(cache.size()),
          diskHits.load()};
}

void Runtime::clearCache() {
  std::lock_guard<std::mutex> lock(cacheMutex);
  cache.clear();
}
