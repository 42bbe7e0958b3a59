//===- KvSteps.h - append and decode steps over a KV cache -----*- C++ -*-===//
//
// The serving-engine face of the KV caches: one call appends a step's K/V
// rows for a ragged batch of sequences, another runs attention of the
// step's queries against the cache. Both go through the attn cache ops:
//
//   rt::Runtime runtime;
//   auto cache = cantFail(kv::PagedKvCache::create({.numPages = 4096,
//       .pageSize = 16, .maxPagesPerSeq = 256, .maxSequences = 64,
//       .numKvHeads = 8, .headDim = 128, .dtype = ElementType::BF16}));
//   kv::SeqId a = cantFail(cache->addSequence()), b = ...;
//   kv::KvStepper steps(*cache, runtime);
//   steps.appendStep({a, b}, k, v);        // k, v: [2, 8, 1, 128] bf16
//   steps.decodeStep({a, b}, q, out, {.mask = {.causal = true}});
//                                          // q, out: [2, 32, 1, 128] bf16
//
// Kernels (one per op and attributes: batch and lengths are run-time
// sizes on the CPU) are compiled on first use through the attn-to-cpu
// pipeline and cached; they run on the runtime's
// thread pool. StepBackend::Reference runs the float64 reference instead,
// with the same checks and bookkeeping.
//
// A cache whose pools live in device memory (config.memory =
// MemorySpace::Device) runs the same ops compiled for Target::Cuda (the
// attn-to-nvvm pipeline, `StepOptions::gpu`): the pools are used in place,
// the step's small host arrays (lengths, block table) and host q / new K/V /
// output buffers are staged through device copies. Device caches have no
// reference backend (the float64 reference reads host memory).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_KVSTEPS_H
#define ATTN_RUNTIME_KVCACHE_KVSTEPS_H

#include "runtime/Runtime.h"
#include "runtime/kvcache/CacheKernels.h"
#include "runtime/kvcache/CacheReference.h"
#include "runtime/kvcache/KvCache.h"

#include <memory>

namespace mlir::attn::kv {

enum class StepBackend {
  Compiled,  ///< JIT kernels of attn.cache_append / attn.cache_attention
  Reference, ///< the float64 reference (tests, debugging)
};

struct StepOptions {
  StepBackend backend = StepBackend::Compiled;
  CacheKernelOptions compile;
  /// Target::Cuda options (chip, format, splits) for device-memory caches.
  rt::CompileOptions gpu;
  /// Kernels (CPU and CUDA) take the batch and chunk/query length at run
  /// time (one kernel per kind serves a continuous-batching loop; Sq = 1
  /// decode stays its own kind). false: one kernel per shape.
  bool runTimeSizes = true;
};

class KvStepper {
public:
  /// `kernels` may be shared between steppers (and caches); null: a private
  /// kernel cache.
  KvStepper(KvCache &cache, rt::Runtime &runtime, StepOptions options = {},
            std::shared_ptr<CacheKernels> kernels = nullptr);

  /// Appends `key` [B, Hkv, Snew, D] and `value` [B, Hkv, Snew, Dv] (the
  /// cache's element type) to `seqs`, then counts the rows in the lengths.
  /// `newLengths` (one per sequence, each <= Snew) appends fewer rows to
  /// some sequences (ragged chunked prefill); empty: all Snew rows.
  /// `rope`, if given, rotates each key row by its position (the
  /// sequence's length before the step plus the row) before it is written
  /// (Rotary.h); every such position must be in the tables. On an error
  /// nothing changes.
  llvm::Error appendStep(llvm::ArrayRef<SeqId> seqs, const rt::BufferRef &key,
                         const rt::BufferRef &value,
                         llvm::ArrayRef<int32_t> newLengths = {},
                         const RotaryEmbedding *rope = nullptr);

