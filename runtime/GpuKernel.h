//===- GpuKernel.h - CUDA kernels: launch plan, load, run ------*- C++ -*-===//
//
// The CUDA backend of the runtime. After the attn-to-nvvm pipeline the
// kernel module holds
//
//   func.func @attention(<the KernelBuilder ABI memrefs>) {
//     arith.constant ...                          (index / i32 / i64 / f32)
//     memref.cast %arg : <strided> to <static identity>
//     memref.alloc() : memref<static>             (device scratch)
//     memref.alloc() {attn.tensor_map = #attn.tensor_map<...>}
//         : memref<16xi64>                        (a CUtensorMap in scratch)
//     gpu.launch_func @attn_gpu::@k blocks in (...) threads in (...)
//         [dynamic_shared_memory_size %c] args(...)   (one or more, in order)
//     return
//   }
//   gpu.binary @attn_gpu [#gpu.object<#nvvm.target<...>, "PTX or cubin">]
//
// extractGpuKernel (GpuLaunchPlan.cpp) reads that straight-line host code
// as a launch plan;
// nothing of it is compiled for the host. The binary is loaded with the
// CUDA driver (runtime/cuda) on first use, so compiling needs no GPU and a
// machine without one reports "no CUDA device: ..." at load/run time.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_GPUKERNEL_H
#define ATTN_RUNTIME_GPUKERNEL_H

#include "runtime/AttentionArgs.h"
#include "runtime/KernelSignature.h"
#include "runtime/cuda/CudaDriver.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mlir::attn::rt {

/// A value the runtime computes per call from the buffers' run-time sizes
/// (kernels compiled with `?` dims): one node of an expression DAG read
/// from the host code's memref.dim and index arithmetic. Nodes refer only
/// to earlier nodes, so evaluating them in order is enough.
struct GpuExpr {
  enum class Op {
    Const, ///< `value`
    Dim,   ///< dim `dim` of kernel buffer `value` (ABI order)
    Add,
    Sub,
    Mul,
    DivU,
    DivS,
    RemU,
    RemS,
    CeilDivS,
    MinS,
    MaxS,
    /// Comparisons (1 or 0) of `lhs` and `rhs`: run-time checks.
    CmpEq,
    CmpNe,
    CmpSlt,
    CmpSle,
    CmpSgt,
    CmpSge,
    /// Flash-decoding's split count: gpuKvSplits(lhs = thread blocks of
    /// the unsplit grid, rhs = the most splits worth it, the device's SM
    /// count or, without one, `value`: the pipeline's). From
    /// `func.call @attn_gpu_kv_splits` in the host code.
    KvSplits,
  };
  Op op = Op::Const;
  int64_t value = 0;
  int64_t dim = 0;
  int lhs = -1, rhs = -1; ///< operand nodes of the binary ops
};

/// One kernel parameter of a launch.
struct GpuParam {
  enum class Kind {
    Buffer,  ///< device pointer of kernel buffer `index` (ABI order)
    Scratch, ///< device pointer of scratch buffer `index`
    I32,     ///< 32-bit scalar (i32 or f32 bits) in `bits`
    I64,     ///< 64-bit scalar (i64 or index) in `bits`
    Expr,    ///< 64-bit scalar: the value of expression node `index`
  };
  Kind kind;
  int64_t index = 0;
  uint64_t bits = 0;
};

/// A scratch buffer that holds a CUtensorMap (128 bytes) over a kernel
/// buffer, encoded and uploaded before the launches whenever the buffer's
/// address changes. From the verified #attn.tensor_map (AttnAttrs.td) of
///   memref.alloc() {attn.tensor_map = #attn.tensor_map<...>}
///       : memref<16xi64>
struct GpuTensorMap {
  int64_t scratch = 0;           ///< scratch buffer index
  int64_t source = 0;            ///< kernel buffer (ABI order)
  std::string role;              ///< the source's name, for messages
  int dataType = 0;              ///< CUtensorMapDataType
  std::vector<uint64_t> dims;    ///< innermost first
  std::vector<uint64_t> strides; ///< bytes, dims 1..rank-1
  std::vector<uint32_t> box;
  int swizzle = 0; ///< CUtensorMapSwizzle

