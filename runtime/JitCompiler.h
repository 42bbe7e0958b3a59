//===- JitCompiler.h - lower a kernel module and JIT it --------*- C++ -*-===//
//
// Turns a module holding the kernel ABI into host machine code with
// mlir::ExecutionEngine: LLVM -O3 tuned for the host CPU
// (JITTargetMachineBuilder::detectHost; without a host TargetMachine LLVM
// vectorises nothing).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_JITCOMPILER_H
#define ATTN_RUNTIME_JITCOMPILER_H

#include "runtime/Buffer.h"
#include "runtime/ThreadPool.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace mlir::attn::rt {

/// Registers LLVM's native target (code generator and assembly printer),
/// once per process. Safe to call from any thread.
void initializeRuntimeOnce();

/// The packed entry point: args[i] points to argument i (for a memref, to
/// the descriptor pointer), args[n] to `begin`, args[n + 1] to `end`.
using PackedKernelFn = void (*)(void **);

/// JIT code for one kernel; owns the code's memory.
struct CpuKernelCode {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  /// The relocatable object the JIT linked (what the disk cache stores).
  std::string object;
  PackedKernelFn entry = nullptr;
  /// Work items of a kernel with static sizes; -1 with run-time sizes.
  int64_t workItems = 0;
  /// Run-time sizes: the packed `<name>_work_items(buffers...)` and, when
  /// the kernel can split KV, `<name>_scratch_bytes(buffers...)` (args[i]
  /// points to buffer i's descriptor pointer, args[n] to the index
  /// result). The kernel then always takes a scratch argument, sized by
  /// the latter per run (possibly 0 bytes). Null for static kernels.
  PackedKernelFn workItemsFn = nullptr, scratchBytesFn = nullptr;
  /// Split-KV scratch bytes per work item (`<name>_scratch_bytes_per_item`);
  /// 0: the kernel takes no scratch argument. Otherwise each run passes a
  /// fresh zeroed `memref<?xi8>` of workItems × this after the buffers, so
  /// runs of one kernel share no memory and may overlap freely.
  int64_t scratchBytesPerItem = 0;
  /// A staged kernel (`<name>_stages`, attn-parallel-to-runtime): the end
  /// of each stage's items; stages run in order with a barrier between
  /// them. Empty: one stage of all items.
  std::vector<int64_t> stageEnds;
  /// `<name>_shared_bytes`: the scratch that lives across a staged
  /// kernel's stages (a layer's intermediate activations); 0: no such
  /// argument. Each run passes its own, after the split-KV scratch.
  int64_t sharedBytes = 0;
  /// Shared scratch blocks of finished runs, reused by the next ones: a
  /// fresh allocation of a layer's ~100 MB costs a page fault per page on
  /// every run. Null when sharedBytes is 0.
  std::unique_ptr<struct SharedScratchPool> sharedPool;

  CpuKernelCode();
  CpuKernelCode(CpuKernelCode &&);
  CpuKernelCode &operator=(CpuKernelCode &&);
  ~CpuKernelCode();
};

/// The work items `code` runs for `buffers` (static kernels: their count;
/// run-time sizes: what the kernel reports for these shapes, which is all
/// it reads of the buffers).
int64_t workItemsFor(const CpuKernelCode &code,
                     llvm::ArrayRef<BufferRef> buffers);

/// Calls `code`'s entry over its work items on `pool`, one call per chunk,
/// passing `buffers` (in ABI order) as memref descriptors and this run's
/// own scratch. Safe to call concurrently (with distinct pools,
/// or one pool, which then runs the calls one after another).
/// Fails only when the scratch cannot be allocated.
llvm::Error runKernelCode(const CpuKernelCode &code,
                          llvm::ArrayRef<BufferRef> buffers, ThreadPool &pool);

struct JitTimes {
  double lowerMs = 0;   ///< MLIR pass pipeline
  double jitMs = 0;     ///< LLVM IR translation, -O3, machine code, link
  double optMs = 0;     ///< of jitMs: translation + LLVM IR -O3
  double codegenMs = 0; ///< of jitMs: instruction selection to object code
};

/// Runs `lower` (which must end in the LLVM dialect) on `module`, then
/// translates it to LLVM IR, adds the packed entry `_mlir__mlir_ciface_<name>`
/// (and packed size functions of run-time sizes, see CpuKernelCode),
/// optimises it (-O3) and emits a relocatable object for the host CPU (or
/// `cpu`). The object depends on nothing of this process: it can be stored
/// and loaded by loadKernelObject in another one.
llvm::Expected<std::string>
compileKernelObject(ModuleOp module, llvm::StringRef name,
                    llvm::function_ref<void(OpPassManager &)> lower,
                    JitTimes &times, llvm::StringRef cpu = "");

/// Links `object` (from compileKernelObject) into a fresh LLJIT, with libc
/// and the soft-float helpers, and resolves the kernel's entry points.
llvm::Expected<CpuKernelCode> loadKernelObject(llvm::StringRef object,
                                               llvm::StringRef name);

/// compileKernelObject + loadKernelObject: runs `lower` on `module`, then JITs
/// it and resolves `_mlir_ciface_<name>`, `<name>_work_items` and, when
/// present, `<name>_scratch_bytes_per_item`. Pass and
/// translation failures come back as errors carrying the diagnostics.
/// `cpu` (e.g. "x86-64-v3") replaces the host CPU and its features; empty:
/// the host.
llvm::Expected<CpuKernelCode>
jitCompileKernel(ModuleOp module, llvm::StringRef name,
                 llvm::function_ref<void(OpPassManager &)> lower,
                 JitTimes &times, llvm::StringRef cpu = "");

} // namespace mlir::attn::rt

#endif
