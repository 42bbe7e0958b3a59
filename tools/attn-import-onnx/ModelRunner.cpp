//===- ModelRunner.cpp - JIT-run an imported model on the CPU -------------===//
#include "tools/attn-import-onnx/ModelRunner.h"

#include "dialect/AttnOps.h"
#include "passes/ModelPipeline.h"
#include "runtime/DiagnosticCapture.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <chrono>
#include <cstring>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;
using rt::makeError;

namespace {
constexpr const char *kModelName = "model";

/// Frees the buffers one-shot bufferization allocated at the top level of
/// the model function (its intermediates) before it returns; without it
/// every call would leak them. Nothing escapes: results are copied into
/// the output buffers, and the function returns only a status value.
struct FreeTopLevelAllocs
    : PassWrapper<FreeTopLevelAllocs, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FreeTopLevelAllocs)
  StringRef getArgument() const final { return "attn-free-model-allocs"; }
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.getName() != kModelName || func.getBody().empty())
      return;
    Block &entry = func.getBody().front();
    Operation *ret = entry.getTerminator();
    OpBuilder b(ret);
    for (auto alloc :
         llvm::make_early_inc_range(entry.getOps<memref::AllocOp>()))
      memref::DeallocOp::create(b, alloc.getLoc(), alloc.getResult());
  }
};

std::optional<Elem> elemOfType(Type t) {
  if (t.isF32())
    return Elem::F32;
  if (t.isF64())
    return Elem::F64;
  if (t.isF16())
    return Elem::F16;
  if (t.isBF16())
    return Elem::BF16;
  if (t.isInteger(64))
    return Elem::I64;
  if (t.isInteger(32))
    return Elem::I32;
  if (t.isInteger(8))
    return Elem::I8;
  if (t.isInteger(1))
    return Elem::Bool;
  return std::nullopt;
}

llvm::Expected<Port> portOf(Type t, std::string name) {
  auto type = cast<RankedTensorType>(t);
  std::optional<Elem> e = elemOfType(type.getElementType());
  if (!e)
    return makeError("'" + name +
                     "' has an element type the runner cannot pass");
  return Port{std::move(name), *e,
              llvm::SmallVector<int64_t, 4>(type.getShape())};
}

/// linalg.softmax as its max/sub/exp/sum/div generics.
llvm::Error decomposeSoftmax(ModuleOp module) {
  SmallVector<linalg::SoftmaxOp> ops;
  module.walk([&](linalg::SoftmaxOp op) { ops.push_back(op); });
  for (linalg::SoftmaxOp op : ops) {
    OpBuilder b(op);
    FailureOr<SmallVector<Value>> parts =
        cast<linalg::AggregatedOpInterface>(op.getOperation())
            .decomposeOperation(b);
    if (failed(parts))
      return makeError("cannot decompose a linalg.softmax");
    op->replaceAllUsesWith(*parts);
    op->erase();
  }
  return llvm::Error::success();
}

/// Replaces the imported function by @model(inputs..., outputs...) -> i64
/// on buffers (plus @model_work_items, the runtime's work-item count: 1).
llvm::Error buildKernel(ModuleOp module, std::vector<Port> &ins,
                        std::vector<Port> &outs) {
  auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
  if (funcs.size() != 1)
    return makeError("the module must hold exactly one function");
  func::FuncOp src = funcs.front();
  OpBuilder b(module.getContext());
  Location loc = src.getLoc();
  SmallVector<Type> args;
  for (auto [i, t] : llvm::enumerate(src.getArgumentTypes())) {
    auto name = src.getArgAttrOfType<StringAttr>(i, "onnx.name");
    auto port = portOf(t, name ? name.str() : "input " + std::to_string(i));
    if (!port)
      return port.takeError();
    ins.push_back(*port);
  }
  for (auto [i, t] : llvm::enumerate(src.getResultTypes())) {
    auto name = src.getResultAttrOfType<StringAttr>(i, "onnx.name");
    auto port = portOf(t, name ? name.str() : "output " + std::to_string(i));
    if (!port)
      return port.takeError();
    outs.push_back(*port);
  }
  for (Type t :
       llvm::concat<const Type>(src.getArgumentTypes(), src.getResultTypes())) {
    auto tt = cast<RankedTensorType>(t);
    args.push_back(MemRefType::get(tt.getShape(), tt.getElementType()));
  }
  b.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(b, loc, kModelName,
                                   b.getFunctionType(args, b.getI64Type()));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  IRMapping map;
  for (auto [i, arg] : llvm::enumerate(src.getArguments()))
    map.map(arg, bufferization::ToTensorOp::create(b, loc, arg.getType(),
                                                   body->getArgument(i),
                                                   /*restrict=*/true));
  for (Operation &op : src.getBody().front().without_terminator())
    b.clone(op, map);
  Operation *ret = src.getBody().front().getTerminator();
  for (auto [i, v] : llvm::enumerate(ret->getOperands()))
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), map.lookupOrDefault(v),
        body->getArgument(ins.size() + i), /*restrict=*/true,
        /*writable=*/true);
  Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
  func::ReturnOp::create(b, loc, zero);
  src.erase();

  b.setInsertionPointToEnd(module.getBody());
  auto count =
      func::FuncOp::create(b, loc, std::string(kModelName) + "_work_items",
                           b.getFunctionType({}, b.getIndexType()));
  b.setInsertionPointToStart(count.addEntryBlock());
  func::ReturnOp::create(b, loc,
                         ValueRange{arith::ConstantIndexOp::create(b, loc, 1)});
  return llvm::Error::success();
}
} // namespace

