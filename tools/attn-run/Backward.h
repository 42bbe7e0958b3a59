//===- Backward.h - attn-run --backward -------------------------*- C++ -*-===//
#ifndef ATTN_TOOLS_ATTN_RUN_BACKWARD_H
#define ATTN_TOOLS_ATTN_RUN_BACKWARD_H

#include "runtime/Runtime.h"

namespace attn_run {

struct BackwardRequest {
  /// The forward: a spec, or (when not empty) MLIR whose attn.attention
  /// returns its lse (the spec is then the op's).
  mlir::attn::AttentionSpec spec;
  std::string mlirText;
  mlir::attn::rt::CompileOptions options;
  mlir::attn::rt::Runtime &runtime;
  uint64_t seed;
  bool check, bench, json;
  uint64_t runs, warmup;
};

/// Compiles, runs and optionally checks and times the backward of a spec
/// or of an MLIR forward (Runtime::compileBackwardMlir: score_mod
/// differentiated, bias, masks, segments, mask_mod);
/// the process exit code (0 fine, 1 failure or failed check).
int runBackward(const BackwardRequest &request);

} // namespace attn_run

#endif
