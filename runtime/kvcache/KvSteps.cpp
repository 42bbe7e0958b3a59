//===- KvSteps.cpp - append and decode steps over a KV cache --------------===//
#include "runtime/kvcache/KvSteps.h"
#include "runtime/AttentionArgs.h"
#include "runtime/Errors.h"
#include "runtime/kvcache/PagedKvCache.h"

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::BufferRef;
using rt::DType;
using rt::makeError;

KvStepper::KvStepper(KvCache &cache, rt::Runtime &runtime, StepOptions options,
                     std::shared_ptr<CacheKernels> kernels)
    : kvCache(cache), runtime(runtime), options(options),
      kernelCache(kernels ? std::move(kernels)
                          : std::make_shared<CacheKernels>()),
      countScratch(cache.maxSequences()) {}

namespace {

KernelBufferType typeOf(const BufferRef &b, bool strided) {
  return {b.dtype, b.shape, strided};
}

/// `b`'s kernel type with dims 0 (batch) and, when given, `lengthDim`
/// (chunk or query length) set to `batch` / `length`.
KernelBufferType typeOf(const BufferRef &b, int64_t batch, int64_t lengthDim,
                        int64_t length) {
  KernelBufferType t = typeOf(b, true);
  t.shape[0] = batch;
  t.shape[lengthDim] = length;
  return t;
}

/// Shapes of the batch's cache operands for a batch of `n`, known before
/// prepareStep so that kernels compile before anything changes.
void cacheTypes(const KvCache &c, int64_t n,
                llvm::SmallVectorImpl<KernelBufferType> &out,
                std::optional<KernelBufferType> &table) {
  KernelBufferType k = typeOf(c.keyCache(), false),
                   v = typeOf(c.valueCache(), false);
  if (!c.isPaged()) {
    k.shape[0] = n;
    v.shape[0] = n;
  } else {
    int64_t maxPages = llvm::cast<PagedKvCache>(c).maxPagesPerSeq();
    table = KernelBufferType{DType::I32, {n, maxPages}, false};
  }
  out.push_back(k);
  out.push_back(v);
}

} // namespace

bool KvStepper::onDevice() const {
  return kvCache.keyCache().space == rt::MemorySpace::Device;
}

bool KvStepper::runTimeSizes() const {
  // A fixed CUDA split count needs static sizes (the partials' scratch
  // follows them): such steppers specialise per shape.
  return options.runTimeSizes && !(onDevice() && options.gpu.gpuKvSplits > 1);
}

llvm::Expected<KvStepper::StepKernel>
KvStepper::compileKernel(llvm::StringRef name, const KernelSource &source,
                         llvm::ArrayRef<KernelBufferType> types) {
  StepKernel k;
  if (onDevice()) {
    auto gpu = kernelCache->getCuda(name, source, types, options.gpu);
    if (!gpu)
      return gpu.takeError();
    k.gpu = *gpu;
    return k;
  }
  auto cpu =
      kernelCache->get(name, source, options.compile, runtime.numThreads());
  if (!cpu)
    return cpu.takeError();
  k.cpu = *cpu;
  return k;
}

llvm::Error KvStepper::runKernel(const StepKernel &kernel,
                                 llvm::ArrayRef<BufferRef> buffers,
                                 llvm::ArrayRef<rt::GpuBufferUse> uses) {
  if (kernel.gpu)
    return kernel.gpu->run(buffers, uses);
  return kernel.cpu->run(buffers, runtime.threadPool());
}

PageLayout KvStepper::pageLayout() const {
  if (auto *paged = llvm::dyn_cast<PagedKvCache>(&kvCache))
    return paged->pageLayout();
  return PageLayout::NHD;
}

KvStepper::RopeKey KvStepper::ropeKey(const RotaryEmbedding *rope) {
  if (!rope)
    return {};
  return {rope->style, rope->cos.dtype, rope->cos.shape[1]};
}

namespace {
/// The tables' kernel type: [?, rotary_dim / 2], so one kernel serves
/// tables of any length.
KernelBufferType tableType(const RotaryEmbedding &rope) {
  return {rope.cos.dtype, {kDynamicSize, rope.cos.shape[1]}, false};
}
} // namespace

