//===- NvvmPipeline.cpp - the attn-to-nvvm pipeline -----------------------===//
//
// attn.attention -> attn-gpu-flash (host launches + gpu.module) -> NVVM ->
// gpu.binary. The host function is not lowered: the runtime reads its
// gpu.launch_func ops as the launch plan and loads the binary through the
// CUDA driver, so no MLIR GPU runtime library is involved.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

#ifndef ATTN_CUDA_TOOLKIT_DEFAULT
#define ATTN_CUDA_TOOLKIT_DEFAULT "/usr/local/cuda"
#endif

void mlir::attn::buildAttnToGpuKernelsPipeline(
    OpPassManager &pm, const NvvmPipelineOptions &opts) {
  pm.addPass(createCanonicalizerPass());
  // wgmma exists only on the arch-specific sm_90a target.
  std::string mma = opts.mma;
  if (mma == "auto" && opts.chip != "sm_90a")
    mma = "sync";
  pm.addPass(createAttnGpuFlash({opts.kvSplits, opts.numSms, opts.tileKv,
                                 opts.warpRowTiles, opts.stages, opts.keyWarps,
                                 opts.tma, mma}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::attn::buildGpuToBinaryPipeline(OpPassManager &pm,
                                          const NvvmPipelineOptions &opts) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createConvertNVGPUToNVVMPass());
  ConvertGpuOpsToNVVMOpsOptions toNvvm;
  // Kernel parameters are plain device pointers: the runtime passes the
  // buffers' data addresses, shapes are compile-time constants.
  toNvvm.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(toNvvm));
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());

  GpuNVVMAttachTargetOptions target;
  target.chip = opts.chip;
  target.features = opts.features;
  target.optLevel = opts.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));

  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath =
      opts.toolkit.empty() ? ATTN_CUDA_TOOLKIT_DEFAULT : opts.toolkit;
  binary.compilationTarget = opts.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::attn::buildAttnToNvvmPipeline(OpPassManager &pm,
                                         const NvvmPipelineOptions &opts) {
  buildAttnToGpuKernelsPipeline(pm, opts);
  buildGpuToBinaryPipeline(pm, opts);
}
