//===- KernelAbi.cpp - plain tensor functions -> the buffer kernel ABI ----===//
//
// The front step of attn-to-nvvm: a function written on tensors gets the
// signature and body the runtime's KernelBuilder writes (memref arguments
// read through to_tensor, results materialized into trailing memref
// arguments), so attn-gpu-flash sees one form whoever wrote the function.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/BitVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNKERNELABI
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

bool hasTensorType(TypeRange types) {
  return llvm::any_of(types, [](Type t) { return isa<TensorType>(t); });
}

/// The name of `operand` in attn.attention's syntax, for diagnostics.
std::string operandName(AttentionOp op, OpOperand &operand) {
  Value v = operand.get();
  std::pair<Value, const char *> named[] = {
      {op.getQuery(), "query"},
      {op.getKey(), "key"},
      {op.getValue(), "value"},
      {op.getBoolMask(), "bool_mask"},
      {op.getBias(), "bias"},
      {op.getKvLengths(), "kv_lengths"},
      {op.getQSegmentIds(), "q_segment_ids"},
      {op.getKvSegmentIds(), "kv_segment_ids"},
      {op.getSinks(), "sinks"},
      {op.getDropoutState(), "dropout"}};
  for (auto [value, name] : named)
    if (value == v)
      return name;
  return "#" + std::to_string(operand.getOperandNumber());
}

/// Everything the rewrite cannot express, as located errors, before any IR
/// changes.
LogicalResult checkConvertible(func::FuncOp func, ModuleOp module) {
  StringRef name = func.getSymName();
  if (!SymbolTable::symbolKnownUseEmpty(func, module))
    return func.emitOpError("attn-kernel-abi: @")
           << name
           << " is called; its tensor signature would become buffers, so "
              "only kernel entry functions (never called) can be converted";
  if (!func.getBody().hasOneBlock())
    return func.emitOpError("attn-kernel-abi: @")
           << name << " has several blocks; kernels have one";
  for (Type t :
       llvm::concat<const Type>(func.getArgumentTypes(), func.getResultTypes()))
    if (isa<UnrankedTensorType>(t))
      return func.emitOpError("attn-kernel-abi: ")
             << t << " in the signature of @" << name
             << " is unranked; kernel buffers need a rank";

  WalkResult operands = func.walk([&](AttentionOp op) {
    for (OpOperand &operand : op->getOpOperands()) {
      auto arg = dyn_cast<BlockArgument>(operand.get());
      if (arg && arg.getOwner() == &func.getBody().front())
        continue;
      op.emitOpError("attn-kernel-abi: operand ")
          << operandName(op, operand) << " is computed inside @" << name
          << "; the GPU kernels read every operand from a buffer argument: "
             "compute it in its own function (or on the CPU: attn-to-cpu)";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (operands.wasInterrupted())
    return failure();

  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  for (OpOperand &result : ret->getOpOperands()) {
    if (!isa<TensorType>(result.get().getType()))
      continue;
    Operation *def = result.get().getDefiningOp();
    if (def && isa<AttnDialect>(def->getDialect()) && result.get().hasOneUse())
      continue;
    return ret.emitOpError("attn-kernel-abi: result #")
           << result.getOperandNumber() << " of @" << name
           << " is not an attn op's result used only by the return; the "
              "GPU host code has no copies, a kernel writes each result "
              "into its buffer";
  }
  return success();
}

MemRefType bufferType(Type tensor) {
  auto t = cast<RankedTensorType>(tensor);
  return MemRefType::get(t.getShape(), t.getElementType());
}

/// Tensor arguments become buffers read through to_tensor; tensor results
/// become trailing buffer arguments they are materialized into.
void convert(func::FuncOp func) {
  Block &body = func.getBody().front();
  OpBuilder b(func.getContext());
  b.setInsertionPointToStart(&body);
  for (BlockArgument arg : body.getArguments()) {
    auto tensor = dyn_cast<RankedTensorType>(arg.getType());
    if (!tensor)
      continue;
    arg.setType(bufferType(tensor));
    auto read = bufferization::ToTensorOp::create(b, arg.getLoc(), tensor, arg,
                                                  /*restrict=*/true);
    arg.replaceAllUsesExcept(read, read);
  }

  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<unsigned> outIndices;
  SmallVector<Type> outTypes;
  SmallVector<DictionaryAttr> outAttrs;
  SmallVector<Location> outLocs;
  llvm::BitVector tensorResults(func.getNumResults());
  for (auto [i, t] : llvm::enumerate(func.getResultTypes())) {
    if (!isa<TensorType>(t))
      continue;
    tensorResults.set(i);
    outIndices.push_back(body.getNumArguments());
    outTypes.push_back(bufferType(t));
    outAttrs.push_back(func.getResultAttrDict(i));
    outLocs.push_back(ret.getOperand(i).getLoc());
  }
  SmallVector<Type> inputs;
  for (BlockArgument arg : body.getArguments())
    inputs.push_back(arg.getType());
  func.setFunctionType(
      FunctionType::get(func.getContext(), inputs, func.getResultTypes()));
  (void)func.insertArguments(outIndices, outTypes, outAttrs, outLocs);

  b.setInsertionPoint(ret);
  unsigned next = inputs.size();
  for (unsigned i : tensorResults.set_bits())
    bufferization::MaterializeInDestinationOp::create(
        b, ret.getLoc(), Type(), ret.getOperand(i), body.getArgument(next++),
        /*restrict=*/true, /*writable=*/true);
  ret->eraseOperands(tensorResults);
  (void)func.eraseResults(tensorResults);
}

struct AttnKernelAbiPass
    : public attn::impl::AttnKernelAbiBase<AttnKernelAbiPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || (!hasTensorType(func.getArgumentTypes()) &&
                                !hasTensorType(func.getResultTypes())))
        continue;
      WalkResult attn = func.walk([](Operation *op) {
        return isa<AttnDialect>(op->getDialect()) ? WalkResult::interrupt()
                                                  : WalkResult::advance();
      });
      if (attn.wasInterrupted())
        kernels.push_back(func);
    }
    for (func::FuncOp func : kernels)
      if (failed(checkConvertible(func, module)))
        return signalPassFailure();
    for (func::FuncOp func : kernels)
      convert(func);
  }
};

} // namespace