  /// Dims and strides of 0 are run-time sizes: the dense source buffer of
  /// `shape`, dims reversed (innermost first).
  bool runTime() const;
  /// The dims and strides to encode for a source of `sourceShape` (the
  /// static ones, or with run-time entries the source's); an error names
  /// a size that contradicts a static entry.
  llvm::Error resolve(llvm::ArrayRef<int64_t> sourceShape,
                      std::vector<uint64_t> &outDims,
                      std::vector<uint64_t> &outStrides) const;
  /// What the driver encodes at `address` with resolved dims and strides.
  cuda::TensorMapDesc describe(uint64_t address,
                               llvm::ArrayRef<uint64_t> resolvedDims,
                               llvm::ArrayRef<uint64_t> resolvedStrides) const {
    cuda::TensorMapDesc desc;
    desc.dataType = dataType;
    desc.address = address;
    desc.dims = resolvedDims;
    desc.strides = resolvedStrides;
    desc.box = box;
    desc.swizzle = swizzle;
    return desc;
  }
};

/// A run-time size check of the host code, `cf.assert %cmp, "message"`
/// over a comparison of sizes: evaluated per call before any launch, a
/// failure is an error with the message and both sides' values.
struct GpuCheck {
  int node = -1; ///< the comparison
  std::string message;
};

struct GpuLaunch {
  std::string kernel; ///< function name in the binary
  std::array<unsigned, 3> grid{1, 1, 1};
  /// Per grid dim: an expression node (run-time sizes) or -1 (`grid`).
  std::array<int, 3> gridExpr{-1, -1, -1};
  std::array<unsigned, 3> block{1, 1, 1};
  unsigned sharedBytes = 0; ///< dynamic shared memory
  std::vector<GpuParam> params;
  /// A comparison node (`scf.if %cond { gpu.launch_func ... }` in the host
  /// code): the launch runs only where it holds; -1: always.
  int condExpr = -1;
  /// Resolved launches: false where `condExpr` did not hold (skipped).
  bool enabled = true;
};

/// What a CUDA kernel is: the binary and its launch plan. Device state
/// (module, functions, scratch, stream) is created on first use.
struct GpuKernelCode {
  std::string binary; ///< PTX text ("isa") or cubin/fatbin bytes
  std::string format; ///< "isa", "bin" or "fatbin"
  std::string chip;   ///< e.g. "sm_90"
  std::vector<int64_t> scratchBytes;
  /// Per scratch buffer: -1, or the node whose value times scratchBytes is
  /// its size per call (`memref.alloc(%n)`: partials of run-time size).
  std::vector<int> scratchExprs;
  std::vector<GpuLaunch> launches;
  std::vector<GpuTensorMap> tensorMaps;
  /// Run-time sizes: the expressions grids and scalar parameters read.
  std::vector<GpuExpr> exprs;
  /// Run-time size checks, in host-code order.
  std::vector<GpuCheck> checks;
  /// Kernel buffer names (ABI order), for messages.
  std::vector<std::string> bufferNames;

  GpuKernelCode();
  GpuKernelCode(GpuKernelCode &&);
  ~GpuKernelCode();

