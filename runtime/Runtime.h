//===- Runtime.h - compile attention kernels and run them ------*- C++ -*-===//
//
// The public entry point:
//
//   rt::Runtime runtime;                  // thread pool on all cores
//   auto kernel = runtime.compile(spec);  // cached by spec + options
//   if (!kernel) ... llvm::toString(kernel.takeError()) ...
//   rt::AttentionArgs args;
//   args.query = rt::BufferRef::contiguous(q, rt::DType::F32,
//                                          spec.queryShape());
//   ... key, value, output ...
//   if (llvm::Error e = (*kernel)->run(args)) ...
//
// Every failure (invalid spec, malformed MLIR, unavailable target, a buffer
// that does not match the kernel) is an llvm::Error naming the problem.
//
// The target is one argument: `runtime.compile(spec, Target::Cuda)` runs the
// attn-to-nvvm pipeline and keeps the PTX (no GPU needed to compile); the
// kernel loads on the device at first run, where a machine without one
// gets "no CUDA device: ...". CUDA kernels take device buffers
// (BufferRef::device) in place, or host buffers staged through copies.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_RUNTIME_H
#define ATTN_RUNTIME_RUNTIME_H

#include "dialect/AttentionSpec.h"
#include "runtime/AttentionArgs.h"
#include "runtime/KernelSignature.h"
#include "runtime/Target.h"
#include "runtime/ThreadPool.h"

#include "llvm/Support/Error.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mlir {
class MLIRContext;
class OpPassManager;
class ModuleOp;
} // namespace mlir

namespace mlir::attn::rt {

class DiskCache;
struct CpuKernelCode;
struct GpuKernelCode;
struct KernelModule;
class Layer;
struct LayerWeights;

/// Options of the lowering (the attn-to-cpu pipeline); part of the cache key.
struct CompileOptions {
  int64_t tileRows = 64;   ///< query rows per work item
  int64_t tileKv = 64;     ///< keys per KV tile
  int64_t vectorWidth = 0; ///< f32 lanes; 0: the host's
  /// LLVM CPU name to generate code for instead of the host's (e.g.
  /// "x86-64-v3" to run AVX2 code on an AVX-512 machine). The host must
  /// support it. Empty: the host CPU and all its features.
  std::string cpu;
  /// bf16 Q·Kᵀ and P·V of prefill: "auto" (AMX tiles where the target CPU
  /// has AMX-BF16 and the OS grants the tile state, else f32 FMAs), "amx"
  /// (an error where unavailable) or "fma" (the f32 kernel's code).
  std::string bf16Matmul = "auto";

  // Target::Cuda (the attn-to-nvvm pipeline); the fields above are CPU only.
  /// NVVM chip ("sm_80", "sm_90", "sm_90a"); empty: sm_90a (wgmma
  /// kernels) when device 0 is a Hopper GPU, else sm_90.
  std::string gpuChip;
  /// "isa" (PTX, JIT-compiled by the driver at load; needs no toolkit),
  /// "bin" (cubin through ptxas) or "fatbin".
  std::string gpuFormat = "isa";
  /// Flash-decoding KV splits; 0: the pass's cost model.
  int64_t gpuKvSplits = 0;
  /// The backward (compileBackward): keys per block (64 or 128) and query
  /// rows per tile (16, 32 or 64); 0: attn-gpu-backward's choice.
  int64_t gpuBwdTileKeys = 0;
  int64_t gpuBwdTileRows = 0;

  /// compile(spec) of a static spec compiles (once) the kernel of
  /// `spec.withRunTimeSizes()` and returns a view of it that checks calls
  /// against the spec's own sizes, so specs differing only in batch, Sq or
  /// Skv share one compiled kernel. false: a kernel specialised to the
  /// spec's sizes (static tiles and split count; see docs/runtime.md for
  /// the speed difference). CUDA: the same, except where the GPU kernels
  /// take no run-time sizes (dropout) or `gpuKvSplits` asks for a
  /// split count, which needs static sizes.
  bool runTimeSizes = true;

