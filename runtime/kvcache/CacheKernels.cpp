//===- CacheKernels.cpp - compile and run attn cache-op kernels -----------===//
#include "runtime/kvcache/CacheKernels.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/KernelBuilder.h"

#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

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
    s += std::to_string(d) + "x";
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

/// `%name: type` parameters and the types alone, in order.
struct Params {
  std::string decl;
  llvm::SmallVector<std::string, 8> types;
  void add(llvm::StringRef name, const KernelBufferType &t) {
    types.push_back(memrefType(t));
    decl += (decl.empty() ? "%" : ", %") + name.str() + ": " + types.back();
  }
};

/// Exact float attribute text: the bit pattern, so that the kernel sees
/// the f32 the caller gave.
std::string f32Attr(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%08X : f32", bits);
  return buf;
}

std::string maskAttr(const MaskSpec &m) {
  llvm::SmallVector<std::string, 6> parts;
  if (m.causal)
    parts.push_back("causal = true");
  if (m.windowLeft != -1)
    parts.push_back("window_left = " + std::to_string(m.windowLeft));
  if (m.windowRight != -1)
    parts.push_back("window_right = " + std::to_string(m.windowRight));
  if (m.dilation != 1)
    parts.push_back("dilation = " + std::to_string(m.dilation));
  if (m.globalTokens != 0)
    parts.push_back("global_tokens = " + std::to_string(m.globalTokens));
  if (parts.empty())
    return "";
  return "#attn.mask<" + llvm::join(parts, ", ") + ">";
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

std::string
mlir::attn::kv::appendKernelSource(llvm::ArrayRef<KernelBufferType> b,
                                   PageLayout layout) {
  Params p;
  const char *names[] = {"key",         "value",         "key_cache",
                         "value_cache", "cache_lengths", "new_lengths",
                         "block_table"};
  for (size_t i = 0; i < b.size(); ++i)
    p.add(names[i], b[i]);
  std::string s = "func.func @cache_append(" + p.decl +
                  ") attributes {llvm.emit_c_interface} {\n";
  s += "  attn.cache_append %key, %value into %key_cache, %value_cache "
       "lengths(%cache_lengths) new_lengths(%new_lengths : " +
       p.types[5] + ")";
  if (b.size() > 6) {
    s += " block_table(%block_table : " + p.types[6] + ")";
    if (layout == PageLayout::HND)
      s += " {page_layout = #attn.page_layout<hnd>}";
  }
  s += " : " + p.types[0] + ", " + p.types[1] + " into " + p.types[2] + ", " +
       p.types[3] + ", " + p.types[4] + "\n  return\n}\n";
  return s;
}

std::string mlir::attn::kv::attentionKernelSource(
    llvm::ArrayRef<KernelBufferType> b, bool paged, bool withLse,
    const CacheAttentionOptions &o, PageLayout layout) {
  Params p;
  llvm::SmallVector<const char *, 7> names = {"query", "key_cache",
                                              "value_cache", "cache_lengths"};
  if (paged)
    names.push_back("block_table");
  names.push_back("output");
  if (withLse)
    names.push_back("lse");
  for (size_t i = 0; i < b.size(); ++i)
    p.add(names[i], b[i]);
  size_t out = paged ? 5 : 4;
  std::string s = "func.func @cache_attention(" + p.decl +
                  ") attributes {llvm.emit_c_interface} {\n";
  s += "  attn.cache_attention %query, %key_cache, %value_cache "
       "lengths(%cache_lengths)";
  if (paged)
    s += " block_table(%block_table : " + p.types[4] + ")";
  s += " outs(%output";
  if (withLse)
    s += ", %lse : " + p.types[out + 1];
  s += ")";
  llvm::SmallVector<std::string, 3> attrs;
  if (std::string m = maskAttr(o.mask); !m.empty())
    attrs.push_back("mask = " + m);
  if (o.scale)
    attrs.push_back("scale = " + f32Attr(*o.scale));
  if (o.softcap)
    attrs.push_back("softcap = " + f32Attr(*o.softcap));
  if (paged && layout == PageLayout::HND)
    attrs.push_back("page_layout = #attn.page_layout<hnd>");
  if (!attrs.empty())
    s += " {" + llvm::join(attrs, ", ") + "}";
  s += " : " + p.types[0] + ", " + p.types[1] + ", " + p.types[2] + ", " +
       p.types[3] + " -> " + p.types[out] + "\n  return\n}\n";
  return s;
}

CacheKernel::CacheKernel(std::string name, rt::CpuKernelCode code,
                         rt::JitTimes times)
    : fnName(std::move(name)), code(std::move(code)), times(times) {}

void CacheKernel::run(llvm::ArrayRef<BufferRef> buffers,
                      rt::ThreadPool &pool) const {
  // Split-KV kernels keep partials in module globals: one run at a time.
  std::lock_guard<std::mutex> lock(runMutex);
  rt::runKernelCode(code, buffers, pool);
}

struct CacheKernels::Entry {
  std::once_flag once;
  CacheKernelRef kernel;
  std::string error;
};

namespace {
/// Parses a generated kernel's text; on failure `error` says why.
OwningOpRef<ModuleOp> parseKernelSource(MLIRContext &ctx,
                                        const std::string &source,
                                        std::string &error) {
  rt::DiagnosticCapture diags(&ctx);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(source, ParserConfig(&ctx));
  if (!module)
    error = llvm::toString(
        diags.takeError("internal error: malformed cache kernel"));
  return module;
}
} // namespace

llvm::Expected<CacheKernelRef>
CacheKernels::get(llvm::StringRef name, const std::string &source,
                  const CacheKernelOptions &options, int64_t parallelism) {
  std::string key = options.key() +
                    ",parallelism=" + std::to_string(parallelism) + "\n" +
                    source;
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
    MLIRContext ctx(registry(), MLIRContext::Threading::DISABLED);
    ctx.loadAllAvailableDialects();
    OwningOpRef<ModuleOp> module = parseKernelSource(ctx, source, entry->error);
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

std::string GpuCacheKernel::launchPlan() const { return code->planString(); }

struct CacheKernels::GpuEntry {
  std::once_flag once;
  GpuCacheKernelRef kernel;
  std::string error;
};

llvm::Expected<GpuCacheKernelRef>
CacheKernels::getCuda(llvm::StringRef name, const std::string &source,
                      llvm::ArrayRef<KernelBufferType> buffers,
                      const rt::CompileOptions &options) {
  std::string key = "cuda|" + options.gpuKey() + "\n" + source;
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
    MLIRContext ctx(registry(), MLIRContext::Threading::DISABLED);
    ctx.loadAllAvailableDialects();
    OwningOpRef<ModuleOp> module = parseKernelSource(ctx, source, entry->error);
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
    pipeline.format = options.gpuFormat;
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