  /// Whether grids or parameters depend on the buffers' sizes.
  bool hasRunTimeSizes() const { return !exprs.empty(); }
  /// The size of scratch buffer `i` for `values` (evaluated nodes).
  int64_t scratchSize(size_t i, llvm::ArrayRef<int64_t> values) const {
    if (i >= scratchExprs.size() || scratchExprs[i] < 0)
      return scratchBytes[i];
    return scratchBytes[i] * values[scratchExprs[i]];
  }
  /// Total thread blocks over all launches (-1 with run-time sizes).
  int64_t totalBlocks() const;
  /// "k1 grid (a, b, c) block (x, y, z) smem N; k2 ..." for messages; a
  /// run-time grid dim prints as its expression (`ceildiv((query.dim2 *
  /// 4), 128)`), or its value for buffers of `shapes` when given.
  std::string
  planString(llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes = {}) const;
  /// The launches for buffers of `shapes` (ABI order): grids and scalar
  /// parameters evaluated. Errors name the size or grid dim that is out of
  /// range (every run-time size must be at least 1; grids within CUDA's
  /// limits) or the check that fails (GpuCheck). Needs no device. The
  /// split count (GpuExpr::Op::KvSplits) uses `numSms` when positive (the
  /// device's), else the pipeline's; `scratch`, when given, receives the
  /// bytes of each scratch buffer for this call.
  llvm::Expected<std::vector<GpuLaunch>>
  resolveLaunches(llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes,
                  int64_t numSms = 0,
                  std::vector<int64_t> *scratch = nullptr) const;
  /// Expression `node` as text (messages, plans).
  std::string exprString(int node) const;

  struct DeviceState;
  std::unique_ptr<DeviceState> device; ///< null until loaded
  std::mutex mutex;                    ///< guards `device` and runs
};

/// Reads the launch plan and binary of a module lowered by the
/// attn-to-nvvm pipeline (or any module obeying the contract above).
/// `sig` gives the expected buffers.
llvm::Expected<GpuKernelCode> extractGpuKernel(ModuleOp module,
                                               llvm::StringRef funcName,
                                               const KernelSignature &sig);

/// Runs `lower` on `module`, then extracts the kernel.
llvm::Expected<GpuKernelCode> compileGpuKernel(
    ModuleOp module, llvm::StringRef funcName, const KernelSignature &sig,
    llvm::function_ref<void(OpPassManager &)> lower, double &lowerMs);

/// Options of one queued call.
struct GpuEnqueueOptions {
  /// CUstream to queue on; null: the kernel's own stream.
  void *stream = nullptr;
  /// Copy device-resident kv_lengths to the host and range-check them
  /// (one small synchronous copy). Benchmarks that validated the same
  /// buffer once may turn it off.
  bool checkKvLengths = true;
};

/// Loads the binary (once); "no CUDA device: ..." without a GPU.
llvm::Error loadGpuKernel(GpuKernelCode &code);

/// Validates `args` and queues the launches. Device buffers are used in
/// place; host buffers are not allowed here (use runGpuKernel).
llvm::Error enqueueGpuKernel(GpuKernelCode &code, const KernelSignature &sig,
                             const AttentionArgs &args,
                             const GpuEnqueueOptions &options);

/// Synchronous call: device buffers in place, host buffers staged through
/// device copies (inputs and outputs uploaded, outputs copied back); waits
/// for the kernel and reports its errors.
llvm::Error runGpuKernel(GpuKernelCode &code, const KernelSignature &sig,
                         const AttentionArgs &args);

/// One buffer of a kernel run by position (kernels whose ABI is not
/// attn.attention's, e.g. the KV-cache ops).
struct GpuBufferUse {
  const char *name; ///< for messages
  bool isOutput;    ///< host buffers are copied back after the run
};

/// runGpuKernel for buffers given in ABI order (no signature roles): dense
/// row-major buffers; device ones in place (16-byte aligned, inside their
/// allocation), host ones staged. Waits for the kernel.
llvm::Error runGpuKernelBuffers(GpuKernelCode &code,
                                llvm::ArrayRef<BufferRef> buffers,
                                llvm::ArrayRef<GpuBufferUse> uses);

/// Copies the buffers of `args` (host or device) into fresh device buffers
/// once, then times `runs` queued calls on the kernel's stream with CUDA
/// events after `warmup` untimed ones; milliseconds per call.
llvm::Expected<std::vector<double>> timeGpuKernel(GpuKernelCode &code,
                                                  const KernelSignature &sig,
                                                  const AttentionArgs &args,
                                                  int warmup, int runs);

} // namespace mlir::attn::rt

#endif
