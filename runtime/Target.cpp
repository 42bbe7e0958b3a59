//===- Target.cpp - target names, CPU names -------------------------------===//
#include "runtime/Target.h"
#include "runtime/Errors.h"
#include "runtime/JitCompiler.h"

#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <memory>
#include <mutex>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

bool mlir::attn::rt::cpuHasAmxBf16(llvm::StringRef cpu) {
  if (cpu.empty()) {
    // Once per process: CPUID traps to the hypervisor in a VM (~40 us for
    // the whole feature list), and every kernel-cache lookup asks this.
    static const bool host = [] {
      llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
      return features.lookup("amx-tile") && features.lookup("amx-bf16");
    }();
    return host;
  }
  initializeRuntimeOnce();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return false;
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!generic || !generic->isCPUStringValid(cpu))
    return false;
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, cpu, ""));
  return sti->checkFeatures("+amx-tile,+amx-bf16");
}

llvm::Error mlir::attn::rt::requestAmxTileData() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
#if defined(__linux__) && defined(__x86_64__)
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0)
      failure = "the kernel refused AMX tile data (arch_prctl "
                "ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)";
#else
    failure = "AMX needs Linux on x86-64 (arch_prctl ARCH_REQ_XCOMP_PERM)";
#endif
  });
  if (!failure.empty())
    return makeError(failure);
  return llvm::Error::success();
}

llvm::StringRef mlir::attn::rt::resolveBf16Matmul(llvm::StringRef option,
                                                  llvm::StringRef cpu) {
  if (option != "auto")
    return option;
  if (!cpuHasAmxBf16(cpu))
    return "fma";
  if (llvm::Error e = requestAmxTileData()) {
    llvm::consumeError(std::move(e));
    return "fma";
  }
  return "amx";
}
