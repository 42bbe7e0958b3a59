//===- attn-fuzz.cpp - libFuzzer target: parse, verify, lower -------------===//
//
// Feeds arbitrary bytes to the MLIR parser with the dialects an attn input
// may use, and every module that parses and verifies through the attn
// canonicalizer, the CPU pipeline (attn-to-cpu, down to the LLVM dialect)
// and the NVVM pipeline (attn-to-nvvm, down to PTX). A located error is a
// fine outcome; a crash, a hang, a sanitizer report or a pass that leaves
// invalid IR is a finding.
//
// Upstream dialects outside that set are not registered while parsing:
// their parsers are not ours to fuzz.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "passes/Passes.h"
#include "runtime/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace mlir;

namespace {

/// What an attn input is written in.
const DialectRegistry &inputDialects() {
  static const DialectRegistry *r = [] {
    auto *reg = new DialectRegistry();
    reg->insert<attn::AttnDialect, func::FuncDialect, arith::ArithDialect,
                math::MathDialect, tensor::TensorDialect, memref::MemRefDialect,
                bufferization::BufferizationDialect>();
    return reg;
  }();
  return *r;
}

/// What the pipelines need on top (extensions, LLVM IR translations).
const DialectRegistry &loweringDialects() {
  static const DialectRegistry *r = [] {
    auto *reg = new DialectRegistry();
    attn::rt::registerRuntimeDialects(*reg);
    return reg;
  }();
  return *r;
}

/// Runs `build`'s pipeline on a copy of `module`. Pass failures are fine;
/// a pipeline that succeeds must leave valid IR (the pass manager's
/// verifier would report it as a failure: count that as a finding).
void lower(ModuleOp module, llvm::function_ref<void(OpPassManager &)> build) {
  OwningOpRef<ModuleOp> copy = module.clone();
  PassManager pm(module.getContext());
  pm.enableVerifier(true);
  build(pm);
  (void)pm.run(*copy);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  attn::registerAttnPassesAndPipelines();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The parser reads up to the buffer's end; a fresh context per input
  // keeps the uniqued attributes of earlier inputs from piling up.
  MLIRContext ctx(inputDialects(), MLIRContext::Threading::DISABLED);
  ctx.printOpOnDiagnostic(false);
  ScopedDiagnosticHandler quiet(&ctx, [](Diagnostic &) { return success(); });
  // The MLIR lexer reads a buffer up to its NUL terminator (as attn-opt's
  // file buffers and every std::string have): libFuzzer's bytes have none,
  // and parsing them in place read past the end (ASan heap overflow).
  std::string text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &ctx);
  if (!module)
    return 0;
  ctx.appendDialectRegistry(loweringDialects());
  lower(*module,
        [](OpPassManager &pm) { pm.addPass(createCanonicalizerPass()); });
  lower(*module, [](OpPassManager &pm) {
    attn::buildAttnToCpuPipeline(pm, attn::CpuPipelineOptions());
  });
  lower(*module, [](OpPassManager &pm) {
    attn::NvvmPipelineOptions opts; // PTX: no ptxas needed
    attn::buildAttnToNvvmPipeline(pm, opts);
  });
  return 0;
}
