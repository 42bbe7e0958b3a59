//===- KernelBuilder.cpp - wrap attn.attention into the kernel ABI --------===//
#include "runtime/KernelBuilder.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/RegionInterpreter.h"

#include "dialect/AttnDialect.h"
#include "dialect/BlockMask.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/RegionUtils.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

void mlir::attn::rt::registerRuntimeDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<AttnDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  // The CUDA backend: gpu-module-to-binary serializes gpu.modules through
  // the #nvvm.target attribute's interface and translates NVVM/GPU ops to
  // LLVM IR for the NVPTX back end.
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

namespace {

/// The op's operands with their roles, in operand (= ABI) order.
SmallVector<std::pair<ArgRole, Value>> operandRoles(AttentionOp op) {
  SmallVector<std::pair<ArgRole, Value>> roles = {
      {ArgRole::Query, op.getQuery()},
      {ArgRole::Key, op.getKey()},
      {ArgRole::Value, op.getValue()}};
  auto add = [&](ArgRole role, Value v) {
    if (v)
      roles.push_back({role, v});
  };
  add(ArgRole::BoolMask, op.getBoolMask());
  add(ArgRole::Bias, op.getBias());
  add(ArgRole::KvLengths, op.getKvLengths());
  add(ArgRole::QSegmentIds, op.getQSegmentIds());
  add(ArgRole::KvSegmentIds, op.getKvSegmentIds());
  add(ArgRole::Sinks, op.getSinks());
  add(ArgRole::DropoutState, op.getDropoutState());
  add(ArgRole::KvNumBlocks, op.getKvNumBlocks());
  add(ArgRole::KvIndices, op.getKvIndices());
  return roles;
}

/// Lengths and lse are not row-major tiles: the ABI leaves all their
/// strides dynamic (a column of a bigger table is a valid lengths vector).
bool hasUnitInnerStride(ArgRole role) {
  return role != ArgRole::KvLengths && role != ArgRole::Lse &&
         role != ArgRole::Sinks && role != ArgRole::DropoutState &&
         role != ArgRole::KvNumBlocks && role != ArgRole::KvIndices;
}

std::optional<DType> dtypeOfType(Type t) {
  if (t.isF32())
    return DType::F32;
  if (t.isF16())
    return DType::F16;
  if (t.isBF16())
    return DType::BF16;
  if (t.isInteger(32))
    return DType::I32;
  if (t.isInteger(1))
    return DType::I1;
  if (t.isInteger(64))
    return DType::I64;
  return std::nullopt;
}

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

MemRefType memrefFor(RankedTensorType t, bool unitInner) {
  SmallVector<int64_t, 4> strides(t.getRank(), ShapedType::kDynamic);
  if (unitInner && !strides.empty())
    strides.back() = 1;
  auto layout =
      StridedLayoutAttr::get(t.getContext(), ShapedType::kDynamic, strides);
  return MemRefType::get(t.getShape(), t.getElementType(), layout);
}

/// `allowDynamic`: run-time sizes are resolved per call from the query and
/// key (AttentionArgs.cpp), which needs the op's buffers to be those of a
/// spec: no bool_mask, bias or segment ids.
llvm::Error addArg(KernelSignature &sig, ArgRole role, Value v, bool isOutput,
                   bool allowDynamic) {
  auto t = cast<RankedTensorType>(v.getType());
  const char *name = stringifyArgRole(role);
  if (!t.hasStaticShape() && !allowDynamic)
    return makeError(llvm::Twine(name) + " has a dynamic shape (" +
                     typeString(t) +
                     "); run-time sizes need an op without bool_mask, bias "
                     "or segment ids");
  std::optional<DType> dt = dtypeOfType(t.getElementType());
  if (!dt)
    return makeError(llvm::Twine(name) + ": unsupported element type " +
                     typeString(t.getElementType()));
  sig.args.push_back({role, *dt, SmallVector<int64_t, 4>(t.getShape()),
                      hasUnitInnerStride(role), isOutput});
  return llvm::Error::success();
}

AttentionSpec specOfOp(AttentionOp op) {
  AttentionSpec spec;
  auto q = op.getLogicalShape(op.getQuery());
  auto k = op.getLogicalShape(op.getKey());
  auto v = op.getLogicalShape(op.getValue());
  spec.batch = q[0];
  spec.numHeads = q[1];
  spec.queryLen = q[2];
  spec.headDim = q[3];
  spec.numKvHeads = k[1];
  spec.kvLen = k[2];
  spec.valueDim = v[3] == q[3] ? 0 : v[3];
  Type elt = op.getQuery().getType().getElementType();
  spec.dtype = elt.isF32()   ? ElementType::F32
               : elt.isF16() ? ElementType::F16
                             : ElementType::BF16;
  spec.layout = op.getLayoutOrDefault();
  if (MaskAttr mask = op.getMaskAttr())
    spec.mask = mask.getSpec();
  if (auto s = op.getScale())
    spec.scale = s->convertToFloat();
  if (auto c = op.getSoftcap())
    spec.softcap = c->convertToFloat();
  spec.withKvLengths = static_cast<bool>(op.getKvLengths());
  spec.returnLse = static_cast<bool>(op.getLse());
  spec.withSinks = static_cast<bool>(op.getSinks());
  if (auto rate = op.getDropoutP())
    spec.dropout = rate->convertToDouble();
  if (auto sizes = op.getBlockSize(); sizes && op.getKvNumBlocks()) {
    auto idxTy = cast<ShapedType>(op.getKvIndices().getType());
    BlockSparseSpec bs;
    bs.qBlock = (*sizes)[0];
    bs.kvBlock = (*sizes)[1];
    bs.perBatch = idxTy.getDimSize(0) != 1;
    bs.perHead = idxTy.getDimSize(1) != 1;
    int64_t maxBlocks = idxTy.getDimSize(3);
    if (maxBlocks != blockCount(spec.kvLen, bs.kvBlock))
      bs.maxBlocks = maxBlocks;
    spec.blockSparse = bs;
  }
  return spec;
}

} // namespace