  std::string key() const;    ///< cache key of the CPU fields
  std::string gpuKey() const; ///< cache key of the CUDA fields
};

/// How Kernel::enqueue queues a CUDA call.
struct EnqueueOptions {
  /// CUstream to queue on; null: the kernel's own stream.
  void *stream = nullptr;
  /// Copy device-resident kv_lengths to the host and range-check them (a
  /// small synchronous copy). Turn off only for buffers checked before.
  bool checkKvLengths = true;
};

struct CompileStats {
  double buildMs = 0;   ///< spec/MLIR -> kernel module
  double lowerMs = 0;   ///< pass pipeline
  double jitMs = 0;     ///< LLVM -O3 + machine code
  double optMs = 0;     ///< of jitMs: LLVM IR translation + -O3 (CPU)
  double codegenMs = 0; ///< of jitMs: instruction selection to object (CPU)
  /// Loaded from the disk cache: the fields above are those of the compile
  /// that stored it, and `loadMs` what this process spent (read, check,
  /// link).
  bool fromDisk = false;
  double loadMs = 0;
  double totalMs() const { return buildMs + lowerMs + jitMs; }
};

/// A compiled kernel. Immutable and safe to run from any number of threads
/// at once: a CPU run gets its own split-KV scratch (runs on one pool take
/// turns on it; give each caller thread a pool to overlap them); runs of
/// one CUDA kernel are serialised by the kernel, whose scratch buffers
/// they share.
class Kernel {
public:
  ~Kernel();
  const KernelSignature &signature() const { return sig; }
  Target target() const { return tgt; }
  const CompileStats &compileStats() const { return stats; }
  /// Independent work items the kernel splits into (CUDA: thread blocks
  /// over all launches); -1 for a kernel of run-time sizes, whose count
  /// depends on each call's buffers.
  int64_t workItems() const;

  /// Validates `args` against the signature and runs the kernel, returning
  /// when it is done. CPU: on the compiling runtime's thread pool, host
  /// buffers only. CUDA: on the kernel's stream; device buffers are used in
  /// place, host buffers are staged through device copies (uploaded, and
  /// outputs copied back); loads the module on first use.
  llvm::Error run(const AttentionArgs &args) const;
  /// Same, on `pool` (CPU; a CUDA kernel ignores it).
  llvm::Error run(const AttentionArgs &args, ThreadPool &pool) const;
  /// CUDA only: validates and queues the call on a stream without waiting
  /// (device buffers only). Calls of one kernel on different streams are
  /// ordered after one another (they share scratch).
  llvm::Error enqueue(const AttentionArgs &args,
                      const EnqueueOptions &options = {}) const;
  /// CUDA only: loads the module now (otherwise at first run); the place
  /// where "no CUDA device: ..." shows up.
  llvm::Error load() const;
  /// CUDA only: copies `args` (host or device buffers) to fresh device
  /// buffers once, then times `runs` calls on the kernel's stream with CUDA
  /// events after `warmup` untimed ones; milliseconds per call.
  llvm::Expected<std::vector<double>> timeOnDevice(const AttentionArgs &args,
                                                   int warmup, int runs) const;

  /// CUDA only: the gpu.binary payload (PTX text for format "isa", cubin
  /// bytes for "bin"); empty for CPU kernels.
  llvm::StringRef gpuBinary() const;
  /// CUDA only: the launches, e.g. "attention_flash grid (8, 4, 1) block
  /// (128, 1, 1) smem 49152"; empty for CPU kernels.
  std::string gpuLaunchPlan() const;

private:
  friend class Runtime;
  /// `code` may be shared: a view (CompileOptions::runTimeSizes) runs the
  /// code of a kernel of run-time sizes under a static signature.
  Kernel(KernelSignature sig, std::shared_ptr<const CpuKernelCode> code,
         CompileStats stats, std::shared_ptr<ThreadPool> pool);
  /// A CUDA kernel; `code` is shared by the views of a kernel of run-time
  /// sizes.
  Kernel(KernelSignature sig, std::shared_ptr<GpuKernelCode> code,
         CompileStats stats);

