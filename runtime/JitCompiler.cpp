//===- JitCompiler.cpp - MLIR -> host machine code ------------------------===//
#include "runtime/JitCompiler.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/SoftFloatSymbols.h"
#include "runtime/Target.h"

#include "runtime/Errors.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>

using namespace mlir;
using namespace mlir::attn::rt;

namespace {
/// Set by an atexit handler: static destruction has begun.
std::atomic<bool> processExiting{false};
} // namespace

namespace mlir::attn::rt {
/// Free shared-scratch blocks of one kernel (64-byte aligned, sharedBytes
/// each); a run takes one or allocates, and gives it back when done.
struct SharedScratchPool {
  std::mutex mutex;
  std::vector<void *> free;
  ~SharedScratchPool() {
    for (void *p : free)
      std::free(p);
  }
};
} // namespace mlir::attn::rt

CpuKernelCode::CpuKernelCode() = default;
CpuKernelCode::CpuKernelCode(CpuKernelCode &&) = default;
CpuKernelCode &CpuKernelCode::operator=(CpuKernelCode &&) = default;

CpuKernelCode::~CpuKernelCode() {
  // ~LLJIT ends the JIT session (deinitializers, memory). During static
  // destruction (a Runtime held in a static), LLVM's lazily created statics
  // may already be gone: with ExecutionEngine that showed up as crashes,
  // hangs and "scalar-to-vector conversion failed" at exit. The process is
  // ending, so leak the JIT instead.
  if (processExiting.load())
    (void)jit.release();
}

namespace {
/// The post-RA list scheduler was the largest codegen cost of the big
/// kernels (gqa d128 causal prefill: 1.25 of 2.3 s of codegen; the
/// scheduling models of Zen and recent Intel cores enable it) and changed
/// nothing in their speed on an out-of-order core (docs/performance.md,
/// "Compile latency"). LLVM decides it per subtarget, with no per-
/// TargetMachine switch, so this sets the `-post-RA-scheduler=false`
/// option of the process, unless a command line gave it.
void disablePostRaScheduler() {
  auto &options = llvm::cl::getRegisteredOptions();
  auto it = options.find("post-RA-scheduler");
  if (it == options.end() || it->second->getNumOccurrences() > 0)
    return;
  // An occurrence (not just a value): the pass honours the option only
  // when it was "given".
  (void)it->second->addOccurrence(1, "post-RA-scheduler", "false");
}
} // namespace

void mlir::attn::rt::initializeRuntimeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    disablePostRaScheduler();
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

namespace {

/// Adds `void _mlir_<fn>(void **args)`, which loads each argument of `fn`
/// from args[i] and calls it: one entry point for any number of buffers
/// (what ExecutionEngine::lookupPacked used to give us).
llvm::Error addPackedWrapper(llvm::Module &m, llvm::StringRef fnName) {
  llvm::Function *fn = m.getFunction(fnName);
  if (!fn || fn->isDeclaration())
    return makeError("cannot resolve " + llvm::Twine(fnName) +
                     " in the compiled kernel (is the function marked "
                     "llvm.emit_c_interface?)");
  llvm::LLVMContext &ctx = m.getContext();
  auto *ptrTy = llvm::PointerType::getUnqual(ctx);
  auto *wrapperTy =
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptrTy}, false);
  auto *wrapper = llvm::Function::Create(
      wrapperTy, llvm::GlobalValue::ExternalLinkage, "_mlir_" + fnName, m);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", wrapper));
  llvm::Value *args = wrapper->getArg(0);
  llvm::SmallVector<llvm::Value *, 12> callArgs;
  for (auto [i, param] : llvm::enumerate(fn->args())) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptrTy, args, i);
    llvm::Value *argPtr = b.CreateLoad(ptrTy, slot);
    callArgs.push_back(b.CreateLoad(param.getType(), argPtr));
  }
  llvm::Value *result = b.CreateCall(fn, callArgs);
  if (!fn->getReturnType()->isVoidTy()) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptrTy, args, fn->arg_size());
    b.CreateStore(result, b.CreateLoad(ptrTy, slot));
  }
  b.CreateRetVoid();
  return llvm::Error::success();
}

/// The host code generator, or `cpu`'s (its own features, not the host's).
/// PIC, small code model: the object is linked wherever the JIT maps it,
/// possibly in another process (the disk cache).
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(llvm::StringRef cpu, llvm::CodeGenOptLevel level) {
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder)
    return tmBuilder.takeError();
  tmBuilder->setCodeGenOptLevel(level);
  tmBuilder->setRelocationModel(llvm::Reloc::PIC_);
  tmBuilder->setCodeModel(llvm::CodeModel::Small);
  if (!cpu.empty()) {
    tmBuilder->setCPU(cpu.str());
    tmBuilder->getFeatures() = llvm::SubtargetFeatures();
  }
  auto tm = tmBuilder->createTargetMachine();
  if (!tm)
    return makeError("cannot create a target machine for CPU '" +
                     tmBuilder->getCPU() +
                     "': " + llvm::toString(tm.takeError()));
  return std::move(*tm);
}

} // namespace