llvm::Expected<KernelSignature> mlir::attn::rt::signatureForOp(AttentionOp op) {
  KernelSignature sig;
  bool plain = !op.getBoolMask() && !op.getBias() && !op.getQSegmentIds() &&
               !op.getKvSegmentIds();
  for (auto [role, v] : operandRoles(op))
    if (llvm::Error e = addArg(sig, role, v, /*isOutput=*/false, plain))
      return std::move(e);
  if (llvm::Error e = addArg(sig, ArgRole::Output, op.getOutput(), true, plain))
    return std::move(e);
  if (Value lse = op.getLse())
    if (llvm::Error e = addArg(sig, ArgRole::Lse, lse, true, plain))
      return std::move(e);
  sig.spec = specOfOp(op);
  sig.hasScoreMod = !op.getScoreMod().empty();
  sig.hasMaskMod = !op.getMaskMod().empty();
  attachRegionPrograms(op, sig);
  return sig;
}

llvm::Expected<KernelModule> mlir::attn::rt::wrapAttentionOp(AttentionOp op) {
  MLIRContext *ctx = op.getContext();
  llvm::Expected<KernelSignature> sig = signatureForOp(op);
  if (!sig)
    return sig.takeError();

  // Region bodies are cloned with the op, so anything they use from outside
  // must come along. Constants can; anything else would need its
  // computation, which the kernel does not have.
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(op->getRegions(), captured);
  SmallVector<Operation *> constants;
  for (Value v : captured) {
    Operation *def = v.getDefiningOp();
    if (!def || !def->hasTrait<OpTrait::ConstantLike>())
      return makeError(
          "a score_mod/mask_mod region uses a value of type " +
          typeString(v.getType()) +
          " defined outside attn.attention that is not a constant; only "
          "constants can be captured");
    constants.push_back(def);
  }

  DiagnosticCapture diags(ctx);
  ctx->loadDialect<bufferization::BufferizationDialect, func::FuncDialect>();
  Location loc = op.getLoc();
  OpBuilder b(ctx);
  KernelModule km;
  km.module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(km.module->getBody());

  SmallVector<Type> argTypes;
  for (const ArgInfo &info : sig->args) {
    Value v = info.role == ArgRole::Output ? op.getOutput()
              : info.role == ArgRole::Lse  ? op.getLse()
                                           : Value();
    if (!v)
      for (auto [role, operand] : operandRoles(op))
        if (role == info.role)
          v = operand;
    argTypes.push_back(
        memrefFor(cast<RankedTensorType>(v.getType()), info.unitInnerStride));
  }
  auto func = func::FuncOp::create(b, loc, kKernelName,
                                   b.getFunctionType(argTypes, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);

  IRMapping mapping;
  for (Operation *c : constants)
    b.clone(*c, mapping);
  SmallVector<Value> tensors;
  for (auto [i, operand] : llvm::enumerate(op->getOperands()))
    tensors.push_back(bufferization::ToTensorOp::create(
        b, loc, operand.getType(), body->getArgument(i), /*restrict=*/true));
  // Operands are set explicitly rather than through the mapping so that one
  // value used twice (k == v) still becomes two independent buffers.
  Operation *clone = b.clone(*op, mapping);
  clone->setOperands(tensors);
  unsigned next = tensors.size();
  for (Value result : clone->getResults())
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), result, body->getArgument(next++),
        /*restrict=*/true, /*writable=*/true);
  func::ReturnOp::create(b, loc);

  if (failed(verify(*km.module)))
    return diags.takeError("internal error: the kernel wrapper is invalid");
  km.signature = std::move(*sig);
  return km;
}