llvm::Expected<KvStepper::StepKernel>
KvStepper::appendKernel(const BufferRef &key, const BufferRef &value,
                        const RotaryEmbedding *rope) {
  // The batch and chunk length are run-time sizes (CPU and CUDA kernels):
  // one append kernel serves every step.
  bool runTime = runTimeSizes();
  int64_t n = runTime ? kDynamicSize : key.shape[0];
  AppendKey memo{n, runTime ? kDynamicSize : key.shape[2], ropeKey(rope)};
  for (auto &[k, kernel] : appendKernels)
    if (k == memo)
      return kernel;
  llvm::SmallVector<KernelBufferType, 7> types = {
      typeOf(key, n, 2, memo.snew), typeOf(value, n, 2, memo.snew)};
  std::optional<KernelBufferType> table;
  cacheTypes(kvCache, n, types, table);
  types.push_back({DType::I32, {n}, false}); // cache_lengths
  types.push_back({DType::I32, {n}, false}); // new_lengths
  if (table)
    types.push_back(*table);
  if (rope)
    types.append(2, tableType(*rope));
  auto kernel = compileKernel(
      "cache_append", appendKernelSource(types, pageLayout(), memo.rope.style),
      types);
  if (kernel)
    appendKernels.push_back({memo, *kernel});
  return kernel;
}

llvm::Expected<KvStepper::StepKernel>
KvStepper::decodeKernel(const BufferRef &query, const BufferRef &output,
                        const BufferRef *lse, const BufferRef *sinks,
                        const RotaryEmbedding *rope,
                        const CacheAttentionOptions &attn, int64_t batch) {
  // The batch and (chunked prefill) query length are run-time sizes (CPU
  // and CUDA kernels); Sq = 1 stays static: decode is its own kernel kind.
  // Packed queries (batch >= 0: mixed batches) [T, Hq, D] take T and the
  // batch at run time.
  bool runTime = runTimeSizes(), packed = batch >= 0;
  int64_t n = runTime ? kDynamicSize : packed ? batch : query.shape[0];
  int64_t sq = packed ? query.shape[0] : query.shape[2];
  if (runTime && (sq != 1 || packed))
    sq = kDynamicSize;
  DecodeKey memo{n,
                 query.shape[1],
                 sq,
                 lse != nullptr,
                 sinks != nullptr,
                 ropeKey(rope),
                 attn.mask,
                 attn.scale,
                 attn.softcap,
                 packed};
  for (auto &[k, kernel] : decodeKernels)
    if (k == memo)
      return kernel;
  // [B, Hq, Sq, ...] or packed [T, Hq, ...].
  auto rowsType = [&](const BufferRef &b) {
    return packed ? typeOf(b, sq, 0, sq) : typeOf(b, n, 2, sq);
  };
  llvm::SmallVector<KernelBufferType, 7> types = {rowsType(query)};
  std::optional<KernelBufferType> table;
  cacheTypes(kvCache, n, types, table);
  types.push_back({DType::I32, {n}, false}); // cache_lengths
  if (packed)
    types.push_back({DType::I32, {n == kDynamicSize ? n : n + 1}, false});
  if (table)
    types.push_back(*table);
  if (sinks)
    types.push_back(typeOf(*sinks, false));
  if (rope)
    types.append(2, tableType(*rope));
  types.push_back(rowsType(output));
  if (lse)
    types.push_back(rowsType(*lse));
  auto kernel = compileKernel(
      "cache_attention",
      attentionKernelSource(types, kvCache.isPaged(), lse != nullptr, attn,
                            pageLayout(), sinks != nullptr, memo.rope.style,
                            packed),
      types);
  if (kernel)
    decodeKernels.push_back({memo, *kernel});
  return kernel;
}

llvm::Error KvStepper::checkBackend(llvm::StringRef what) const {
  if (onDevice() && options.backend == StepBackend::Reference)
    return makeError(what + ": the float64 reference backend needs a cache "
                            "in host memory; this one is in device memory");
  return llvm::Error::success();
}

