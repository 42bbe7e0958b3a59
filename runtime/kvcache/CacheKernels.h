//===- CacheKernels.h - compiled attn cache-op kernels ---------*- C++ -*-===//
//
// Builds a one-op kernel function around attn.cache_append or
// attn.cache_attention, lowers it with the attn-to-cpu pipeline, JITs it,
// and caches the result by its key (op, buffer types, attributes) and
// options. The ABI is the op's
// memref operands in operand order, then (added by
// attn-parallel-to-runtime) the work-item range:
//
//   func.func @cache_append(%key, %value, %key_cache, %value_cache,
//                           %cache_lengths, %new_lengths[, %block_table]
//                           [, %rotary_cos, %rotary_sin])
//   func.func @cache_attention(%query, %key_cache, %value_cache,
//                              %cache_lengths[, %query_offsets]
//                              [, %block_table][, %sinks]
//                              [, %rotary_cos, %rotary_sin], %output[, %lse])
//
// Caller-facing buffers (key, value, query, output, lse) are
// `strided<[?, ?, ?, 1], offset: ?>` so that strided views need no copy;
// the cache's own buffers (pools, lengths, block tables) are always
// row-major and use identity layouts.
//
// Callers validate buffers first (KvStepper does): the kernels trust them.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_CACHEKERNELS_H
#define ATTN_RUNTIME_KVCACHE_CACHEKERNELS_H

#include "runtime/Buffer.h"
#include "runtime/DiskCache.h"
#include "runtime/GpuKernel.h"
#include "runtime/JitCompiler.h"
#include "runtime/Runtime.h"
#include "runtime/ThreadPool.h"
#include "runtime/kvcache/CacheReference.h"

#include "mlir/IR/Builders.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace mlir::attn::kv {

/// Options of the attn-to-cpu pipeline for cache kernels (part of the
/// kernel cache key).
struct CacheKernelOptions {
  int64_t tileRows = 64;   ///< query rows per work item
  int64_t tileKv = 64;     ///< keys per KV tile; a multiple or divisor of
                           ///< the page size
  int64_t vectorWidth = 0; ///< f32 lanes; 0: the host's
  int64_t kvSplits = 0;    ///< flash-decoding splits; 0: cost model
  /// LLVM CPU to generate code for (e.g. "x86-64-v3"); empty: the host.
  std::string cpu;
  std::string key() const;
};

/// How a kernel sees one buffer.
struct KernelBufferType {
  rt::DType dtype;
  /// kDynamicSize for a run-time size (batch, chunk or query length).
  llvm::SmallVector<int64_t, 4> shape;
  bool strided; ///< dynamic strides and offset, unit inner stride
};

/// "memref<2x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>".
std::string memrefType(const KernelBufferType &t);

/// A cache-op kernel function, built through OpBuilder (never printed and
/// re-parsed). `key` names it in the kernel cache: the op, every buffer
/// type and attribute.
struct KernelSource {
  std::string key;
  /// Builds the `func.func` at the builder's insertion point (a module
  /// body whose context has the attn, func and memref dialects loaded).
  std::function<void(OpBuilder &, Location)> build;
  /// The buffers' names in ABI order ("key_cache", ...): CUDA launch plans
  /// of run-time sizes name them in their errors.
  std::vector<std::string> bufferNames;
};

/// The kernel function for attn.cache_append over buffers of these types
/// (order: key, value, key_cache, value_cache, cache_lengths, new_lengths,
/// [block_table], [rotary_cos, rotary_sin]); `layout` is the pools' page
/// layout when paged; `rope` (with the two tables) rotates the keys, its
/// rotary dim twice the tables' width.
KernelSource appendKernelSource(llvm::ArrayRef<KernelBufferType> buffers,
                                PageLayout layout = PageLayout::NHD,
                                std::optional<RopeStyle> rope = std::nullopt);

/// The kernel function for attn.cache_attention (order: query, key_cache,
/// value_cache, cache_lengths, [query_offsets], [block_table], [sinks],
/// [rotary_cos, rotary_sin], output, [lse]); `rope` rotates the queries;
/// `packed`: a mixed batch, query [T, Hq, D] with query_offsets [B + 1].
KernelSource attentionKernelSource(llvm::ArrayRef<KernelBufferType> buffers,
                                   bool paged, bool withLse,
                                   const CacheAttentionOptions &options,
                                   PageLayout layout = PageLayout::NHD,
                                   bool withSinks = false,
                                   std::optional<RopeStyle> rope = std::nullopt,
                                   bool packed = false);