llvm::Expected<std::string> mlir::attn::rt::compileKernelObject(
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
  auto tm = createTargetMachine(cpu, llvm::CodeGenOptLevel::Aggressive);
  if (!tm)
    return tm.takeError();
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmCtx, "attn_kernel");
  if (!llvmModule)
    return diags.takeError("JIT compilation failed: cannot translate the "
                           "kernel to LLVM IR");
  llvmModule->setDataLayout((*tm)->createDataLayout());
  llvmModule->setTargetTriple((*tm)->getTargetTriple());
  if (llvm::Error e =
          addPackedWrapper(*llvmModule, ("_mlir_ciface_" + name).str()))
    return std::move(e);
  // Size functions of run-time sizes take the buffers: packed like the
  // kernel. Static ones take nothing and are called directly.
  for (const char *suffix : {"_work_items", "_scratch_bytes"}) {
    std::string fn = ("_mlir_ciface_" + name + suffix).str();
    if (llvm::Function *f = llvmModule->getFunction(fn); f && f->arg_size())
      if (llvm::Error e = addPackedWrapper(*llvmModule, fn))
        return std::move(e);
  }
  // -O3 with the target's TTI (vector widths, FMA).
  auto optimize =
      makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0, tm->get());
  if (llvm::Error e = optimize(llvmModule.get()))
    return makeError("JIT compilation failed: " + llvm::toString(std::move(e)));
  times.optMs = msSince(start);

  auto codegenStart = std::chrono::steady_clock::now();
  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager codegen;
  if ((*tm)->addPassesToEmitFile(codegen, os, nullptr,
                                 llvm::CodeGenFileType::ObjectFile))
    return makeError("JIT compilation failed: the target cannot emit objects");
  codegen.run(*llvmModule);
  times.codegenMs = msSince(codegenStart);
  times.jitMs = msSince(start);
  return std::string(object.data(), object.size());
}

namespace {
/// A staged kernel's stage ends and shared scratch bytes (static kernels).
llvm::Error resolveStages(llvm::orc::LLJIT &j, llvm::StringRef name,
                          CpuKernelCode &code) {
  auto stages = j.lookup((name + "_stages").str());
  if (!stages) {
    llvm::consumeError(stages.takeError()); // one stage
    return llvm::Error::success();
  }
  auto endFn = j.lookup((name + "_stage_end").str());
  if (!endFn)
    return makeError("the kernel has stages but no " + name +
                     "_stage_end: " + llvm::toString(endFn.takeError()));
  int64_t count = stages->toPtr<int64_t (*)()>()();
  auto end = endFn->toPtr<int64_t (*)(int64_t)>();
  int64_t last = 0;
  for (int64_t i = 0; i < count; ++i) {
    int64_t e = end(i);
    if (e < last || e > code.workItems)
      return makeError("the kernel's stage " + llvm::Twine(i) + " ends at " +
                       llvm::Twine(e) + " (items " + llvm::Twine(last) +
                       " to " + llvm::Twine(code.workItems) + ")");
    code.stageEnds.push_back(last = e);
  }
  if (auto bytes = j.lookup((name + "_shared_bytes").str())) {
    code.sharedBytes = bytes->toPtr<int64_t (*)()>()();
    if (code.sharedBytes < 0)
      return makeError("the kernel asks for " + llvm::Twine(code.sharedBytes) +
                       " shared scratch bytes");
    if (code.sharedBytes > 0)
      code.sharedPool = std::make_unique<SharedScratchPool>();
  } else {
    llvm::consumeError(bytes.takeError());
  }
  return llvm::Error::success();
}
} // namespace

