//===- ModelRunner.h - JIT-run an imported model on the CPU ----*- C++ -*-===//
//
// The imported function (on tensors) is wrapped into a kernel taking one
// buffer per graph input and output, lowered by attn-to-cpu (with or
// without attn-raise-attention: --no-raise is the upstream-loops baseline)
// and JIT-compiled by the runtime. The whole model is one function: the
// attention inside runs on one thread (a function with work before and
// after its work-item loop runs that loop in order), so compare raised
// and naive at one thread.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_IMPORT_ONNX_MODELRUNNER_H
#define ATTN_TOOLS_IMPORT_ONNX_MODELRUNNER_H

#include "tools/attn-import-onnx/AttentionCallouts.h"
#include "tools/attn-import-onnx/OnnxModel.h"

#include "runtime/JitCompiler.h"
#include "runtime/ThreadPool.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <vector>

namespace mlir::attn::onnx_import {

struct Port {
  std::string name;
  Elem elem = Elem::F32;
  llvm::SmallVector<int64_t, 4> shape;
  int64_t numElements() const;
  int64_t bytes() const;
  /// NumPy's type string for this element type ("<f4", "|b1", ...).
  std::string npyDescr() const;
};

struct RunnerOptions {
  bool raise = true;
  int64_t tileRows = 64, tileKv = 64;
  std::string cpu; ///< LLVM CPU name; empty: the host
  /// Where the raised attn.attention ops run (AttentionCallouts.h); the
  /// rest of the graph is one host function on one thread either way.
  rt::Target target = rt::Target::Cpu;
  /// Threads of the CPU attention kernels.
  unsigned threads = 1;
  /// CUDA: the f32 model's attention as bf16 (default f16).
  bool gpuBf16 = false;
  std::string gpuChip;           ///< empty: the runtime's choice
  std::string gpuFormat = "isa"; ///< PTX, or "bin" (cubin through ptxas)
};

class CompiledModel {
public:
  /// Compiles the one function of `imported` (left unchanged).
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  compile(ModuleOp imported, const RunnerOptions &options);

  const std::vector<Port> &inputs() const { return ins; }
  const std::vector<Port> &outputs() const { return outs; }
  /// attn.attention ops in the lowered model (after raising).
  int64_t attentionOps() const { return numAttention; }
  double compileMs() const { return ms; }
  /// The raised ops' kernels (none with --no-raise).
  const AttentionCallouts *callouts() const { return calls.get(); }

  /// Runs on contiguous host buffers of the ports' shapes and types. An
  /// attention kernel's failure is an error naming the op and its ONNX
  /// node ("attn.attention 0 at node 'pv' (cpu): ..."), the outputs left
  /// unwritten; the next run starts afresh.
  llvm::Error run(llvm::ArrayRef<void *> inputs, llvm::ArrayRef<void *> outputs,
                  rt::ThreadPool &pool) const;

private:
  std::vector<Port> ins, outs;
  /// Before `code`: the JIT code calls into it, so it must outlive it.
  std::unique_ptr<AttentionCallouts> calls;
  rt::CpuKernelCode code;
  int64_t numAttention = 0;
  double ms = 0;
};

} // namespace mlir::attn::onnx_import

#endif