llvm::Error KvStepper::checkAppendInputs(int64_t n, const BufferRef &key,
                                         const BufferRef &value,
                                         llvm::ArrayRef<int32_t> newLengths) {
  const char *what = "appendStep";
  const KvCache &c = kvCache;
  int64_t snew = key.shape.size() == 4 ? key.shape[2] : 0;
  if (llvm::Error e = checkBuffer(
          key, what, "key", c.dtype(), {n, c.numKvHeads(), snew, c.headDim()},
          "[B, Hkv, Snew, D] with the cache's Hkv, D and type"))
    return e;
  if (llvm::Error e =
          checkBuffer(value, what, "value", c.dtype(),
                      {n, c.numKvHeads(), snew, c.valueDim()},
                      "[B, Hkv, Snew, Dv] with the cache's Hkv, Dv and type"))
    return e;
  if (llvm::Error e = checkInnerStride(key, what, "key"))
    return e;
  if (llvm::Error e = checkInnerStride(value, what, "value"))
    return e;
  if (!newLengths.empty() && static_cast<int64_t>(newLengths.size()) != n)
    return makeError(llvm::Twine(what) + ": " + llvm::Twine(newLengths.size()) +
                     " new lengths for " + llvm::Twine(n) + " sequences");
  for (size_t i = 0; i < newLengths.size(); ++i)
    if (newLengths[i] < 0 || newLengths[i] > snew)
      return makeError(llvm::Twine(what) + ": newLengths[" + llvm::Twine(i) +
                       "] = " + llvm::Twine(newLengths[i]) +
                       " is outside [0, Snew = " + llvm::Twine(snew) + "]");
  return llvm::Error::success();
}

llvm::Error KvStepper::checkRotaryInputs(const RotaryEmbedding &rope,
                                         llvm::StringRef what,
                                         llvm::StringRef rows,
                                         llvm::ArrayRef<SeqId> seqs,
                                         llvm::ArrayRef<int32_t> appended,
                                         int64_t queries) {
  const KvCache &c = kvCache;
  if (llvm::Error e = checkRotary(rope, what, rows, c.headDim(), c.dtype()))
    return e;
  for (size_t i = 0; i < seqs.size(); ++i) {
    auto len = c.length(seqs[i]);
    if (!len) {
      // A bad id: prepareStep reports it.
      llvm::consumeError(len.takeError());
      continue;
    }
    // An empty sequence's queries see no key: their rotation is moot.
    if (appended.empty() && *len == 0)
      continue;
    int64_t first = appended.empty() ? *len - queries : *len;
    int64_t end = appended.empty() ? *len : *len + appended[i];
    if (llvm::Error e = checkRotaryPositions(rope, what, rows, i, first, end))
      return e;
  }
  return llvm::Error::success();
}

llvm::Error KvStepper::appendStep(llvm::ArrayRef<SeqId> seqs,
                                  const BufferRef &key, const BufferRef &value,
                                  llvm::ArrayRef<int32_t> newLengths,
                                  const RotaryEmbedding *rope) {
  int64_t n = static_cast<int64_t>(seqs.size());
  if (n > kvCache.maxSequences())
    return makeError("appendStep: a batch of " + llvm::Twine(n) +
                     " sequences exceeds the cache's " +
                     llvm::Twine(kvCache.maxSequences()) + " slots");
  if (llvm::Error e = checkAppendInputs(n, key, value, newLengths))
    return e;
  llvm::ArrayRef<int32_t> counts = newLengths;
  if (counts.empty()) {
    std::fill_n(countScratch.begin(), n, static_cast<int32_t>(key.shape[2]));
    counts = llvm::ArrayRef(countScratch).take_front(n);
  }
  if (rope)
    if (llvm::Error e =
            checkRotaryInputs(*rope, "appendStep", "key", seqs, counts, 0))
      return e;

  if (llvm::Error e = checkBackend("appendStep"))
    return e;
  // Compile before touching the cache: a compile error changes nothing.
  StepKernel kernel;
  if (options.backend == StepBackend::Compiled && n > 0) {
    auto k = appendKernel(key, value, rope);
    if (!k)
      return k.takeError();
    kernel = *k;
  }

  auto batch = kvCache.prepareStep(seqs, counts);
  if (!batch)
    return batch.takeError();
  const KvBatch &b = **batch;
  if (kernel) {
    llvm::SmallVector<BufferRef, 7> buffers = {
        key, value, b.keyCache, b.valueCache, b.lengthsBefore, b.newLengths};
    llvm::SmallVector<rt::GpuBufferUse, 9> uses = {
        {"key", false},           {"value", false},
        {"key_cache", true},      {"value_cache", true},
        {"cache_lengths", false}, {"new_lengths", false}};
    if (b.blockTable) {
      buffers.push_back(*b.blockTable);
      uses.push_back({"block_table", false});
    }
    if (rope) {
      buffers.append({rope->cos, rope->sin});
      uses.append({{"rotary_cos", false}, {"rotary_sin", false}});
    }
    // A failed run leaves the lengths (and so the visible rows) unchanged.
    if (llvm::Error e = runKernel(kernel, buffers, uses))
      return e;
  } else if (llvm::Error e = referenceCacheAppend(b.appendOperands(), key,
                                                  value, &b.newLengths, rope)) {
    // Unreachable after the checks above; the reservation stays (harmless:
    // capacity only), the lengths do not move.
    return e;
  }
  return kvCache.commitStep(b);
}