llvm::Expected<CpuKernelCode>
mlir::attn::rt::loadKernelObject(llvm::StringRef object, llvm::StringRef name) {
  initializeRuntimeOnce();
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return makeError("JIT compilation failed: " +
                     llvm::toString(jit.takeError()));
  llvm::orc::LLJIT &j = **jit;
  const llvm::DataLayout &dl = j.getDataLayout();
  // libc/libm (memcpy, expf, ...) from the process, the f16/bf16 helpers
  // from SoftFloatSymbols.
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      dl.getGlobalPrefix());
  if (!process)
    return makeError("JIT compilation failed: " +
                     llvm::toString(process.takeError()));
  j.getMainJITDylib().addGenerator(std::move(*process));
  llvm::orc::MangleAndInterner interner(j.getExecutionSession(), dl);
  if (llvm::Error e = j.getMainJITDylib().define(
          llvm::orc::absoluteSymbols(softFloatSymbols(interner))))
    return makeError("JIT compilation failed: " + llvm::toString(std::move(e)));
  if (llvm::Error e = j.addObjectFile(
          llvm::MemoryBuffer::getMemBufferCopy(object, "attn_kernel.o")))
    return makeError("JIT compilation failed: " + llvm::toString(std::move(e)));

  CpuKernelCode code;
  std::string packed = ("_mlir__mlir_ciface_" + name).str();
  auto entry = j.lookup(packed);
  if (!entry)
    return makeError("JIT compilation failed: cannot resolve " +
                     llvm::Twine(packed) + ": " +
                     llvm::toString(entry.takeError()));
  code.entry = entry->toPtr<PackedKernelFn>();
  if (auto fn =
          j.lookup(("_mlir__mlir_ciface_" + name + "_work_items").str())) {
    // Run-time sizes: counted per run.
    code.workItems = -1;
    code.workItemsFn = fn->toPtr<PackedKernelFn>();
    if (auto bytes =
            j.lookup(("_mlir__mlir_ciface_" + name + "_scratch_bytes").str()))
      code.scratchBytesFn = bytes->toPtr<PackedKernelFn>();
    else
      llvm::consumeError(bytes.takeError());
    code.jit = std::move(*jit);
    code.object = object.str();
    return code;
  } else {
    llvm::consumeError(fn.takeError());
  }
  std::string countName = (name + "_work_items").str();
  auto count = j.lookup(countName);
  if (!count)
    return makeError("cannot resolve " + llvm::Twine(countName) +
                     " in the compiled kernel (did attn-parallel-to-runtime "
                     "run?): " +
                     llvm::toString(count.takeError()));
  code.workItems = count->toPtr<int64_t (*)()>()();
  if (code.workItems < 0)
    return makeError("the kernel reports " + llvm::Twine(code.workItems) +
                     " work items");
  if (auto scratch = j.lookup((name + "_scratch_bytes_per_item").str())) {
    code.scratchBytesPerItem = scratch->toPtr<int64_t (*)()>()();
    if (code.scratchBytesPerItem < 0)
      return makeError("the kernel asks for " +
                       llvm::Twine(code.scratchBytesPerItem) +
                       " scratch bytes per work item");
  } else {
    // No split-KV scratch: the kernel takes no scratch argument.
    llvm::consumeError(scratch.takeError());
  }
  if (llvm::Error e = resolveStages(j, name, code))
    return std::move(e);
  code.jit = std::move(*jit);
  code.object = object.str();
  return code;
}

llvm::Expected<CpuKernelCode> mlir::attn::rt::jitCompileKernel(
    ModuleOp module, llvm::StringRef name,
    llvm::function_ref<void(OpPassManager &)> lower, JitTimes &times,
    llvm::StringRef cpu) {
  auto object = compileKernelObject(module, name, lower, times, cpu);
  if (!object)
    return object.takeError();
  auto start = std::chrono::steady_clock::now();
  auto code = loadKernelObject(*object, name);
  times.jitMs += msSince(start);
  return code;
}

namespace {
/// The C layout of StridedMemRefType<T, N> for N <= kMaxRank: sizes[N]
/// then strides[N] right after the offset. Rank 5: attn.merge_states'
/// [N, B, H, S, Dv] states.
constexpr size_t kMaxRank = 5;
struct MemRefDescriptor {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizesAndStrides[2 * kMaxRank];
};

/// Descriptors of `buffers` in ABI order, and pointers to them.
struct Descriptors {
  explicit Descriptors(llvm::ArrayRef<BufferRef> buffers)
      : descriptors(buffers.size()), pointers(buffers.size()) {
    for (size_t i = 0; i < buffers.size(); ++i) {
      const BufferRef &b = buffers[i];
      MemRefDescriptor &d = descriptors[i];
      d.allocated = d.aligned = b.data;
      d.offset = 0;
      auto strides = b.effectiveStrides();
      // runKernelCode rejects deeper buffers first; never write past.
      size_t rank = std::min(b.shape.size(), kMaxRank);
      for (size_t j = 0; j < rank; ++j) {
        d.sizesAndStrides[j] = b.shape[j];
        d.sizesAndStrides[rank + j] = strides[j];
      }
      pointers[i] = &d;
    }
  }
  /// Calls a packed size function of the buffers.
  int64_t size(PackedKernelFn fn) const {
    int64_t result = 0;
    llvm::SmallVector<void *, 12> packed;
    for (void *const &p : pointers)
      packed.push_back(const_cast<void **>(&p));
    packed.push_back(&result);
    fn(packed.data());
    return result;
  }
  llvm::SmallVector<MemRefDescriptor, 8> descriptors;
  llvm::SmallVector<void *, 8> pointers;
};
} // namespace

