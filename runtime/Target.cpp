//===- Target.cpp - target names ------------------------------------------===//
#include "runtime/Target.h"

using namespace mlir::attn::rt;

const char *mlir::attn::rt::stringifyTarget(Target t) {
  return t == Target::Cpu ? "cpu" : "cuda";
}

std::optional<Target> mlir::attn::rt::parseTarget(llvm::StringRef s) {
  if (s == "cpu")
    return Target::Cpu;
  if (s == "cuda")
    return Target::Cuda;
  return std::nullopt;
}