  /// Attention of `query` [B, Hq, Sq, D] (the cache's element type) against
  /// `seqs`, whose last Sq tokens the queries are (so append them first):
  /// writes `output` [B, Hq, Sq, Dv] (query's type) and, if given, `lse`
  /// [B, Hq, Sq] f32. Hq must be a multiple of Hkv (GQA). `sinks`, if
  /// given, is [Hq] f32 attention-sink logits (attn.cache_attention).
  /// `rope`, if given, rotates query q by its position length - Sq + q (the
  /// keys were rotated by appendStep); each non-empty sequence needs Sq <=
  /// length <= max_pos. The cache does not change.
  llvm::Error decodeStep(llvm::ArrayRef<SeqId> seqs, const rt::BufferRef &query,
                         const rt::BufferRef &output,
                         const CacheAttentionOptions &options = {},
                         const rt::BufferRef *lse = nullptr,
                         const rt::BufferRef *sinks = nullptr,
                         const RotaryEmbedding *rope = nullptr);

  /// Attention over a mixed batch in one launch (FlashInfer POD,
  /// FlashAttention varlen): prefill chunks next to decode tokens.
  /// `query` [T, Hq, D] is packed: sequence i owns rows
  /// [queryOffsets[i], queryOffsets[i + 1]) (`queryOffsets`, B + 1
  /// entries, cumulative: vLLM's query_start_loc, FlashAttention's
  /// cu_seqlens_q), its n_i queries being its last n_i tokens (append them
  /// first: appendStep with newLengths n_i). Writes `output` [T, Hq, Dv]
  /// and, if given, `lse` [T, Hq] f32. The offsets must start at 0, never
  /// decrease, give no sequence more queries than tokens and end at T.
  /// Options, sinks and rope as in decodeStep. Device caches run one CUDA
  /// launch (no sinks or rope there yet: the compile names them).
  llvm::Error mixedStep(llvm::ArrayRef<SeqId> seqs, const rt::BufferRef &query,
                        llvm::ArrayRef<int32_t> queryOffsets,
                        const rt::BufferRef &output,
                        const CacheAttentionOptions &options = {},
                        const rt::BufferRef *lse = nullptr,
                        const rt::BufferRef *sinks = nullptr,
                        const RotaryEmbedding *rope = nullptr);

  KvCache &cache() { return kvCache; }
  /// True when the cache's pools are in device memory (CUDA kernels).
  bool onDevice() const;
  /// True when kernels take run-time sizes (StepOptions::runTimeSizes,
  /// unless a fixed CUDA split count asks for per-shape kernels).
  bool runTimeSizes() const;
  CacheKernels &kernels() { return *kernelCache; }

private:
  /// What, besides the cache and the options, selects a kernel: looked up
  /// without building MLIR text, so steady-state steps allocate nothing.
  /// A rotary embedding's part of a kernel: style, table type and width
  /// (the table length is a run-time size).
  struct RopeKey {
    std::optional<RopeStyle> style;
    rt::DType dtype = rt::DType::F32;
    int64_t half = 0;
    bool operator==(const RopeKey &) const = default;
  };
  static RopeKey ropeKey(const RotaryEmbedding *rope);
  struct AppendKey {
    int64_t batch, snew;
    RopeKey rope;
    bool operator==(const AppendKey &) const = default;
  };
  struct DecodeKey {
    int64_t batch, heads, queries;
    bool withLse, withSinks;
    RopeKey rope;
    MaskSpec mask;
    std::optional<float> scale, softcap;
    bool packed = false; ///< mixed batch: [T, Hq, D] with query_offsets
    bool operator==(const DecodeKey &) const = default;
  };

  /// A kernel of either target (exactly one is set).
  struct StepKernel {
    CacheKernelRef cpu;
    GpuCacheKernelRef gpu;
    explicit operator bool() const { return cpu || gpu; }
  };
  llvm::Expected<StepKernel> compileKernel(llvm::StringRef name,
                                           const KernelSource &source,
                                           llvm::ArrayRef<KernelBufferType>);
  llvm::Error runKernel(const StepKernel &kernel,
                        llvm::ArrayRef<rt::BufferRef> buffers,
                        llvm::ArrayRef<rt::GpuBufferUse> uses);

