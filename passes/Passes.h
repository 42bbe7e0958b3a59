//===- Passes.h - attn passes and pipelines --------------------*- C++ -*-===//
#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Options of the `attn-to-cpu` pipeline.
struct CpuPipelineOptions {
  int64_t tileRows = 64;   ///< query rows per work item
  int64_t tileKv = 64;     ///< keys per KV tile
  int64_t vectorWidth = 0; ///< f32 lanes; 0: host (8 for AVX2, 16 AVX-512)
  int64_t microRows = 0;   ///< matmul register-block rows; 0: by width
  int64_t kvSplits = 0;    ///< cache attention KV splits; 0: cost model
  int64_t parallelism = 0; ///< cores the split cost model plans for; 0: host
};

/// attn (tensors or buffers) -> LLVM dialect for the host CPU. The kernel
/// functions end up taking `(..., index begin, index end)` work-item ranges
/// (see attn-parallel-to-runtime).
void buildAttnToCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &opts);

/// The upstream half of attn-to-cpu: vector, scf, memref, math, arith,
/// index, cf and func to the LLVM dialect.
void buildLowerToLLVMPipeline(OpPassManager &pm);

/// f32 lanes of the host's widest usable vector unit (16 with AVX-512F,
/// else 8).
int64_t hostVectorWidth();

/// Options of the `attn-to-nvvm` pipeline.
struct NvvmPipelineOptions {
  std::string chip = "sm_90";      ///< nvvm target chip (sm_80, sm_90, sm_90a)
  std::string features = "+ptx80"; ///< PTX ISA version feature
  /// gpu-module-to-binary format: "isa" (PTX, loadable by the driver's JIT;
  /// needs no toolkit), "bin" (cubin, runs ptxas) or "fatbin".
  std::string format = "isa";
  std::string toolkit;  ///< CUDA toolkit for ptxas; empty: ATTN_CUDA_TOOLKIT
  int64_t kvSplits = 0; ///< 0: cost model
  int64_t numSms = 132; ///< SMs the split cost model plans for
  int64_t tileKv = 0;   ///< keys per KV tile; 0: 64
  int64_t warpRowTiles = 0; ///< 16-row tiles per warp; 0: by shape
  int64_t stages = 0;       ///< K/V tiles in flight; 0: 2
  /// Tensor-core instructions: "auto" (wgmma on sm_90a where the shape
  /// allows, else mma.sync), "sync" or "wgmma".
  std::string mma = "auto";
  int64_t keyWarps = 0; ///< decode key-splitting warps; 0: by shape
  bool tma = true;      ///< wgmma kernels: K/V tiles by TMA
  int64_t optLevel = 3;
};

/// attn.attention -> host launches + gpu.module of kernels (attn-gpu-flash).
void buildAttnToGpuKernelsPipeline(OpPassManager &pm,
                                   const NvvmPipelineOptions &opts);
/// gpu.module -> NVVM -> gpu.binary (PTX or cubin in its #gpu.object).
void buildGpuToBinaryPipeline(OpPassManager &pm,
                              const NvvmPipelineOptions &opts);
/// Both halves: the `attn-to-nvvm` pipeline.
void buildAttnToNvvmPipeline(OpPassManager &pm,
                             const NvvmPipelineOptions &opts);

/// Registers the attn passes and the named pipelines (attn-to-cpu,
/// attn-to-nvvm).
void registerAttnPassesAndPipelines();

} // namespace mlir::attn

#endif