  KernelSignature sig;
  Target tgt = Target::Cpu;
  std::shared_ptr<const CpuKernelCode> code;
  std::shared_ptr<GpuKernelCode> gpuCode;
  int64_t items = -1; ///< CPU: workItems()
  CompileStats stats;
  std::shared_ptr<ThreadPool> pool;
};

using KernelRef = std::shared_ptr<const Kernel>;

struct RuntimeOptions {
  /// `RuntimeOptions{4}`: four threads, the other fields as below.
  RuntimeOptions(unsigned numThreads = 0) : numThreads(numThreads) {}

  /// Threads running kernels, the caller included; 0: hardware threads.
  unsigned numThreads = 0;
  /// Persistent kernel cache directory (runtime/DiskCache.h). Unset: the
  /// environment variable ATTN_CACHE_DIR, else $XDG_CACHE_HOME/attn or
  /// ~/.cache/attn. Empty or "off" (here or in the variable) disables it.
  std::optional<std::string> cacheDir;
  /// Size bound of that directory; least recently used entries go first.
  uint64_t cacheMaxBytes = uint64_t(1) << 30;
};

/// Compiles and caches kernels; owns the thread pool they run on.
/// Thread-safe: concurrent compiles of one key compile once.
class Runtime {
public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();

  /// Compiles `spec` for `target`.
  llvm::Expected<KernelRef> compile(const AttentionSpec &spec,
                                    Target target = Target::Cpu,
                                    const CompileOptions &options = {});
  /// Compiles the backward of `spec` (attn.attention_grad, static sizes)
  /// for the CPU or CUDA: a kernel with the same run(args) taking query,
  /// key, value, [kv_lengths], output, grad_output and lse (the forward's,
  /// e.g. from a kernel compiled with spec.returnLse) and writing
  /// grad_query, grad_key and grad_value (signatureForBackwardSpec). On
  /// the CPU dQ, dK and dV are bit-identical run to run, whatever the
  /// thread count; on CUDA dK and dV are, dQ (f32 atomics) is not. CUDA
  /// takes f16/bf16, head dims that are multiples of 16 up to 128 (dv = d),
  /// full and causal masks; other options are errors naming them.
  llvm::Expected<KernelRef> compileBackward(const AttentionSpec &spec,
                                            Target target = Target::Cpu,
                                            const CompileOptions &options = {});
  /// Compiles the backward of the one attn.attention of `mlirText` (the
  /// forward's MLIR, as compileMlir takes it): compileBackward's kernel for
  /// the op's spec, with its score_mod region differentiated at compile
  /// time (attn-differentiate-score-mod). Static sizes; CUDA refuses
  /// score_mod / mask_mod regions (compileBackward's limits).
  llvm::Expected<KernelRef>
  compileBackwardMlir(llvm::StringRef mlirText, Target target = Target::Cpu,
                      const CompileOptions &options = {});
  /// Compiles additive (Bahdanau) attention (attn.additive_attention, CPU
  /// only: CUDA is refused): a kernel with the same run(args) taking the
  /// buffers of AdditiveSpec.h (query, key, value, query_weight,
  /// key_weight, score_weight, [bias], [score_bias], [kv_lengths],
  /// [bool_mask]) and writing output and, with returnWeights, weights.
  llvm::Expected<KernelRef> compileAdditive(const AdditiveSpec &spec,
                                            Target target = Target::Cpu,
                                            const CompileOptions &options = {});
  /// Compiles a multi-head attention layer (attn.multi_head_attention,
  /// CPU only: CUDA is refused) and binds `weights` to it (copied once,
  /// Layer.h): the layer's run(args) takes the activations only.
  llvm::Expected<std::shared_ptr<const Layer>>
  compileLayer(const LayerSpec &spec, const LayerWeights &weights,
               Target target = Target::Cpu, const CompileOptions &options = {});
  /// Compiles the one attn.attention of `mlirText` (see buildKernelModule).
  llvm::Expected<KernelRef> compileMlir(llvm::StringRef mlirText,
                                        Target target = Target::Cpu,
                                        const CompileOptions &options = {});
  /// Not cached: JITs `module`, which already holds the kernel ABI for
  /// `sig`, lowered by `lower` instead of the attn pipeline (tests of the
  /// JIT and pool plumbing, custom pipelines).
  llvm::Expected<KernelRef>
  compileModule(ModuleOp module, KernelSignature sig,
                llvm::function_ref<void(OpPassManager &)> lower,
                llvm::StringRef cpu = "");
  /// Not cached: the CUDA counterpart. `lower` must leave `module` in the
  /// launch-plan form of runtime/GpuKernel.h (host @attention of constants,
  /// casts, scratch allocs and gpu.launch_func; a gpu.binary), e.g. by
  /// ending in buildGpuToBinaryPipeline (hand-written GPU modules, tests).
  llvm::Expected<KernelRef>
  compileGpuModule(ModuleOp module, KernelSignature sig,
                   llvm::function_ref<void(OpPassManager &)> lower);

