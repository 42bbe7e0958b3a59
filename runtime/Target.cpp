//===- Target.cpp - target names, CPU names -------------------------------===//
#include "runtime/Target.h"
#include "runtime/Errors.h"

#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <memory>

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

llvm::Error mlir::attn::rt::validateCpuName(llvm::StringRef cpu) {
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return makeError("no LLVM target for the host triple " + triple.str() +
                     ": " + error);
  // Asked of a generic subtarget first: creating one for an unknown CPU
  // prints a warning to stderr.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!generic || !generic->isCPUStringValid(cpu))
    return makeError("unknown CPU '" + cpu + "' for " + triple.str() +
                     " (LLVM CPU names, e.g. x86-64-v3, skylake-avx512)");
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, cpu, ""));
  if (triple.getArch() == llvm::Triple::x86_64 && !sti->checkFeatures("+64bit"))
    return makeError("CPU '" + cpu +
                     "' cannot run 64-bit code, which the host JIT emits");
  return llvm::Error::success();
}