llvm::Expected<int64_t> KvStepper::checkAttentionBuffers(
    int64_t n, const BufferRef &query, const BufferRef &output,
    const BufferRef *lse, const BufferRef *sinks,
    const CacheAttentionOptions &attn, llvm::StringRef what, bool packed) {
  const KvCache &c = kvCache;
  CacheGeometry g;
  g.batch = n;
  g.numKvHeads = c.numKvHeads();
  g.headDim = c.headDim();
  g.valueDim = c.valueDim();
  if (llvm::Error e = checkBuffer(query, what, "query", c.dtype(), query.shape,
                                  "(the cache's element type)"))
    return std::move(e);
  auto hq = packed ? checkPackedCacheQuery(g, query, attn, what)
                   : checkCacheQuery(g, query, attn, what);
  if (!hq)
    return hq.takeError();
  // [B, Hq, Sq, ...] or packed [T, Hq, ...].
  llvm::SmallVector<int64_t, 4> rows = {n, *hq, packed ? 0 : query.shape[2]};
  if (packed)
    rows = {query.shape[0], *hq};
  llvm::SmallVector<int64_t, 4> outShape(rows);
  outShape.push_back(g.valueDim);
  if (llvm::Error e = checkBuffer(output, what, "output", query.dtype, outShape,
                                  packed ? "[T, Hq, Dv]" : "[B, Hq, Sq, Dv]"))
    return std::move(e);
  if (lse)
    if (llvm::Error e = checkBuffer(*lse, what, "lse", DType::F32, rows,
                                    packed ? "[T, Hq]" : "[B, Hq, Sq]"))
      return std::move(e);
  if (sinks)
    if (llvm::Error e =
            checkBuffer(*sinks, what, "sinks", DType::F32, {*hq}, "[Hq]"))
      return std::move(e);
  for (auto [b, name] :
       {std::pair{&query, "query"}, {&output, "output"}, {lse, "lse"}})
    if (b)
      if (llvm::Error e = checkInnerStride(*b, what, name))
        return std::move(e);
  return *hq;
}

llvm::Expected<KvStepper::AttentionStart> KvStepper::startAttention(
    llvm::ArrayRef<SeqId> seqs, const BufferRef &query,
    const BufferRef *offsets, const BufferRef &output, const BufferRef *lse,
    const BufferRef *sinks, const RotaryEmbedding *rope,
    const CacheAttentionOptions &attn, llvm::StringRef what) {
  if (llvm::Error e = checkBackend(what))
    return std::move(e);
  AttentionStart start;
  int64_t n = static_cast<int64_t>(seqs.size());
  if (options.backend == StepBackend::Compiled && n > 0) {
    auto k =
        decodeKernel(query, output, lse, sinks, rope, attn, offsets ? n : -1);
    if (!k)
      return k.takeError();
    start.kernel = *k;
  }
  auto batch = kvCache.prepareStep(seqs, 0);
  if (!batch)
    return batch.takeError();
  start.batch = *batch;
  if (llvm::Error e = checkDisjointAttention(*start.batch, query, offsets,
                                             output, lse, sinks, rope, what))
    return std::move(e);
  return start;
}

