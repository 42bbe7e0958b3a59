//===- Pipelines.cpp - attn's named pipelines and pass registration -------===//
#include "passes/ModelPipeline.h"
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
  buildModelToCpuPipeline(pm, opts, /*raise=*/true, nullptr);
}

void mlir::attn::buildModelToCpuPipeline(
    OpPassManager &pm, const CpuPipelineOptions &opts, bool raise,
    llvm::function_ref<void(OpPassManager &)> afterBufferize) {
  int64_t width = opts.vectorWidth > 0 ? opts.vectorWidth : hostVectorWidth();
  // Layers become GEMMs around an attn.attention (a no-op without them).
  pm.addNestedPass<func::FuncOp>(createAttnDecomposeLayer());
  // Naive attention in linalg becomes attn.attention first; a no-op (one
  // walk over linalg contractions) for IR without that pattern.
  if (raise)
    pm.addNestedPass<func::FuncOp>(createAttnRaiseAttention());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createAttnLowerCacheOps(
      {opts.tileRows, opts.tileKv, opts.kvSplits, opts.parallelism}));

  // attn: flash tiling, mask-aware iteration, vector code for the tiles.
  pm.addPass(createAttnDifferentiateScoreMod());
  pm.addPass(createAttnTileFlash(
      {opts.tileRows, opts.tileKv, opts.kvSplits, opts.parallelism}));
  OpPassManager &funcs = pm.nest<func::FuncOp>();
  funcs.addPass(createAttnMaskAwareIteration());
  // Two vectors per row of accumulators; leave registers for the loads.
  int64_t microRows =
      opts.microRows > 0 ? opts.microRows : (width >= 16 ? 8 : 4);
  funcs.addPass(createAttnVectorizeTiles(
      {width, microRows, opts.amx, /*microCols=*/2, /*kUnroll=*/4}));

  // Whatever tensors remain (function boundaries, region bodies) become
  // buffers; then the work-item loop is handed to the runtime (before any
  // canonicalization could fold a single-item loop away).
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  if (afterBufferize)
    afterBufferize(pm);
  // Matmuls outside the attention (a model's projections) on the same
  // micro-kernel; a no-op without f32 linalg.matmul.
  // Their own register block, measured on the 2048 x 768 x 2304 QKV
  // projection (docs/performance.md): AVX-512 8 rows × 3 vectors (24 of
  // the 32 registers accumulate, 3 hold the B sliver; 14 × 2 and 6 × 4
  // were slower), AVX2 6 × 2 of 16; 4 K steps per loop iteration (8 %
  // faster than 1). Row blocks of whole micro-blocks,
  // items of 1024 rows × 4 slivers for the runtime's threads
  // (attn-parallel-to-runtime stages them around the attention).
  int64_t gemmRows = width >= 16 ? 8 : 6, gemmVecs = width >= 16 ? 3 : 2;
  int64_t sliver = gemmVecs * width;
  OpPassManager &contractions = pm.nest<func::FuncOp>();
  contractions.addPass(createAttnTileMatmul(
      {width, /*rowBlock=*/16 * gemmRows, /*colBlock=*/4 * sliver,
       /*depthBlock=*/1024, sliver, /*itemRows=*/1024,
       /*workItems=*/true}));
  contractions.addPass(createAttnVectorizeTiles(
      {width, gemmRows, /*amx=*/false, gemmVecs, /*kUnroll=*/4}));
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
  // AMX ops (attn-vectorize-tiles{amx}) lower with the vector dialect.
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.amx = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::attn::registerAttnPassesAndPipelines() {
  registerAttnPasses();
  PassPipelineRegistration<CpuPipelineOptions>(
      "attn-to-cpu",
      "Lower attn ops to LLVM dialect for the host CPU (flash tiling, mask-"
      "aware iteration, vectorization, runtime work-item parallelism)",
      buildAttnToCpuPipeline);
  PassPipelineRegistration<NvvmPipelineOptions>(
      "attn-to-nvvm",
      "Lower attn ops to FlashAttention-2 GPU kernels (tensor cores, "
      "cp.async staging, split-KV decode) and serialize them to PTX or a "
      "cubin in a gpu.binary; the host function keeps the launches",
      buildAttnToNvvmPipeline);
}
