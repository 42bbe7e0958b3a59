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
#include <string>
#include <unordered_map>

namespace mlir {
class OpPassManager;
class ModuleOp;
} // namespace mlir

namespace mlir::attn::rt {

struct CpuKernelCode;
struct KernelModule;

/// Options of the lowering (the attn-to-cpu pipeline); part of the cache key.
struct CompileOptions {
  int64_t tileRows = 64;   ///< query rows per work item
  int64_t tileKv = 64;     ///< keys per KV tile
  int64_t vectorWidth = 0; ///< f32 lanes; 0: the host's
  /// LLVM CPU name to generate code for instead of the host's (e.g.
  /// "x86-64-v3" to run AVX2 code on an AVX-512 machine). The host must
  /// support it. Empty: the host CPU and all its features.
  std::string cpu;
  std::string key() const;
};

struct CompileStats {
  double buildMs = 0; ///< spec/MLIR -> kernel module
  double lowerMs = 0; ///< pass pipeline
  double jitMs = 0;   ///< LLVM -O3 + machine code
  double totalMs() const { return buildMs + lowerMs + jitMs; }
};

/// A compiled kernel. Immutable and safe to run from several threads (runs
/// on one runtime's pool are serialised by the pool).
class Kernel {
public:
  ~Kernel();
  const KernelSignature &signature() const { return sig; }
  Target target() const { return Target::Cpu; }
  const CompileStats &compileStats() const { return stats; }
  /// Independent work items the kernel splits into.
  int64_t workItems() const;

  /// Validates `args` against the signature and runs the kernel on the
  /// compiling runtime's thread pool.
  llvm::Error run(const AttentionArgs &args) const;
  /// Same, on `pool`.
  llvm::Error run(const AttentionArgs &args, ThreadPool &pool) const;

private:
  friend class Runtime;
  Kernel(KernelSignature sig, std::unique_ptr<CpuKernelCode> code,
         CompileStats stats, std::shared_ptr<ThreadPool> pool);

  KernelSignature sig;
  std::unique_ptr<CpuKernelCode> code;
  CompileStats stats;
  std::shared_ptr<ThreadPool> pool;
};

using KernelRef = std::shared_ptr<const Kernel>;

struct RuntimeOptions {
  /// Threads running kernels, the caller included; 0: hardware threads.
  unsigned numThreads = 0;
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

  unsigned numThreads() const { return pool->numThreads(); }
  ThreadPool &threadPool() { return *pool; }

  struct CacheStats {
    int64_t hits = 0;
    int64_t compiles = 0; ///< kernels actually compiled (misses)
    int64_t entries = 0;
  };
  CacheStats cacheStats() const;
  void clearCache();

private:
  struct CacheEntry;
  llvm::Expected<KernelRef>
  jitKernel(ModuleOp module, KernelSignature sig,
            llvm::function_ref<void(OpPassManager &)> lower,
            llvm::StringRef cpu, double buildMs);
  llvm::Expected<KernelRef>
  lowerAndJit(KernelModule &km, const CompileOptions &opts, double buildMs);
  llvm::Expected<KernelRef>
  lookupOrCompile(const std::string &key,
                  llvm::function_ref<llvm::Expected<KernelRef>()> compileFn);

  std::shared_ptr<ThreadPool> pool;
  mutable std::mutex cacheMutex;
  std::unordered_map<std::string, std::shared_ptr<CacheEntry>> cache;
  std::atomic<int64_t> hits{0}, compiles{0};
};

} // namespace mlir::attn::rt

#endif
