//===- CacheKernels.cpp - compile and run attn cache-op kernels -----------===//
#include "runtime/kvcache/CacheKernels.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/KernelBuilder.h"
#include "runtime/KernelStore.h"

#include "passes/Passes.h"

#include "dialect/AttnOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"

#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::BufferRef;

std::string CacheKernelOptions::key() const {
  return "tile-rows=" + std::to_string(tileRows) +
         ",tile-kv=" + std::to_string(tileKv) +
         ",vector-width=" + std::to_string(vectorWidth) +
         ",kv-splits=" + std::to_string(kvSplits) + ",cpu=" + cpu;
}

std::string mlir::attn::kv::memrefType(const KernelBufferType &t) {
  std::string s = "memref<";
  for (int64_t d : t.shape)
    s += (d == kDynamicSize ? std::string("?") : std::to_string(d)) + "x";
  s += rt::stringifyDType(t.dtype);
  if (t.strided) {
    s += ", strided<[";
    for (size_t i = 0; i + 1 < t.shape.size(); ++i)
      s += "?, ";
    s += "1], offset: ?>";
  }
  return s + ">";
}

namespace {

Type elementType(MLIRContext *ctx, rt::DType t) {
  Builder b(ctx);
  switch (t) {
  case rt::DType::F32:
    return b.getF32Type();
  case rt::DType::F16:
    return b.getF16Type();
  case rt::DType::BF16:
    return b.getBF16Type();
  case rt::DType::I32:
    return b.getI32Type();
  case rt::DType::I1:
    return b.getI1Type();
  case rt::DType::I64:
    return b.getI64Type();
  }
  llvm_unreachable("unknown dtype");
}

MemRefType memrefOf(MLIRContext *ctx, const KernelBufferType &t) {
  Type elt = elementType(ctx, t.dtype);
  if (!t.strided)
    return MemRefType::get(t.shape, elt);
  llvm::SmallVector<int64_t, 4> strides(t.shape.size(), ShapedType::kDynamic);
  strides.back() = 1;
  return MemRefType::get(
      t.shape, elt, StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

/// The key text of a float: its bit pattern, so that two scales that
/// differ in the last bit are two kernels.
std::string floatKey(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", bits);
  return buf;
}

/// `func.func @name(<buffers>) attributes {llvm.emit_c_interface}` with its
/// entry block's arguments; the builder is left before its return.
llvm::SmallVector<Value, 8> kernelFunc(OpBuilder &b, Location loc,
                                       llvm::StringRef name,
                                       llvm::ArrayRef<KernelBufferType> bufs) {
  llvm::SmallVector<Type, 8> types;
  for (const KernelBufferType &t : bufs)
    types.push_back(memrefOf(b.getContext(), t));
  auto func = func::FuncOp::create(b, loc, name, b.getFunctionType(types, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  func::ReturnOp::create(b, loc);
  b.setInsertionPointToStart(body);
  return llvm::SmallVector<Value, 8>(body->getArguments());
}

std::string typesKey(llvm::ArrayRef<KernelBufferType> bufs) {
  std::string key;
  for (const KernelBufferType &t : bufs)
    key += memrefType(t) + ";";
  return key;
}

const DialectRegistry &registry() {
  static const DialectRegistry *r = [] {
    auto *reg = new DialectRegistry();
    rt::registerRuntimeDialects(*reg);
    return reg;
  }();
  return *r;
}

} // namespace

namespace {
/// The key text of a rotary style ("" without one).
std::string ropeKey(std::optional<RopeStyle> rope) {
  return rope ? "rope(" + stringifyRopeStyle(*rope).str() + ")" : "";
}

/// The rope attribute for tables of type `cos` ([max_pos, rotary_dim / 2]).
RopeAttr ropeAttr(MLIRContext *ctx, std::optional<RopeStyle> rope,
                  const KernelBufferType &cos) {
  return rope ? RopeAttr::get(ctx, *rope, 2 * cos.shape[1]) : RopeAttr();
}
} // namespace

KernelSource
mlir::attn::kv::appendKernelSource(llvm::ArrayRef<KernelBufferType> b,
                                   PageLayout layout,
                                   std::optional<RopeStyle> rope) {
  KernelSource src;
  size_t tables = rope ? 2 : 0;
  bool paged = b.size() - tables > 6;
  bool hnd = paged && layout == PageLayout::HND;
  src.key =
      "cache_append(" + typesKey(b) + (hnd ? ")hnd" : ")") + ropeKey(rope);
  src.bufferNames = {"key",         "value",         "key_cache",
                     "value_cache", "cache_lengths", "new_lengths"};
  if (paged)
    src.bufferNames.push_back("block_table");
  if (rope)
    src.bufferNames.insert(src.bufferNames.end(), {"rotary_cos", "rotary_sin"});
  llvm::SmallVector<KernelBufferType, 9> bufs(b);
  src.build = [bufs, paged, hnd, rope](OpBuilder &ob, Location loc) {
    auto args = kernelFunc(ob, loc, "cache_append", bufs);
    PageLayoutAttr pageLayout;
    if (hnd)
      pageLayout = PageLayoutAttr::get(ob.getContext(), PageLayout::HND);
    size_t cos = paged ? 7 : 6;
    CacheAppendOp::create(
        ob, loc, args[0], args[1], args[2], args[3], args[4], args[5],
        paged ? args[6] : Value(), rope ? args[cos] : Value(),
        rope ? args[cos + 1] : Value(), pageLayout,
        rope ? ropeAttr(ob.getContext(), rope, bufs[cos]) : RopeAttr());
  };
  return src;
}

KernelSource mlir::attn::kv::attentionKernelSource(
    llvm::ArrayRef<KernelBufferType> b, bool paged, bool withLse,
    const CacheAttentionOptions &o, PageLayout layout, bool withSinks,
    std::optional<RopeStyle> rope, bool packed) {
  KernelSource src;
  bool hnd = paged && layout == PageLayout::HND;
  const MaskSpec &m = o.mask;
  src.key =
      "cache_attention(" + typesKey(b) + ")" + (hnd ? "hnd" : "") + "mask(" +
      std::to_string(m.causal) + "," + std::to_string(m.qOffset) + "," +
      std::to_string(m.windowLeft) + "," + std::to_string(m.windowRight) + "," +
      std::to_string(m.dilation) + "," + std::to_string(m.globalTokens) + ")";
  if (o.scale)
    src.key += "scale(" + floatKey(*o.scale) + ")";
  if (o.softcap)
    src.key += "softcap(" + floatKey(*o.softcap) + ")";
  if (withSinks)
    src.key += "sinks";
  src.key += ropeKey(rope);
  if (packed)
    src.key += "packed";
  src.bufferNames = {"query", "key_cache", "value_cache", "cache_lengths"};
  if (packed)
    src.bufferNames.push_back("query_offsets");
  if (paged)
    src.bufferNames.push_back("block_table");
  if (withSinks)
    src.bufferNames.push_back("sinks");
  if (rope)
    src.bufferNames.insert(src.bufferNames.end(), {"rotary_cos", "rotary_sin"});
  src.bufferNames.push_back("output");
  if (withLse)
    src.bufferNames.push_back("lse");
  llvm::SmallVector<KernelBufferType, 9> bufs(b);
  src.build = [bufs, paged, withLse, hnd, o, withSinks, rope,
               packed](OpBuilder &ob, Location loc) {
    auto args = kernelFunc(ob, loc, "cache_attention", bufs);
    MLIRContext *ctx = ob.getContext();
    size_t table = 4 + packed, sinks = table + paged, cos = sinks + withSinks,
           out = cos + (rope ? 2 : 0);
    auto f32 = [&](std::optional<float> f) {
      return f ? ob.getF32FloatAttr(*f) : FloatAttr();
    };
    MaskAttr mask;
    if (!o.mask.isTrivial() || o.mask.globalTokens != 0)
      mask = MaskAttr::get(ctx, o.mask);
    PageLayoutAttr pageLayout;
    if (hnd)
      pageLayout = PageLayoutAttr::get(ctx, PageLayout::HND);
    CacheAttentionOp::create(
        ob, loc, args[0], args[1], args[2], args[3], packed ? args[4] : Value(),
        paged ? args[table] : Value(), withSinks ? args[sinks] : Value(),
        rope ? args[cos] : Value(), rope ? args[cos + 1] : Value(), args[out],
        withLse ? args[out + 1] : Value(), f32(o.scale), f32(o.softcap), mask,
        pageLayout, rope ? ropeAttr(ctx, rope, bufs[cos]) : RopeAttr());
  };
  return src;
}

KernelSource
mlir::attn::kv::mergeStatesKernelSource(llvm::ArrayRef<KernelBufferType> b,
                                        bool withLse) {
  KernelSource src;
  src.key = "merge_states(" + typesKey(b) + ")";
  llvm::SmallVector<KernelBufferType, 4> bufs(b);
  src.build = [bufs, withLse](OpBuilder &ob, Location loc) {
    auto args = kernelFunc(ob, loc, "merge_states", bufs);
    MergeStatesOp::create(ob, loc, args[0], args[1], args[2],
                          withLse ? args[3] : Value());
  };
  return src;
}

CacheKernel::CacheKernel(std::string name, rt::CpuKernelCode code,
                         rt::JitTimes times)
    : fnName(std::move(name)), code(std::move(code)), times(times) {}

llvm::Error CacheKernel::run(llvm::ArrayRef<BufferRef> buffers,
                             rt::ThreadPool &pool) const {
  return rt::runKernelCode(code, buffers, pool);
}

CacheKernels::CacheKernels()
    : CacheKernels(std::nullopt, rt::DiskCache::kDefaultMaxBytes) {}

CacheKernels::CacheKernels(std::optional<std::string> cacheDir,
                           uint64_t maxBytes) {
  if (auto dir = rt::DiskCache::resolveDir(cacheDir))
    disk = std::make_unique<rt::DiskCache>(*dir, maxBytes);
}

CacheKernels::~CacheKernels() = default;

namespace {
// Payload kinds of the disk cache next to the Runtime's 1 (CPU) and 2 (CUDA).
constexpr uint32_t kCpuCacheKernelKind = 3;
constexpr uint32_t kCudaCacheKernelKind = 4;
} // namespace

struct CacheKernels::Entry {
  std::once_flag once;
  CacheKernelRef kernel;
  std::string error;
};

namespace {
/// Builds `source` into a fresh module; on failure `error` says why.
OwningOpRef<ModuleOp> buildKernelModule(MLIRContext &ctx,
                                        const KernelSource &source,
                                        std::string &error) {
  rt::DiagnosticCapture diags(&ctx);
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  source.build(b, loc);
  if (failed(verify(*module))) {
    error =
        llvm::toString(diags.takeError("internal error: invalid cache kernel"));
    return nullptr;
  }
  return module;
}
} // namespace

llvm::Expected<CacheKernelRef>
CacheKernels::get(llvm::StringRef name, const KernelSource &source,
                  const CacheKernelOptions &options, int64_t parallelism) {
  std::string key = options.key() +
                    ",parallelism=" + std::to_string(parallelism) + "\n" +
                    source.key;
  std::shared_ptr<Entry> entry;
  bool fresh;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto [it, inserted] = entries.try_emplace(key);
    if (inserted)
      it->second = std::make_shared<Entry>();
    entry = it->second;
    fresh = inserted;
    ++(fresh ? counts.compiles : counts.hits);
  }
  std::call_once(entry->once, [&] {
    rt::initializeRuntimeOnce();
    std::string diskKey = rt::diskCacheKey("kv-cpu|" + name.str() + "|" + key);
    uint32_t kind = 0;
    std::optional<std::string> payload;
    if (disk)
      payload = disk->load(diskKey, kind);
    if (payload && kind == kCpuCacheKernelKind) {
      rt::PayloadReader r(*payload);
      rt::JitTimes stored;
      stored.lowerMs = r.f64();
      stored.jitMs = r.f64();
      if (std::optional<rt::CpuKernelCode> code = rt::readCpuCode(r, name)) {
        entry->kernel =
            std::make_shared<CacheKernel>(name.str(), std::move(*code), stored);
        std::lock_guard<std::mutex> lock(mutex);
        --counts.compiles;
        ++counts.diskHits;
        return;
      }
    }
    MLIRContext ctx(registry(), MLIRContext::Threading::DISABLED);
    ctx.loadAllAvailableDialects();
    OwningOpRef<ModuleOp> module = buildKernelModule(ctx, source, entry->error);
    if (!module)
      return;
    CpuPipelineOptions pipeline;
    pipeline.tileRows = options.tileRows;
    pipeline.tileKv = options.tileKv;
    pipeline.vectorWidth = options.vectorWidth;
    pipeline.kvSplits = options.kvSplits;
    pipeline.parallelism = parallelism;
    rt::JitTimes times;
    auto code = rt::jitCompileKernel(
        *module, name,
        [&](OpPassManager &pm) { buildAttnToCpuPipeline(pm, pipeline); }, times,
        options.cpu);
    if (!code) {
      entry->error = llvm::toString(code.takeError());
      return;
    }
    if (disk) {
      rt::PayloadWriter w;
      w.f64(times.lowerMs);
      w.f64(times.jitMs);
      rt::writeCpuCode(w, *code);
      (void)disk->store(diskKey, kCpuCacheKernelKind, w.take());
    }
    entry->kernel =
        std::make_shared<CacheKernel>(name.str(), std::move(*code), times);
  });
  if (entry->kernel)
    return entry->kernel;
  {
    // Failures are not cached: the next request compiles again.
    std::lock_guard<std::mutex> lock(mutex);
    auto it = entries.find(key);
    if (it != entries.end() && it->second == entry)
      entries.erase(it);
  }
  return rt::makeError(name + ": " + entry->error);
}

GpuCacheKernel::GpuCacheKernel(std::string name,
                               std::unique_ptr<rt::GpuKernelCode> code)
    : fnName(std::move(name)), code(std::move(code)) {}

GpuCacheKernel::~GpuCacheKernel() = default;

llvm::Error GpuCacheKernel::run(llvm::ArrayRef<BufferRef> buffers,
                                llvm::ArrayRef<rt::GpuBufferUse> uses) const {
  return rt::runGpuKernelBuffers(*code, buffers, uses);
}

std::string GpuCacheKernel::launchPlan(
    llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes) const {
  return code->planString(shapes);
}

struct CacheKernels::GpuEntry {
  std::once_flag once;
  GpuCacheKernelRef kernel;
  std::string error;
};

llvm::Expected<GpuCacheKernelRef>
CacheKernels::getCuda(llvm::StringRef name, const KernelSource &source,
                      llvm::ArrayRef<KernelBufferType> buffers,
                      const rt::CompileOptions &options) {
  std::string key = "cuda|" + options.gpuKey() + "\n" + source.key;
  std::shared_ptr<GpuEntry> entry;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto [it, inserted] = gpuEntries.try_emplace(key);
    if (inserted)
      it->second = std::make_shared<GpuEntry>();
    entry = it->second;
    ++(inserted ? counts.compiles : counts.hits);
  }
  std::call_once(entry->once, [&] {
    rt::initializeRuntimeOnce();
    std::string diskKey = rt::diskCacheKey("kv-" + name.str() + "|" + key);
    uint32_t kind = 0;
    std::optional<std::string> payload;
    if (disk)
      payload = disk->load(diskKey, kind);
    if (payload && kind == kCudaCacheKernelKind) {
      rt::PayloadReader r(*payload);
      auto code = std::make_unique<rt::GpuKernelCode>();
      if (rt::readGpuCode(r, *code, buffers.size())) {
        entry->kernel =
            std::make_shared<GpuCacheKernel>(name.str(), std::move(code));
        std::lock_guard<std::mutex> lock(mutex);
        --counts.compiles;
        ++counts.diskHits;
        return;
      }
    }
    MLIRContext ctx(registry(), MLIRContext::Threading::DISABLED);
    ctx.loadAllAvailableDialects();
    OwningOpRef<ModuleOp> module = buildKernelModule(ctx, source, entry->error);
    if (!module)
      return;
    // The launch plan only needs each buffer's shape (and a name).
    rt::KernelSignature sig;
    for (const KernelBufferType &t : buffers)
      sig.args.push_back({rt::ArgRole::Query, t.dtype, t.shape,
                          /*unitInnerStride=*/true, /*isOutput=*/false});
    NvvmPipelineOptions pipeline;
    if (!options.gpuChip.empty())
      pipeline.chip = options.gpuChip;
    std::optional<GpuBinaryFormat> format =
        parseGpuBinaryFormat(options.gpuFormat);
    if (!format) {
      entry->error = "gpu format must be isa, bin or fatbin, got '" +
                     options.gpuFormat + "'";
      return;
    }
    pipeline.format = *format;
    pipeline.kvSplits = options.gpuKvSplits;
    if (const char *env = std::getenv("ATTN_CUDA_TOOLKIT"); env && *env)
      pipeline.toolkit = env;
    double lowerMs = 0;
    auto code = rt::compileGpuKernel(
        *module, name, sig,
        [&](OpPassManager &pm) { buildAttnToNvvmPipeline(pm, pipeline); },
        lowerMs);
    if (!code) {
      entry->error = llvm::toString(code.takeError());
      return;
    }
    if (source.bufferNames.size() == buffers.size())
      code->bufferNames = source.bufferNames;
    if (disk) {
      rt::PayloadWriter w;
      rt::writeGpuCode(w, *code);
      (void)disk->store(diskKey, kCudaCacheKernelKind, w.take());
    }
    entry->kernel = std::make_shared<GpuCacheKernel>(
        name.str(), std::make_unique<rt::GpuKernelCode>(std::move(*code)));
  });
  if (entry->kernel)
    return entry->kernel;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = gpuEntries.find(key);
    if (it != gpuEntries.end() && it->second == entry)
      gpuEntries.erase(it);
  }
  return rt::makeError(name + " (cuda): " + entry->error);
}

CacheKernels::Stats CacheKernels::stats() const {
  std::lock_guard<std::mutex> lock(mutex);
  return counts;
}
