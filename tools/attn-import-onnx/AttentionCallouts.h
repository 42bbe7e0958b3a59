//===- AttentionCallouts.h - raised attention as kernels --------*- C++ -*-===//
//
// The model's host function runs its attn.attention ops as the runtime's
// own kernels: each op is compiled alone (Runtime::compileMlir, for the CPU
// or for CUDA) and replaced in the model by a call back into this process
// with its buffers. On the CPU that kernel runs its work items on the
// runtime's thread pool (--threads); inlined into the model function they
// would run in order on one thread. On CUDA the call stages the buffers to
// the device and back (attn's GPU kernels are f16/bf16: an f32 model's
// operands are converted at the boundary, the rest of the graph stays f32
// on the CPU).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_IMPORT_ONNX_ATTENTIONCALLOUTS_H
#define ATTN_TOOLS_IMPORT_ONNX_ATTENTIONCALLOUTS_H

#include "runtime/Runtime.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mlir::attn::onnx_import {

struct CalloutOptions {
  rt::Target target = rt::Target::Cpu;
  unsigned threads = 1; ///< the runtime's pool (CPU kernels)
  bool gpuBf16 = false; ///< CUDA: f32 operands as bf16 (else f16)
  rt::CompileOptions compile;
};

/// The compiled attention kernels of one model and the state their calls
/// share. Calls are serialised (one model call at a time runs them).
class AttentionCallouts {
public:
  explicit AttentionCallouts(const CalloutOptions &options);
  ~AttentionCallouts();

  /// Compiles every attn.attention of `module` (a function on tensors) and
  /// replaces it by buffers, a call back into `this` and the result read
  /// from its buffer.
  llvm::Error outline(ModuleOp module);

  int64_t numOps() const;
  /// The kernel of op `i` (PTX and launch plan for CUDA).
  const rt::Kernel &kernel(int64_t i) const;
  /// CUDA: loads every kernel on the device ("no CUDA device: ..." here).
  llvm::Error load() const;
  /// The first error of a call since the last takeError (the model's
  /// function cannot return one), or success.
  llvm::Error takeError();

private:
  struct Op;
  static void entry(int64_t self, int64_t op, int64_t ptrs);
  void call(int64_t op, void **ptrs);

  CalloutOptions options;
  rt::Runtime runtime;
  std::vector<Op> ops;
  std::mutex mutex;
  std::string firstError;
};

} // namespace mlir::attn::onnx_import

#endif
