//===- Pipelines.cpp - attn's named pipelines and pass registration -------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::attn;

int64_t mlir::attn::hostVectorWidth() {
  auto features = llvm::sys::getHostCPUFeatures();
  return features.lookup("avx512f") ? 16 : 8;
}

void mlir::attn::buildAttnToCpuPipeline(OpPassManager &pm,
                                        const CpuPipelineOptions &opts) {
  int64_t width = opts.vectorWidth > 0 ? opts.vectorWidth : hostVectorWidth();
  // Naive attention in linalg becomes attn.attention first; a no-op (one
  // walk over linalg contractions) for IR without that pattern.
  pm.addNestedPass<func::FuncOp>(createAttnRaiseAttention());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createAttnLowerCacheOps(
      {opts.tileRows, opts.tileKv, opts.kvSplits, opts.parallelism}));

  // attn: flash tiling, mask-aware iteration, vector code for the tiles.
  pm.addPass(createAttnTileFlash(
      {opts.tileRows, opts.tileKv, opts.kvSplits, opts.parallelism}));
  OpPassManager &funcs = pm.nest<func::FuncOp>();
  funcs.addPass(createAttnMaskAwareIteration());
  // Two vectors per row of accumulators; leave registers for the loads.
  int64_t microRows =
      opts.microRows > 0 ? opts.microRows : (width >= 16 ? 8 : 4);
  funcs.addPass(createAttnVectorizeTiles({width, microRows}));

  // Whatever tensors remain (function boundaries, region bodies) become
  // buffers; then the work-item loop is handed to the runtime (before any
  // canonicalization could fold a single-item loop away).
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createAttnParallelToRuntime());

  OpPassManager &late = pm.nest<func::FuncOp>();
  late.addPass(createConvertLinalgToLoopsPass());
  late.addPass(createAttnApproximateMath());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  buildLowerToLLVMPipeline(pm);
}

void mlir::attn::buildLowerToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(createConvertVectorToSCFPass(
      VectorTransferToSCFOptions().enableFullUnroll()));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
struct CpuPipelineCLOptions : public PassPipelineOptions<CpuPipelineCLOptions> {
  Option<int64_t> tileRows{*this, "tile-rows",
                           llvm::cl::desc("query rows per work item"),
                           llvm::cl::init(64)};
  Option<int64_t> tileKv{*this, "tile-kv", llvm::cl::desc("keys per KV tile"),
                         llvm::cl::init(64)};
  Option<int64_t> vectorWidth{*this, "vector-width",
                              llvm::cl::desc("f32 lanes per vector (0: host)"),
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
};

struct NvvmPipelineCLOptions
    : public PassPipelineOptions<NvvmPipelineCLOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("GPU chip (sm_80, sm_90, sm_90a)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX feature (+ptx80)"),
                               llvm::cl::init("+ptx80")};
  Option<std::string> format{*this, "format",
                             llvm::cl::desc("isa (PTX), bin (cubin) or fatbin"),
                             llvm::cl::init("isa")};
  Option<std::string> toolkit{*this, "toolkit",
                              llvm::cl::desc("CUDA toolkit path (for ptxas)"),
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
  Option<std::string> mma{
      *this, "mma",
      llvm::cl::desc("tensor-core instructions: auto (wgmma on sm_90a where "
                     "the shape allows), sync or wgmma"),
      llvm::cl::init("auto")};
};
} // namespace

void mlir::attn::registerAttnPassesAndPipelines() {
  registerAttnPasses();
  PassPipelineRegistration<CpuPipelineCLOptions>(
      "attn-to-cpu",
      "Lower attn ops to LLVM dialect for the host CPU (flash tiling, mask-"
      "aware iteration, vectorization, runtime work-item parallelism)",
      [](OpPassManager &pm, const CpuPipelineCLOptions &cl) {
        CpuPipelineOptions opts;
        opts.tileRows = cl.tileRows;
        opts.tileKv = cl.tileKv;
        opts.vectorWidth = cl.vectorWidth;
        opts.microRows = cl.microRows;
        opts.kvSplits = cl.kvSplits;
        opts.parallelism = cl.parallelism;
        buildAttnToCpuPipeline(pm, opts);
      });
  PassPipelineRegistration<NvvmPipelineCLOptions>(
      "attn-to-nvvm",
      "Lower attn ops to FlashAttention-2 GPU kernels (tensor cores, "
      "cp.async staging, split-KV decode) and serialize them to PTX or a "
      "cubin in a gpu.binary; the host function keeps the launches",
      [](OpPassManager &pm, const NvvmPipelineCLOptions &cl) {
        NvvmPipelineOptions opts;
        opts.chip = cl.chip;
        opts.features = cl.features;
        opts.format = cl.format;
        opts.toolkit = cl.toolkit;
        opts.kvSplits = cl.kvSplits;
        opts.numSms = cl.numSms;
        opts.tileKv = cl.tileKv;
        opts.warpRowTiles = cl.warpRowTiles;
        opts.stages = cl.stages;
        opts.mma = cl.mma;
        opts.keyWarps = cl.keyWarps;
        opts.tma = cl.tma;
        buildAttnToNvvmPipeline(pm, opts);
      });
}
