//===- BackwardKernel.cpp - the kernel ABI of attn.attention_grad ---------===//
//
// Wraps one attn.attention_grad for a spec into the buffer-level kernel
// function, like KernelBuilder.cpp does for the forward: one strided memref
// per buffer of signatureForBackwardSpec (query, key, value, [kv_lengths],
// output, grad_output, lse, then grad_query, grad_key, grad_value), inputs
// read through bufferization.to_tensor, the gradients materialized into
// their buffers. From MLIR, the forward's attn.attention gives the spec and
// its score_mod / mask_mod regions (cloned with the constants they use).
//
//===----------------------------------------------------------------------===//
#include "runtime/BackwardKernel.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/Errors.h"
#include "runtime/RegionInterpreter.h"

#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/RegionUtils.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

Type mlir::attn::rt::kernelElementType(MLIRContext *ctx, DType t) {
  Builder b(ctx);
  switch (t) {
  case DType::F16:
    return b.getF16Type();
  case DType::BF16:
    return b.getBF16Type();
  case DType::I32:
    return b.getI32Type();
  case DType::I1:
    return b.getI1Type();
  case DType::I64:
    return b.getI64Type();
  case DType::F32:
    break;
  }
  return b.getF32Type();
}

static MemRefType memrefOf(MLIRContext *ctx, const ArgInfo &a) {
  SmallVector<int64_t, 4> strides(a.shape.size(), ShapedType::kDynamic);
  if (a.unitInnerStride && !strides.empty())
    strides.back() = 1;
  return MemRefType::get(
      a.shape, kernelElementType(ctx, a.dtype),
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

KernelFuncBody mlir::attn::rt::beginKernelFunc(OpBuilder &b, KernelModule &km) {
  MLIRContext *ctx = b.getContext();
  Location loc = UnknownLoc::get(ctx);
  km.module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(km.module->getBody());
  SmallVector<Type> argTypes;
  for (const ArgInfo &a : km.signature.args)
    argTypes.push_back(memrefOf(ctx, a));
  KernelFuncBody body;
  body.func = func::FuncOp::create(b, loc, kKernelName,
                                   b.getFunctionType(argTypes, {}));
  body.func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = body.func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  for (auto [i, a] : llvm::enumerate(km.signature.args)) {
    auto tensorTy =
        RankedTensorType::get(a.shape, kernelElementType(ctx, a.dtype));
    if (a.isOutput) {
      body.outputs.push_back({tensorTy, entry->getArgument(i)});
      continue;
    }
    body.inputs[unsigned(a.role)] = bufferization::ToTensorOp::create(
        b, loc, tensorTy, entry->getArgument(i), /*restrict=*/true);
  }
  return body;
}

void mlir::attn::rt::endKernelFunc(OpBuilder &b, const KernelFuncBody &body,
                                   ValueRange results) {
  Location loc = func::FuncOp(body.func).getLoc();
  for (auto [result, out] : llvm::zip(results, body.outputs))
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), result, out.second, /*restrict=*/true,
        /*writable=*/true);
  func::ReturnOp::create(b, loc);
}