/// The kernel function for attn.merge_states (order: states, state_lse,
/// output, [lse]).
KernelSource mergeStatesKernelSource(llvm::ArrayRef<KernelBufferType> buffers,
                                     bool withLse);

/// One compiled kernel; runs may overlap (each gets its own split-KV
/// scratch).
class CacheKernel {
public:
  CacheKernel(std::string name, rt::CpuKernelCode code, rt::JitTimes times);
  /// Runs over `buffers` (in ABI order; already validated) on `pool`.
  llvm::Error run(llvm::ArrayRef<rt::BufferRef> buffers,
                  rt::ThreadPool &pool) const;
  /// Work items; -1 for a kernel of run-time sizes (counted per run).
  int64_t workItems() const { return code.workItems; }
  const std::string &name() const { return fnName; }
  const rt::JitTimes &compileTimes() const { return times; }

private:
  std::string fnName;
  rt::CpuKernelCode code;
  rt::JitTimes times;
};

using CacheKernelRef = std::shared_ptr<const CacheKernel>;

/// One cache-op kernel compiled for Target::Cuda (the attn-to-nvvm
/// pipeline; f16/bf16 caches). Loads on the device at first run.
class GpuCacheKernel {
public:
  GpuCacheKernel(std::string name, std::unique_ptr<rt::GpuKernelCode> code);
  ~GpuCacheKernel();
  /// Runs over `buffers` (ABI order, already validated; device buffers in
  /// place, host ones staged) and waits. "no CUDA device: ..." without one.
  llvm::Error run(llvm::ArrayRef<rt::BufferRef> buffers,
                  llvm::ArrayRef<rt::GpuBufferUse> uses) const;
  const std::string &name() const { return fnName; }
  /// The launches, e.g. "cache_append_... grid (...) block (...)"; with
  /// run-time sizes, grids as expressions, or their values for buffers of
  /// `shapes` (ABI order).
  std::string
  launchPlan(llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes = {}) const;

private:
  std::string fnName;
  std::unique_ptr<rt::GpuKernelCode> code;
};

using GpuCacheKernelRef = std::shared_ptr<const GpuCacheKernel>;

/// A thread-safe cache of compiled cache-op kernels. Concurrent requests
/// for one kernel compile it once; failures are not cached.
class CacheKernels {
public:
  /// With the disk kernel cache of $ATTN_CACHE_DIR (as RuntimeOptions
  /// without a cacheDir): compiled kernels are stored there and loaded by
  /// later processes.
  CacheKernels();
  /// With the disk cache in `cacheDir` (empty or "off": none).
  CacheKernels(std::optional<std::string> cacheDir, uint64_t maxBytes);
  ~CacheKernels();

  /// The kernel of function `name` in `source`, compiled with `options`
  /// (split cost model planning for `parallelism` cores).
  llvm::Expected<CacheKernelRef> get(llvm::StringRef name,
                                     const KernelSource &source,
                                     const CacheKernelOptions &options,
                                     int64_t parallelism);

  /// The same for Target::Cuda: `source` lowered by attn-to-nvvm with
  /// `options`' GPU fields; `buffers` are the kernel's buffer types in ABI
  /// order. Cached apart from CPU kernels (the key includes the target).
  llvm::Expected<GpuCacheKernelRef>
  getCuda(llvm::StringRef name, const KernelSource &source,
          llvm::ArrayRef<KernelBufferType> buffers,
          const rt::CompileOptions &options);

  struct Stats {
    int64_t compiles = 0;
    int64_t hits = 0;
    int64_t diskHits = 0; ///< loaded from the disk cache (not compiles)
  };
  Stats stats() const;

private:
  struct Entry;
  struct GpuEntry;
  mutable std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries;
  std::unordered_map<std::string, std::shared_ptr<GpuEntry>> gpuEntries;
  Stats counts;
  std::unique_ptr<rt::DiskCache> disk; ///< null: none
};

} // namespace mlir::attn::kv

#endif