int64_t Port::numElements() const {
  return mlir::ShapedType::getNumElements(shape);
}

int64_t Port::bytes() const {
  switch (elem) {
  case Elem::F64:
  case Elem::I64:
    return numElements() * 8;
  case Elem::F32:
  case Elem::I32:
    return numElements() * 4;
  case Elem::F16:
  case Elem::BF16:
    return numElements() * 2;
  default:
    return numElements();
  }
}

std::string Port::npyDescr() const {
  switch (elem) {
  case Elem::F32:
    return "<f4";
  case Elem::F64:
    return "<f8";
  case Elem::F16:
    return "<f2";
  case Elem::I64:
    return "<i8";
  case Elem::I32:
    return "<i4";
  case Elem::I8:
    return "|i1";
  case Elem::U8:
    return "|u1";
  case Elem::Bool:
    return "|b1";
  case Elem::BF16:
    return "<V2"; // NumPy has no bfloat16
  }
  return "";
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::compile(ModuleOp imported, const RunnerOptions &options) {
  auto start = std::chrono::steady_clock::now();
  // The kernel wrapper's ops (ops of unloaded dialects cannot be built).
  imported.getContext()
      ->loadDialect<bufferization::BufferizationDialect, memref::MemRefDialect,
                    arith::ArithDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = imported.clone();
  auto model = std::make_unique<CompiledModel>();
  // Raise first (on the imported function), then decompose what is left of
  // linalg.softmax (the weights seed 002 returns, or every softmax without
  // raising): convert-linalg-to-loops does not lower it.
  if (options.raise) {
    rt::DiagnosticCapture diags(module->getContext());
    PassManager pm(module->getContext());
    pm.addNestedPass<func::FuncOp>(createAttnRaiseAttention());
    if (failed(pm.run(*module)))
      return diags.takeError("attn-raise-attention failed");
  }
  module->walk([&](AttentionOp) { ++model->numAttention; });
  if (!options.raise && options.target == rt::Target::Cuda)
    return makeError("--target=cuda runs the raised attention on the GPU: "
                     "without raising there is none (--no-raise is CPU only)");
  if (model->numAttention) {
    CalloutOptions co;
    co.target = options.target;
    co.threads = options.threads;
    co.gpuBf16 = options.gpuBf16;
    co.compile.tileRows = options.tileRows;
    co.compile.tileKv = options.tileKv;
    co.compile.cpu = options.cpu;
    co.compile.gpuChip = options.gpuChip;
    co.compile.gpuFormat = options.gpuFormat;
    model->calls = std::make_unique<AttentionCallouts>(co);
    if (llvm::Error e = model->calls->outline(*module))
      return std::move(e);
  }
  if (llvm::Error e = decomposeSoftmax(*module))
    return std::move(e);
  if (llvm::Error e = buildKernel(*module, model->ins, model->outs))
    return std::move(e);
  CpuPipelineOptions opts;
  opts.tileRows = options.tileRows;
  opts.tileKv = options.tileKv;
  auto lower = [&](OpPassManager &pm) {
    buildModelToCpuPipeline(pm, opts, /*raise=*/false, [&](OpPassManager &p) {
      p.addNestedPass<func::FuncOp>(std::make_unique<FreeTopLevelAllocs>());
    });
  };
  rt::JitTimes times;
  auto code =
      rt::jitCompileKernel(*module, kModelName, lower, times, options.cpu);
  if (!code)
    return code.takeError();
  model->code = std::move(*code);
  model->ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  return model;
}

llvm::Error CompiledModel::run(llvm::ArrayRef<void *> inputs,
                               llvm::ArrayRef<void *> outputs,
                               rt::ThreadPool &pool) const {
  if (inputs.size() != ins.size() || outputs.size() != outs.size())
    return makeError("the model takes " + llvm::Twine(ins.size()) +
                     " inputs and " + llvm::Twine(outs.size()) + " outputs");
  // A failing attention kernel cannot stop the model function, which runs
  // on to its end: with callouts the outputs are computed into scratch
  // buffers and copied out only when every call succeeded, so an error
  // leaves the caller's outputs as they were.
  std::vector<std::vector<char>> scratch;
  SmallVector<void *> dest(outputs);
  if (calls)
    for (auto [i, port] : llvm::enumerate(outs)) {
      scratch.emplace_back(port.bytes());
      dest[i] = scratch.back().data();
    }
  SmallVector<rt::BufferRef> buffers;
  // The dtype is not read by the runner (descriptors hold shapes only).
  for (auto [p, port] : llvm::zip(inputs, ins))
    buffers.push_back(rt::BufferRef::contiguous(p, rt::DType::F32, port.shape));
  for (auto [p, port] : llvm::zip(dest, outs))
    buffers.push_back(rt::BufferRef::contiguous(p, rt::DType::F32, port.shape));
  if (llvm::Error e = rt::runKernelCode(code, buffers, pool))
    return e;
  if (!calls)
    return llvm::Error::success();
  if (llvm::Error e = calls->takeError())
    return e;
  for (auto [i, bytes] : llvm::enumerate(scratch))
    std::memcpy(outputs[i], bytes.data(), bytes.size());
  return llvm::Error::success();
}