namespace {

/// Clones the score_mod and mask_mod regions of `source` into `grad`, with
/// the constants they capture cloned before `grad`.
void cloneModRegions(OpBuilder &b, AttentionOp source, AttentionGradOp grad) {
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(source->getRegions(), captured);
  IRMapping map;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(grad);
  for (Value v : captured)
    b.clone(*v.getDefiningOp(), map); // constants (wrapAttentionOp checks)
  source.getScoreMod().cloneInto(&grad.getScoreMod(), map);
  source.getMaskMod().cloneInto(&grad.getMaskMod(), map);
}

/// The backward's buffers for the forward signature of an op: the
/// forward's inputs (the op's operands in order: bool_mask, bias,
/// kv_lengths, segment ids), then output, grad_output, lse and the
/// gradients as signatureForBackwardSpec has them.
KernelSignature backwardSignatureOf(const KernelSignature &forward) {
  KernelSignature sig = signatureForBackwardSpec(forward.spec);
  llvm::SmallVector<ArgInfo, 6> args;
  for (const ArgInfo &a : forward.args)
    if (!a.isOutput)
      args.push_back(a);
  for (const ArgInfo &a : sig.args)
    if (!llvm::is_contained({ArgRole::Query, ArgRole::Key, ArgRole::Value,
                             ArgRole::KvLengths, ArgRole::DropoutState},
                            a.role))
      args.push_back(a);
  sig.args = std::move(args);
  return sig;
}

/// The backward of `spec` for the buffers of `signature`, with the regions
/// of `source` when given.
llvm::Expected<KernelModule> buildBackward(MLIRContext *ctx,
                                           const AttentionSpec &spec,
                                           KernelSignature signature,
                                           AttentionOp source) {
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid attention spec: " + err);
  if (spec.withSinks)
    return makeError("invalid backward spec: attention sinks have no "
                     "backward yet");
  DiagnosticCapture diags(ctx);
  ctx->loadDialect<AttnDialect, func::FuncDialect,
                   bufferization::BufferizationDialect>();
  KernelModule km;
  km.signature = std::move(signature);
  OpBuilder b(ctx);
  KernelFuncBody body = beginKernelFunc(b, km);
  Location loc = body.func.getLoc();
  auto &outputs = body.outputs;
  auto in = [&](ArgRole r) { return body.inputs.lookup(unsigned(r)); };
  auto op = AttentionGradOp::create(
      b, loc, outputs[0].first, outputs[1].first, outputs[2].first,
      /*grad_bias=*/Type(), in(ArgRole::Query), in(ArgRole::Key),
      in(ArgRole::Value), in(ArgRole::Output), in(ArgRole::GradOutput),
      in(ArgRole::Lse), in(ArgRole::BoolMask), in(ArgRole::Bias),
      in(ArgRole::KvLengths), in(ArgRole::QSegmentIds),
      in(ArgRole::KvSegmentIds), in(ArgRole::DropoutState),
      spec.scale ? b.getF32FloatAttr(*spec.scale) : FloatAttr(),
      spec.softcap ? b.getF32FloatAttr(*spec.softcap) : FloatAttr(),
      spec.mask.isTrivial() ? MaskAttr() : MaskAttr::get(ctx, spec.mask),
      spec.layout == Layout::BHSD ? LayoutAttr()
                                  : LayoutAttr::get(ctx, spec.layout),
      spec.dropout ? b.getF64FloatAttr(*spec.dropout) : FloatAttr());
  if (source) {
    cloneModRegions(b, source, op);
    km.signature.hasScoreMod = !source.getScoreMod().empty();
    km.signature.hasMaskMod = !source.getMaskMod().empty();
    attachRegionPrograms(source, km.signature);
  }
  endKernelFunc(b, body, op->getResults());
  if (failed(verify(*km.module)))
    return diags.takeError("internal error: the backward kernel is invalid");
  return km;
}

} // namespace

llvm::Expected<KernelModule>
mlir::attn::rt::buildBackwardKernelModule(MLIRContext *ctx,
                                          const AttentionSpec &spec) {
  return buildBackward(ctx, spec, signatureForBackwardSpec(spec),
                       AttentionOp());
}

llvm::Expected<KernelModule>
mlir::attn::rt::buildBackwardKernelModule(MLIRContext *ctx,
                                          llvm::StringRef mlirText) {
  // The forward's wrapper checks the input (one op, operands that are
  // function arguments, regions that capture constants only).
  auto forward = buildKernelModule(ctx, mlirText);
  if (!forward)
    return forward.takeError();
  AttentionOp op;
  forward->module->walk([&](AttentionOp found) { op = found; });
  return buildBackward(ctx, forward->signature.spec,
                       backwardSignatureOf(forward->signature), op);
}