llvm::Expected<KernelModule>
mlir::attn::rt::buildKernelModule(MLIRContext *ctx, const AttentionSpec &spec) {
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid attention spec: " + err);
  DiagnosticCapture diags(ctx);
  ctx->loadDialect<AttnDialect, func::FuncDialect>();
  OpBuilder b(ctx);
  OwningOpRef<ModuleOp> source = ModuleOp::create(b.getUnknownLoc());
  b.setInsertionPointToEnd(source->getBody());
  FailureOr<func::FuncOp> func =
      buildAttentionFunc(b, b.getUnknownLoc(), spec, "source");
  if (failed(func))
    return diags.takeError("cannot build the attention spec");
  AttentionOp op;
  func->walk([&](AttentionOp found) { op = found; });
  return wrapAttentionOp(op);
}

llvm::Expected<KernelModule>
mlir::attn::rt::buildKernelModule(MLIRContext *ctx, llvm::StringRef mlirText) {
  DiagnosticCapture diags(ctx);
  ParserConfig config(ctx);
  OwningOpRef<ModuleOp> source =
      parseSourceString<ModuleOp>(mlirText, config, "input");
  if (!source)
    return diags.takeError("malformed MLIR input");
  SmallVector<AttentionOp> ops;
  source->walk([&](AttentionOp op) { ops.push_back(op); });
  if (ops.empty())
    return makeError("the MLIR input holds no attn.attention");
  if (ops.size() > 1)
    return makeError("the MLIR input holds " + llvm::Twine(ops.size()) +
                     " attn.attention ops; a kernel compiles exactly one");
  AttentionOp op = ops.front();
  auto func = op->getParentOfType<func::FuncOp>();
  if (!func || func.isExternal())
    return makeError("attn.attention must sit in a func.func body");
  for (auto [role, v] : operandRoles(op)) {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != &func.getBody().front())
      return makeError(llvm::Twine("operand ") + stringifyArgRole(role) +
                       " is computed inside @" + func.getSymName() +
                       "; kernel buffers must be arguments of the function");
  }
  return wrapAttentionOp(op);
}

OutlinedOp
mlir::attn::rt::outlineIntoFunc(Operation *op, llvm::StringRef funcName,
                                llvm::function_ref<Type(Type)> retype) {
  OpBuilder b(op->getContext());
  Location loc = op->getLoc();
  OutlinedOp out{ModuleOp::create(loc), nullptr};
  SmallVector<Type> args, results;
  for (Type t : op->getOperandTypes())
    args.push_back(retype ? retype(t) : t);
  for (Type t : op->getResultTypes())
    results.push_back(retype ? retype(t) : t);
  b.setInsertionPointToEnd(out.module->getBody());
  auto func =
      func::FuncOp::create(b, loc, funcName, b.getFunctionType(args, results));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  IRMapping map;
  for (auto [operand, arg] : llvm::zip(op->getOperands(), body->getArguments()))
    map.map(operand, arg);
  out.clone = b.clone(*op, map);
  for (auto [r, t] : llvm::zip(out.clone->getResults(), results))
    r.setType(t);
  func::ReturnOp::create(b, loc, out.clone->getResults());
  return out;
}