  unsigned numThreads() const { return pool->numThreads(); }
  ThreadPool &threadPool() { return *pool; }

  struct CacheStats {
    int64_t hits = 0;     ///< found in memory
    int64_t compiles = 0; ///< kernels actually compiled (misses)
    int64_t entries = 0;  ///< in memory
    int64_t diskHits = 0; ///< loaded from the disk cache, not compiled
  };
  CacheStats cacheStats() const;
  /// Empties the in-memory cache (the disk cache stays).
  void clearCache();
  /// The disk cache directory; empty when disabled.
  std::string diskCacheDir() const;

private:
  struct CacheEntry;
  llvm::Expected<KernelRef>
  jitKernel(ModuleOp module, KernelSignature sig,
            llvm::function_ref<void(OpPassManager &)> lower,
            llvm::StringRef cpu, double buildMs);
  llvm::Expected<KernelRef>
  lowerAndJit(KernelModule &km, const CompileOptions &opts, double buildMs);
  llvm::Expected<KernelRef>
  lowerForGpu(KernelModule &km, const CompileOptions &opts, double buildMs);
  /// A static spec served by the kernel of its run-time sizes.
  llvm::Expected<KernelRef> compileView(const AttentionSpec &spec,
                                        Target target,
                                        const CompileOptions &options);
  /// `compileFn` runs on a miss in memory; unless `view` (a kernel made of
  /// another one: neither counted as a compile nor stored on disk), it
  /// goes through the disk cache first.
  /// A CPU kernel built by `build` (compileAdditive, compileLayer), cached
  /// under `key`.
  llvm::Expected<KernelRef> compileCpuModule(
      const std::string &key, llvm::function_ref<KernelSignature()> signature,
      llvm::function_ref<llvm::Expected<KernelModule>(MLIRContext *)> build,
      const CompileOptions &options);
  llvm::Expected<KernelRef>
  lookupOrCompile(const std::string &key,
                  llvm::function_ref<KernelSignature()> signature,
                  llvm::function_ref<llvm::Expected<KernelRef>()> compileFn,
                  bool view = false);
  // The disk cache (KernelStore.cpp): a miss in memory looks there before
  // compiling, and stores what it compiled.
  llvm::Expected<KernelRef>
  loadOrCompile(const std::string &key,
                llvm::function_ref<KernelSignature()> signature,
                llvm::function_ref<llvm::Expected<KernelRef>()> compileFn);
  KernelRef loadFromDisk(const std::string &key,
                         llvm::function_ref<KernelSignature()> signature);
  void storeOnDisk(const std::string &key, const Kernel &kernel);

  std::shared_ptr<ThreadPool> pool;
  mutable std::mutex cacheMutex;
  std::unordered_map<std::string, std::shared_ptr<CacheEntry>> cache;
  std::atomic<int64_t> hits{0}, compiles{0}, diskHits{0};
  std::unique_ptr<DiskCache> disk; ///< null: disabled
};

} // namespace mlir::attn::rt

#endif
