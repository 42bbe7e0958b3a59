//===- GpuTestUtils.h - shared pieces of the GPU tests ---------*- C++ -*-===//
//
// What the attn-gpu-tests files share: the device (or why there is none),
// the hand-written kernel compiled through the upstream GPU pipeline, a
// staged run checked against the float64 reference, PTX snapshots.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_UNIT_GPUTESTUTILS_H
#define ATTN_TEST_UNIT_GPUTESTUTILS_H

#include "GpuTestKernels.h"
#include "RuntimeTestUtils.h"

#include "passes/Passes.h"
#include "runtime/Check.h"
#include "runtime/Errors.h"
#include "runtime/HostBuffers.h"
#include "runtime/KernelBuilder.h"
#include "runtime/Reference.h"
#include "runtime/cuda/CudaDriver.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <memory>
#include <string>

namespace attn_test {

/// What Runtime::compile(spec, Target::Cuda) says while attn-gpu-flash is
/// missing: the spec-based tests skip on it.
inline constexpr const char *kPassMissing = "not built yet";

inline constexpr const char *kNeedsSm90a =
    "sm_90a code needs a compute capability 9.0 device";

/// The device, or nullptr (the caller skips) with the reason in `why`.
inline mlir::attn::cuda::Driver *device(std::string &why) {
  auto d = mlir::attn::cuda::Driver::get();
  if (d)
    return *d;
  why = llvm::toString(d.takeError());
  EXPECT_EQ(why.rfind("no CUDA device: ", 0), 0u) << why;
  return nullptr;
}

#define SKIP_WITHOUT_DEVICE()                                                  \
  do {                                                                         \
    std::string why_;                                                          \
    if (!attn_test::device(why_))                                              \
      GTEST_SKIP() << why_;                                                    \
  } while (0)

/// Declares `cuda::Driver *var` for the device, or skips the test with the
/// reason when there is none.
#define DEVICE_OR_SKIP(var)                                                    \
  std::string var##Why_;                                                       \
  mlir::attn::cuda::Driver *var = attn_test::device(var##Why_);                \
  if (!var)                                                                    \
  GTEST_SKIP() << var##Why_

/// True when a device is present that cannot load sm_90a (arch-specific)
/// code; without a device the compile path still runs.
inline bool deviceLacksSm90a() {
  auto driver = mlir::attn::cuda::Driver::get();
  if (!driver) {
    llvm::consumeError(driver.takeError());
    return false;
  }
  return (*driver)->computeCapability() != 90;
}

/// A context with the runtime's dialects, single-threaded, whose
/// diagnostics do not dump the op (errors are compared as text).
inline std::unique_ptr<mlir::MLIRContext> gpuTestContext() {
  mlir::DialectRegistry registry;
  mlir::attn::rt::registerRuntimeDialects(registry);
  auto ctx = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  ctx->printOpOnDiagnostic(false);
  return ctx;
}

/// Compiles the hand-written naive kernel for `spec` through the upstream
/// GPU -> NVVM -> binary pipeline.
inline llvm::Expected<mlir::attn::rt::KernelRef> compileNaive(
    const mlir::attn::AttentionSpec &spec,
    mlir::attn::GpuBinaryFormat format = mlir::attn::GpuBinaryFormat::Isa) {
  using namespace mlir;
  using namespace mlir::attn;
  using namespace mlir::attn::rt;
  auto ctx = gpuTestContext();
  auto module = parseSourceString<ModuleOp>(naiveGpuAttention(spec), ctx.get());
  if (!module)
    return makeError("the hand-written kernel does not parse");
  NvvmPipelineOptions opts;
  opts.format = format;
  return sharedRuntime().compileGpuModule(
      *module, signatureForSpec(spec),
      [&](OpPassManager &pm) { buildGpuToBinaryPipeline(pm, opts); });
}

/// With ATTN_PTX_SNAPSHOT=DIR, writes `ptx` to DIR/NAME.ptx (read by
/// scripts/ptx-snapshot.sh, which diffs the generated code across changes).
inline void savePtxSnapshot(const std::string &name, llvm::StringRef ptx) {
  const char *dir = std::getenv("ATTN_PTX_SNAPSHOT");
  if (!dir)
    return;
  std::error_code ec;
  llvm::raw_fd_ostream os(std::string(dir) + "/" + name + ".ptx", ec);
  ASSERT_FALSE(ec) << ec.message();
  os << ptx;
}

/// A runtime of its own without a disk cache, so that compile counts are
/// the test's.
inline mlir::attn::rt::Runtime uncachedRuntime() {
  mlir::attn::rt::RuntimeOptions options;
  options.cacheDir = "off";
  return mlir::attn::rt::Runtime(options);
}

/// Runs `kernel` on fresh host buffers (staged) and checks the result.
inline void runAndCheck(const mlir::attn::rt::KernelRef &kernel, uint64_t seed,
                        llvm::ArrayRef<int32_t> kvLengths = {}) {
  using namespace mlir::attn::rt;
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers(kernel->signature(), fill);
  if (!kvLengths.empty())
    buffers.setKvLengths(kvLengths);
  ASSERT_TRUE(ok(kernel->run(buffers.args())));
  auto ref = referenceAttention(kernel->signature(), buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  Tolerance tol = toleranceFor(dtypeOf(kernel->signature().spec.dtype));
  CheckReport report =
      checkAgainstReference(kernel->signature(), buffers.args(), *ref, tol);
  EXPECT_TRUE(report.passed)
      << "seed " << seed << ": " << report.summary() << " "
      << report.firstFailure << " (plan: " << kernel->gpuLaunchPlan() << ")";
  EXPECT_EQ(buffers.strayWrites(), "");
}

} // namespace attn_test

#endif