  llvm::Expected<StepKernel> appendKernel(const rt::BufferRef &key,
                                          const rt::BufferRef &value,
                                          const RotaryEmbedding *rope);
  llvm::Expected<StepKernel>
  decodeKernel(const rt::BufferRef &query, const rt::BufferRef &output,
               const rt::BufferRef *lse, const rt::BufferRef *sinks,
               const RotaryEmbedding *rope, const CacheAttentionOptions &attn,
               int64_t packedBatch = -1);
  /// decodeStep's and mixedStep's checks of the caller's buffers
  /// (`packed`: mixedStep's [T, Hq, ...] forms); returns Hq.
  llvm::Expected<int64_t> checkAttentionBuffers(
      int64_t n, const rt::BufferRef &query, const rt::BufferRef &output,
      const rt::BufferRef *lse, const rt::BufferRef *sinks,
      const CacheAttentionOptions &attn, llvm::StringRef what, bool packed);
  /// The kernel (compiled backend; none for an empty batch) and the
  /// prepared batch of an attention step.
  struct AttentionStart {
    StepKernel kernel;
    const KvBatch *batch = nullptr;
  };
  /// What decodeStep and mixedStep (`offsets` given) do between their
  /// checks and the run: the backend check, the compile, prepareStep and
  /// the overlap checks; nothing changes before the compile succeeded.
  llvm::Expected<AttentionStart>
  startAttention(llvm::ArrayRef<SeqId> seqs, const rt::BufferRef &query,
                 const rt::BufferRef *offsets, const rt::BufferRef &output,
                 const rt::BufferRef *lse, const rt::BufferRef *sinks,
                 const RotaryEmbedding *rope, const CacheAttentionOptions &attn,
                 llvm::StringRef what);
  /// The attention kernel's buffers in ABI order, then the run.
  llvm::Error runAttention(const StepKernel &kernel, const KvBatch &b,
                           const rt::BufferRef &query,
                           const rt::BufferRef *offsets,
                           const rt::BufferRef &output,
                           const rt::BufferRef *lse, const rt::BufferRef *sinks,
                           const RotaryEmbedding *rope);
  /// Outputs overlapping inputs (or the cache) are refused.
  llvm::Error
  checkDisjointAttention(const KvBatch &b, const rt::BufferRef &query,
                         const rt::BufferRef *offsets,
                         const rt::BufferRef &output, const rt::BufferRef *lse,
                         const rt::BufferRef *sinks,
                         const RotaryEmbedding *rope, llvm::StringRef what);
  /// checkRotary, then that every sequence's rotated positions are in the
  /// tables: [length, length + appended[i]) for an append, [length -
  /// queries, length) for attention (`appended` empty).
  llvm::Error checkRotaryInputs(const RotaryEmbedding &rope,
                                llvm::StringRef what, llvm::StringRef rows,
                                llvm::ArrayRef<SeqId> seqs,
                                llvm::ArrayRef<int32_t> appended,
                                int64_t queries);
  PageLayout pageLayout() const;
  llvm::Error checkBackend(llvm::StringRef what) const;
  llvm::Error checkAppendInputs(int64_t batch, const rt::BufferRef &key,
                                const rt::BufferRef &value,
                                llvm::ArrayRef<int32_t> newLengths);

  KvCache &kvCache;
  rt::Runtime &runtime;
  StepOptions options;
  std::shared_ptr<CacheKernels> kernelCache;
  std::vector<int32_t> countScratch; ///< per-sequence append counts
  std::vector<std::pair<AppendKey, StepKernel>> appendKernels;
  std::vector<std::pair<DecodeKey, StepKernel>> decodeKernels;
};

} // namespace mlir::attn::kv

#endif
