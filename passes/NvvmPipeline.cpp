//===- NvvmPipeline.cpp - the attn-to-nvvm pipeline -----------------------===//
//
// tensor functions -> attn-kernel-abi (the buffer kernel ABI) ->
// attn.attention -> attn-gpu-flash (host launches + gpu.module) -> NVVM ->
// gpu.binary. The host function is not lowered: the runtime reads its
// gpu.launch_func ops as the launch plan and loads the binary through the
// CUDA driver, so no MLIR GPU runtime library is involved.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "llvm/ADT/StringSwitch.h"

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
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::attn;

#ifndef ATTN_CUDA_TOOLKIT_DEFAULT
#define ATTN_CUDA_TOOLKIT_DEFAULT "/usr/local/cuda"
#endif

StringRef mlir::attn::gpuBinaryFormatName(GpuBinaryFormat format) {
  switch (format) {
  case GpuBinaryFormat::Isa:
    return "isa";
  case GpuBinaryFormat::Bin:
    return "bin";
  case GpuBinaryFormat::Fatbin:
    return "fatbin";
  }
  llvm_unreachable("unknown GpuBinaryFormat");
}

std::optional<GpuBinaryFormat>
mlir::attn::parseGpuBinaryFormat(StringRef name) {
  return llvm::StringSwitch<std::optional<GpuBinaryFormat>>(name)
      .Case("isa", GpuBinaryFormat::Isa)
      .Case("bin", GpuBinaryFormat::Bin)
      .Case("fatbin", GpuBinaryFormat::Fatbin)
      .Default(std::nullopt);
}

void mlir::attn::buildAttnToGpuKernelsPipeline(
    OpPassManager &pm, const NvvmPipelineOptions &opts) {
  // A plain tensor function gets the buffer ABI the runtime's wrapper
  // already has (which passes through unchanged).
  pm.addPass(createAttnKernelAbi());
  pm.addPass(createCanonicalizerPass());
  // wgmma exists only on the arch-specific sm_90a target.
  GpuMmaKind mma = opts.mma;
  if (mma == GpuMmaKind::Auto && opts.chip != "sm_90a")
    mma = GpuMmaKind::Sync;
  // The backward first: attn-gpu-flash refuses an attn.attention_grad
  // left in the module.
  pm.addPass(createAttnGpuBackward({opts.bwdTileKeys, opts.bwdTileRows}));
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
  binary.toolkitPath = opts.toolkit.empty()
                           ? std::string(ATTN_CUDA_TOOLKIT_DEFAULT)
                           : std::string(opts.toolkit);
  binary.compilationTarget = gpuBinaryFormatName(opts.format).str();
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::attn::buildAttnToNvvmPipeline(OpPassManager &pm,
                                         const NvvmPipelineOptions &opts) {
  buildAttnToGpuKernelsPipeline(pm, opts);
  buildGpuToBinaryPipeline(pm, opts);
}
