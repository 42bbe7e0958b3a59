//===- JitCompiler.cpp - MLIR -> host machine code ------------------------===//
#include "runtime/JitCompiler.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/SoftFloatSymbols.h"
#include "runtime/Target.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

using namespace mlir;
using namespace mlir::attn::rt;

namespace {
/// Set by an atexit handler: static destruction has begun.
std::atomic<bool> processExiting{false};
} // namespace

CpuKernelCode::CpuKernelCode() = default;
CpuKernelCode::CpuKernelCode(CpuKernelCode &&) = default;
CpuKernelCode &CpuKernelCode::operator=(CpuKernelCode &&) = default;

CpuKernelCode::~CpuKernelCode() {
  // ~ExecutionEngine runs the JIT's deinitializers, which compiles a small
  // LLVM module. During static destruction (a Runtime held in a static),
  // LLVM's lazily created statics may already be gone: that showed up as
  // crashes, hangs and "scalar-to-vector conversion failed" at exit. The
  // process is ending, so leak the engine instead.
  if (processExiting.load())
    (void)engine.release();
}

void mlir::attn::rt::initializeRuntimeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // Registered on first use, i.e. after any static Runtime that triggers
    // it was constructed: it runs before that Runtime is destroyed.
    std::atexit([] { processExiting.store(true); });
  });
}

namespace {

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

llvm::Expected<CpuKernelCode> mlir::attn::rt::jitCompileKernel(
    ModuleOp module, llvm::StringRef name,
    llvm::function_ref<void(OpPassManager &)> lower, JitTimes &times,
    llvm::StringRef cpu) {
  initializeRuntimeOnce();
  // LLVM aborts the process on a CPU it does not know or one without
  // 64-bit mode; those must come back as errors.
  if (!cpu.empty())
    if (llvm::Error e = validateCpuName(cpu))
      return std::move(e);
  MLIRContext *ctx = module.getContext();
  DiagnosticCapture diags(ctx);

  auto start = std::chrono::steady_clock::now();
  PassManager pm(ctx);
  lower(pm);
  if (failed(pm.run(module)))
    return diags.takeError("lowering failed");
  times.lowerMs = msSince(start);

  start = std::chrono::steady_clock::now();
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder)
    return tmBuilder.takeError();
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  if (!cpu.empty()) {
    // That CPU's own features, not the host's: code for an older CPU.
    tmBuilder->setCPU(cpu.str());
    tmBuilder->getFeatures() = llvm::SubtargetFeatures();
  }
  auto tm = tmBuilder->createTargetMachine();
  if (!tm)
    return makeError("cannot create a target machine for CPU '" +
                     tmBuilder->getCPU() +
                     "': " + llvm::toString(tm.takeError()));
  // The transformer runs -O3 with the host's TTI (vector widths, FMA).
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0, tm->get());
  ExecutionEngineOptions options;
  options.transformer = optimize;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  // Perf/GDB listeners cost compile time and nothing here consumes them.
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  auto engine = ExecutionEngine::create(module, options, std::move(*tm));
  if (!engine)
    return diags.takeError("JIT compilation failed: " +
                           llvm::toString(engine.takeError()));
  (*engine)->registerSymbols(softFloatSymbols);
  (*engine)->initialize();

  CpuKernelCode code;
  code.engine = std::move(*engine);
  std::string ciface = ("_mlir_ciface_" + name).str();
  auto entry = code.engine->lookupPacked(ciface);
  if (!entry)
    return makeError("cannot resolve " + llvm::Twine(ciface) +
                     " in the compiled kernel (is the function marked "
                     "llvm.emit_c_interface?): " +
                     llvm::toString(entry.takeError()));
  code.entry = *entry;
  std::string countName = (name + "_work_items").str();
  auto count = code.engine->lookup(countName);
  if (!count)
    return makeError("cannot resolve " + llvm::Twine(countName) +
                     " in the compiled kernel (did attn-parallel-to-runtime "
                     "run?): " +
                     llvm::toString(count.takeError()));
  code.workItems = reinterpret_cast<int64_t (*)()>(*count)();
  if (code.workItems < 0)
    return makeError("the kernel reports " + llvm::Twine(code.workItems) +
                     " work items");
  if (auto scratch =
          code.engine->lookup((name + "_scratch_bytes_per_item").str())) {
    code.scratchBytesPerItem = reinterpret_cast<int64_t (*)()>(*scratch)();
    if (code.scratchBytesPerItem < 0)
      return makeError("the kernel asks for " +
                       llvm::Twine(code.scratchBytesPerItem) +
                       " scratch bytes per work item");
  } else {
    // No split-KV scratch: the kernel takes no scratch argument.
    llvm::consumeError(scratch.takeError());
  }
  times.jitMs = msSince(start);
  return code;
}

namespace {
/// The C layout of StridedMemRefType<T, N> for N <= 4: sizes[N] then
/// strides[N] right after the offset.
struct MemRefDescriptor {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizesAndStrides[8];
};
} // namespace

llvm::Error mlir::attn::rt::runKernelCode(const CpuKernelCode &code,
                                          llvm::ArrayRef<BufferRef> buffers,
                                          ThreadPool &pool) {
  size_t n = buffers.size();
  llvm::SmallVector<MemRefDescriptor, 8> descriptors(n);
  llvm::SmallVector<void *, 8> descriptorPtrs(n);
  for (size_t i = 0; i < n; ++i) {
    const BufferRef &b = buffers[i];
    MemRefDescriptor &d = descriptors[i];
    d.allocated = d.aligned = b.data;
    d.offset = 0;
    auto strides = b.effectiveStrides();
    size_t rank = b.shape.size();
    for (size_t j = 0; j < rank; ++j) {
      d.sizesAndStrides[j] = b.shape[j];
      d.sizesAndStrides[rank + j] = strides[j];
    }
    descriptorPtrs[i] = &d;
  }
  // This run's split-KV scratch, zeroed (the arrival counters start at 0).
  std::unique_ptr<void, decltype(&std::free)> scratch(nullptr, &std::free);
  MemRefDescriptor scratchDesc{};
  if (code.scratchBytesPerItem > 0) {
    int64_t bytes = code.workItems * code.scratchBytesPerItem;
    scratch.reset(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!scratch)
      return makeError("cannot allocate " + llvm::Twine(bytes) +
                       " bytes of split-KV scratch");
    std::memset(scratch.get(), 0, bytes);
    scratchDesc.allocated = scratchDesc.aligned = scratch.get();
    scratchDesc.sizesAndStrides[0] = bytes;
    scratchDesc.sizesAndStrides[1] = 1;
    descriptorPtrs.push_back(&scratchDesc);
  }
  PackedKernelFn entry = code.entry;
  // One call per chunk of items: attn-parallel-to-runtime hoists each
  // item's scratch to the kernel's entry, so a long range uses no more
  // stack than one item.
  pool.parallelFor(code.workItems, /*chunk=*/0,
                   [&](int64_t begin, int64_t end) {
                     llvm::SmallVector<void *, 12> packed;
                     for (void *&p : descriptorPtrs)
                       packed.push_back(&p);
                     packed.push_back(&begin);
                     packed.push_back(&end);
                     entry(packed.data());
                   });
  return llvm::Error::success();
}
