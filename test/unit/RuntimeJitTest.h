//===- RuntimeJitTest.h - hand-written kernels for JIT tests ---*- C++ -*-===//
//
// Kernels written directly at the ABI level (`@attention(memrefs...,
// begin, end)` + `@attention_work_items`) and lowered with upstream passes
// only, so the JIT and thread-pool plumbing is tested independently of the
// attn passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_UNIT_RUNTIMEJITTEST_H
#define ATTN_TEST_UNIT_RUNTIMEJITTEST_H

#include "passes/Passes.h"
#include "runtime/KernelBuilder.h"
#include "runtime/Runtime.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

namespace attn_test {

/// scf/memref/vector/math/arith -> LLVM dialect with upstream passes only.
inline void lowerWithUpstreamPasses(mlir::OpPassManager &pm) {
  mlir::attn::buildLowerToLLVMPipeline(pm);
}

/// A context able to parse and lower anything the runtime handles.
inline std::unique_ptr<mlir::MLIRContext> jitTestContext() {
  mlir::DialectRegistry registry;
  mlir::attn::rt::registerRuntimeDialects(registry);
  return std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
}

/// A rank-1 f32 buffer argument of a hand-written kernel.
inline mlir::attn::rt::ArgInfo vectorArg(mlir::attn::rt::ArgRole role,
                                         int64_t n, bool unitStride,
                                         bool isOutput) {
  return {role, mlir::attn::rt::DType::F32, {n}, unitStride, isOutput};
}

} // namespace attn_test

#endif
