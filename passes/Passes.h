//===- Passes.h - attn passes and pipelines --------------------*- C++ -*-===//
#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::attn {

/// Which tensor-core instructions the GPU kernels use.
enum class GpuMmaKind {
  Auto, ///< wgmma where the chip has it and the geometry allows, else sync
  Sync, ///< mma.sync (sm_80+)
  Wgmma ///< wgmma (sm_90a); an error where the geometry cannot use it
};

/// What gpu-module-to-binary puts in the #gpu.object.
enum class GpuBinaryFormat {
  Isa,   ///< PTX, loaded through the driver's JIT; needs no toolkit
  Bin,   ///< cubin (runs ptxas)
  Fatbin ///< fatbin (ptxas + fatbinary)
};

/// gpu-module-to-binary's name for `format` ("isa", "bin", "fatbin").
StringRef gpuBinaryFormatName(GpuBinaryFormat format);
/// The format named `name`, or nullopt.
std::optional<GpuBinaryFormat> parseGpuBinaryFormat(StringRef name);

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Options of the `attn-to-cpu` pipeline, for C++ callers and the command
/// line alike (each default stated once, here).
struct CpuPipelineOptions : PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> tileRows{*this, "tile-rows",
                           llvm::cl::desc("query rows per work item"),
                           llvm::cl::init(64)};
  Option<int64_t> tileKv{*this, "tile-kv", llvm::cl::desc("keys per KV tile"),
                         llvm::cl::init(64)};
  Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes per vector (0: host, 8 AVX2 / 16 AVX-512)"),
      llvm::cl::init(0)};
  Option<int64_t> kvSplits{
      *this, "kv-splits",
      llvm::cl::desc("cache attention KV splits (0: cost model)"),
      llvm::cl::init(0)};
  Option<int64_t> parallelism{
      *this, "parallelism",
      llvm::cl::desc("cores the split cost model plans for (0: host)"),
      llvm::cl::init(0)};
  Option<int64_t> microRows{
      *this, "micro-rows",
      llvm::cl::desc("matmul register-block rows (0: by vector width)"),
      llvm::cl::init(0)};
  Option<bool> amx{
      *this, "amx",
      llvm::cl::desc("bf16 Q·Kᵀ and P·V on AMX tiles (the target CPU must "
                     "have AMX-BF16, the process XTILEDATA permission)"),
      llvm::cl::init(false)};
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

/// Options of the `attn-to-nvvm` pipeline, for C++ callers and the command
/// line alike.
struct NvvmPipelineOptions : PassPipelineOptions<NvvmPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("GPU chip (sm_80, sm_90, sm_90a)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX ISA version feature"),
                               llvm::cl::init("+ptx80")};
  Option<GpuBinaryFormat> format{
      *this, "format", llvm::cl::desc("what the gpu.binary holds"),
      llvm::cl::init(GpuBinaryFormat::Isa),
      llvm::cl::values(
          clEnumValN(GpuBinaryFormat::Isa, "isa", "PTX (driver JIT)"),
          clEnumValN(GpuBinaryFormat::Bin, "bin", "cubin (ptxas)"),
          clEnumValN(GpuBinaryFormat::Fatbin, "fatbin", "fatbin"))};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit for ptxas (empty: ATTN_CUDA_TOOLKIT)"),
      llvm::cl::init("")};
  Option<int64_t> kvSplits{*this, "kv-splits",
                           llvm::cl::desc("KV splits (0: cost model)"),
                           llvm::cl::init(0)};
  Option<int64_t> numSms{*this, "num-sms",
                         llvm::cl::desc("SMs the split cost model plans for"),
                         llvm::cl::init(132)};
  Option<int64_t> tileKv{*this, "tile-kv",
                         llvm::cl::desc("keys per KV tile (0: 64)"),
                         llvm::cl::init(0)};
  Option<int64_t> warpRowTiles{
      *this, "warp-row-tiles",
      llvm::cl::desc("16-row mma tiles per warp (0: by shape)"),
      llvm::cl::init(0)};
  Option<int64_t> stages{*this, "stages",
                         llvm::cl::desc("K/V tiles in flight (0: 2)"),
                         llvm::cl::init(0)};
  Option<int64_t> keyWarps{
      *this, "key-warps",
      llvm::cl::desc("decode key-splitting warps (0: by shape)"),
      llvm::cl::init(0)};
  Option<bool> tma{*this, "tma",
                   llvm::cl::desc("wgmma kernels: K/V tiles by the bulk "
                                  "tensor copy engine (else cp.async)"),
                   llvm::cl::init(true)};
  Option<GpuMmaKind> mma{
      *this, "mma", llvm::cl::desc("tensor-core instructions"),
      llvm::cl::init(GpuMmaKind::Auto),
      llvm::cl::values(
          clEnumValN(GpuMmaKind::Auto, "auto",
                     "wgmma on sm_90a where the shape allows, else sync"),
          clEnumValN(GpuMmaKind::Sync, "sync", "mma.sync (sm_80+)"),
          clEnumValN(GpuMmaKind::Wgmma, "wgmma", "wgmma (sm_90a)"))};
  Option<int64_t> bwdTileKeys{
      *this, "bwd-tile-keys",
      llvm::cl::desc("attn-gpu-backward: keys per block (64 or 128; 0: 64)"),
      llvm::cl::init(0)};
  Option<int64_t> bwdTileRows{
      *this, "bwd-tile-rows",
      llvm::cl::desc("attn-gpu-backward: query rows per tile (16, 32, 64; "
                     "0: by head dim)"),
      llvm::cl::init(0)};
  Option<int64_t> optLevel{*this, "opt-level",
                           llvm::cl::desc("NVVM optimization level"),
                           llvm::cl::init(3)};
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