llvm::Error KvStepper::decodeStep(llvm::ArrayRef<SeqId> seqs,
                                  const BufferRef &query,
                                  const BufferRef &output,
                                  const CacheAttentionOptions &attn,
                                  const BufferRef *lse, const BufferRef *sinks,
                                  const RotaryEmbedding *rope) {
  const char *what = "decodeStep";
  int64_t n = static_cast<int64_t>(seqs.size());
  auto hq = checkAttentionBuffers(n, query, output, lse, sinks, attn, what,
                                  /*packed=*/false);
  if (!hq)
    return hq.takeError();
  int64_t sq = query.shape[2], dv = kvCache.valueDim();
  if (rope)
    if (llvm::Error e = checkRotaryInputs(*rope, what, "query", seqs, {}, sq))
      return e;
  auto start = startAttention(seqs, query, nullptr, output, lse, sinks, rope,
                              attn, what);
  if (!start)
    return start.takeError();
  const KvBatch &b = *start->batch;
  if (start->kernel)
    return runAttention(start->kernel, b, query, nullptr, output, lse, sinks,
                        rope);
  auto ref =
      referenceCacheAttention(b.attentionOperands(), query, attn, sinks, rope);
  if (!ref)
    return ref.takeError();
  auto os = output.effectiveStrides();
  for (int64_t i = 0; i < n * *hq * sq; ++i) {
    int64_t q = i % sq, h = (i / sq) % *hq, bi = i / (sq * *hq);
    for (int64_t d = 0; d < dv; ++d)
      storeFromDouble(output, bi * os[0] + h * os[1] + q * os[2] + d * os[3],
                      ref->output[i * dv + d]);
    if (lse) {
      auto ls = lse->effectiveStrides();
      storeFromDouble(*lse, bi * ls[0] + h * ls[1] + q * ls[2], ref->lse[i]);
    }
  }
  return llvm::Error::success();
}

llvm::Error KvStepper::checkDisjointAttention(
    const KvBatch &b, const BufferRef &query, const BufferRef *offsets,
    const BufferRef &output, const BufferRef *lse, const BufferRef *sinks,
    const RotaryEmbedding *rope, llvm::StringRef what) {
  return rt::checkDisjoint({{"output", &output, true},
                            {"lse", lse, true},
                            {"query", &query, false},
                            {"query_offsets", offsets, false},
                            {"sinks", sinks, false},
                            {"rotary_cos", rope ? &rope->cos : nullptr, false},
                            {"rotary_sin", rope ? &rope->sin : nullptr, false},
                            {"the key cache", &b.keyCache, false},
                            {"the value cache", &b.valueCache, false}},
                           what);
}

llvm::Error
KvStepper::runAttention(const StepKernel &kernel, const KvBatch &b,
                        const BufferRef &query, const BufferRef *offsets,
                        const BufferRef &output, const BufferRef *lse,
                        const BufferRef *sinks, const RotaryEmbedding *rope) {
  // ABI order (CacheKernels.h): query, caches, lengths, [query_offsets],
  // [block_table], [sinks], [rotary tables], output, [lse].
  llvm::SmallVector<BufferRef, 10> buffers = {query, b.keyCache, b.valueCache,
                                              b.lengthsAfter};
  llvm::SmallVector<rt::GpuBufferUse, 10> uses = {{"query", false},
                                                  {"key_cache", false},
                                                  {"value_cache", false},
                                                  {"cache_lengths", false}};
  auto add = [&](const BufferRef *buf, const char *name, bool written) {
    if (buf) {
      buffers.push_back(*buf);
      uses.push_back({name, written});
    }
  };
  add(offsets, "query_offsets", false);
  add(b.blockTable ? &*b.blockTable : nullptr, "block_table", false);
  add(sinks, "sinks", false);
  add(rope ? &rope->cos : nullptr, "rotary_cos", false);
  add(rope ? &rope->sin : nullptr, "rotary_sin", false);
  add(&output, "output", true);
  add(lse, "lse", true);
  return runKernel(kernel, buffers, uses);
}