int64_t mlir::attn::rt::workItemsFor(const CpuKernelCode &code,
                                     llvm::ArrayRef<BufferRef> buffers) {
  if (!code.workItemsFn)
    return code.workItems;
  return Descriptors(buffers).size(code.workItemsFn);
}

llvm::Error mlir::attn::rt::runKernelCode(const CpuKernelCode &code,
                                          llvm::ArrayRef<BufferRef> buffers,
                                          ThreadPool &pool) {
  for (auto [i, b] : llvm::enumerate(buffers))
    if (b.shape.size() > kMaxRank)
      return makeError("internal error: kernel buffer " + llvm::Twine(i) +
                       " has rank " + llvm::Twine(b.shape.size()) +
                       " (at most " + llvm::Twine(kMaxRank) + " supported)");
  Descriptors desc(buffers);
  int64_t items = code.workItems, bytes = 0;
  if (code.workItemsFn) {
    items = desc.size(code.workItemsFn);
    if (code.scratchBytesFn)
      bytes = desc.size(code.scratchBytesFn);
  } else {
    bytes = code.workItems * code.scratchBytesPerItem;
  }
  if (items < 0 || bytes < 0)
    return makeError("the kernel reports " + llvm::Twine(items) +
                     " work items and " + llvm::Twine(bytes) +
                     " scratch bytes for these buffers");
  llvm::SmallVector<void *, 8> descriptorPtrs = desc.pointers;
  // This run's split-KV scratch, zeroed (the arrival counters start at 0).
  // A kernel of run-time sizes takes the argument even when it needs no
  // bytes (a single split).
  std::unique_ptr<void, decltype(&std::free)> scratch(nullptr, &std::free);
  MemRefDescriptor scratchDesc{};
  if (bytes > 0) {
    scratch.reset(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!scratch)
      return makeError("cannot allocate " + llvm::Twine(bytes) +
                       " bytes of split-KV scratch");
    std::memset(scratch.get(), 0, bytes);
    scratchDesc.allocated = scratchDesc.aligned = scratch.get();
  }
  scratchDesc.sizesAndStrides[0] = bytes;
  scratchDesc.sizesAndStrides[1] = 1;
  if (code.scratchBytesPerItem > 0 || code.scratchBytesFn)
    descriptorPtrs.push_back(&scratchDesc);
  // A staged kernel's buffers across stages: this run's own, not zeroed
  // (every stage writes what a later one reads).
  // A block of a finished run when there is one (its pages are mapped).
  SharedScratchPool *sharedPool = code.sharedPool.get();
  auto giveBack = [sharedPool](void *p) {
    std::lock_guard<std::mutex> lock(sharedPool->mutex);
    sharedPool->free.push_back(p);
  };
  std::unique_ptr<void, std::function<void(void *)>> shared(nullptr, giveBack);
  MemRefDescriptor sharedDesc{};
  if (code.sharedBytes > 0) {
    {
      std::lock_guard<std::mutex> lock(sharedPool->mutex);
      if (!sharedPool->free.empty()) {
        shared.reset(sharedPool->free.back());
        sharedPool->free.pop_back();
      }
    }
    if (!shared)
      shared.reset(std::aligned_alloc(64, (code.sharedBytes + 63) / 64 * 64));
    if (!shared)
      return makeError("cannot allocate " + llvm::Twine(code.sharedBytes) +
                       " bytes of shared scratch");
    sharedDesc.allocated = sharedDesc.aligned = shared.get();
    sharedDesc.sizesAndStrides[0] = code.sharedBytes;
    sharedDesc.sizesAndStrides[1] = 1;
    descriptorPtrs.push_back(&sharedDesc);
  }
  PackedKernelFn entry = code.entry;
  // One call per chunk of items: attn-parallel-to-runtime hoists each
  // item's scratch to the kernel's entry, so a long range uses no more
  // stack than one item. Stages one after another (parallelFor returns
  // when all of a stage's items are done: the barrier).
  llvm::SmallVector<int64_t, 8> ends(code.stageEnds.begin(),
                                     code.stageEnds.end());
  if (ends.empty())
    ends.push_back(items);
  int64_t first = 0;
  for (int64_t last : ends) {
    pool.parallelFor(last - first, /*chunk=*/0, [&](int64_t b, int64_t e) {
      int64_t begin = first + b, end = first + e;
      llvm::SmallVector<void *, 12> packed;
      for (void *&p : descriptorPtrs)
        packed.push_back(&p);
      packed.push_back(&begin);
      packed.push_back(&end);
      entry(packed.data());
    });
    first = last;
  }
  return llvm::Error::success();
}
