//===- ModelPipeline.h - attn-to-cpu for whole imported models -*- C++ -*-===//
//
// attn-to-cpu, parameterised for whole models (attn-import-onnx --run,
// bench/onnx): `raise` = false leaves naive attention in linalg, lowered
// by the same upstream loops as everything else (the baseline the raised
// kernel is measured against); `afterBufferize` (may be null) adds passes
// right after one-shot bufferization, where a model's intermediate
// buffers are allocated.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_MODELPIPELINE_H
#define ATTN_PASSES_MODELPIPELINE_H

#include "passes/Passes.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::attn {

void buildModelToCpuPipeline(
    OpPassManager &pm, const CpuPipelineOptions &opts, bool raise,
    llvm::function_ref<void(OpPassManager &)> afterBufferize);

} // namespace mlir::attn

#endif
