//===- GpuBackward.cpp - attn.attention_grad -> GPU backward kernels ------===//
//
// The pass attn-gpu-backward: each attn.attention_grad of a kernel function
// on the buffer ABI (operands read from arguments through to_tensor,
// results materialized into arguments) becomes, in the host function, two
// f32 scratch buffers (D = rowsum(dO ∘ O), the dQ accumulator) and three
// launches (passes/gpu/BackwardKernel.h): the per-row pre-pass, the K/V
// block kernel (dK, dV; dQ by atomics), the dQ conversion. The runtime
// reads them as its launch plan, as for the forward. What the kernels do
// not take is a located error naming the option.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "passes/GpuFlashLowering.h"
#include "passes/Passes.h"
#include "passes/gpu/BackwardKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUBACKWARD
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_lowering;

namespace {

/// The function argument a tensor operand was read from (through
/// bufferization.to_tensor), or null.
Value argumentOf(Value tensor) {
  auto toTensor = tensor ? tensor.getDefiningOp<bufferization::ToTensorOp>()
                         : bufferization::ToTensorOp();
  if (!toTensor)
    return {};
  auto arg = dyn_cast<BlockArgument>(toTensor.getBuffer());
  if (!arg || !isa<func::FuncOp>(arg.getOwner()->getParentOp()))
    return {};
  return arg;
}

class GpuBackwardLowering {
public:
  GpuBackwardLowering(AttentionGradOp op, int64_t tileKeys, int64_t tileRows)
      : op(op), tileKeys(tileKeys), tileRows(tileRows) {}
  LogicalResult run();

private:
  LogicalResult refuseOptions();
  LogicalResult fillGeometry();
  void emitLaunches(OpBuilder &b, ArrayRef<Value> in, ArrayRef<Value> out);

  AttentionGradOp op;
  int64_t tileKeys, tileRows;
  GpuBackwardGeometry g;
};

LogicalResult GpuBackwardLowering::refuseOptions() {
  auto refuse = [&](StringRef what) {
    return op.emitOpError("attn-gpu-backward: ")
           << what
           << " has no GPU backward yet (the CPU backward, attn-to-cpu, "
              "takes it)";
  };
  if (op.getBias())
    return refuse("a bias");
  if (op.getGradBias())
    return refuse("a grad_bias result");
  if (op.getBoolMask())
    return refuse("a bool_mask");
  if (op.getQSegmentIds())
    return refuse("segment_ids");
  if (!op.getScoreMod().empty())
    return refuse("a score_mod region");
  if (!op.getMaskMod().empty())
    return refuse("a mask_mod region");
  if (op.getSoftcapAttr())
    return refuse("softcap");
  if (op.getDropoutState())
    return refuse("dropout (dropout_p with a dropout state)");
  if (auto m = op.getMaskAttr()) {
    const MaskSpec &spec = m.getSpec();
    if (spec.hasWindow())
      return refuse("a sliding window (mask window_left / window_right)");
    if (spec.dilation != 1)
      return refuse("a dilated mask (mask dilation)");
    if (spec.globalTokens != 0)
      return refuse("global tokens (mask global_tokens)");
  }
  return success();
}

LogicalResult GpuBackwardLowering::fillGeometry() {
  auto qs = op.getLogicalShape(op.getQuery());
  auto ks = op.getLogicalShape(op.getKey());
  auto vs = op.getLogicalShape(op.getValue());
  for (auto shape : {qs, ks, vs})
    if (llvm::any_of(shape, ShapedType::isDynamic))
      return op.emitOpError("attn-gpu-backward takes static sizes only for "
                            "now (no `?`)");
  Type et = cast<ShapedType>(op.getQuery().getType()).getElementType();
  if (!et.isBF16() && !et.isF16())
    return op.emitOpError("attn-gpu-backward runs f16 and bf16 on tensor "
                          "cores; element type ")
           << et
           << " is not supported on the GPU: convert to bf16 or f16, or "
              "compile for the CPU (attn-to-cpu)";
  g.batch = qs[0];
  g.heads = qs[1];
  g.qLen = qs[2];
  g.headDim = qs[3];
  g.kvHeads = ks[1];
  g.kvLen = ks[2];
  g.valueDim = vs[3];
  if (failed(checkGpuSizes(op, {g.batch, g.heads, g.kvHeads, g.qLen, g.kvLen},
                           "batch, query heads, KV heads, Sq, Skv")))
    return failure();
  g.group = g.heads / g.kvHeads;
  g.bshd = op.getLayoutOrDefault() == Layout::BSHD;
  g.bf16 = et.isBF16();
  g.hasKvLengths = static_cast<bool>(op.getKvLengths());
  if (auto m = op.getMaskAttr())
    g.mask = m.getSpec();
  g.scale = op.getScaleOrDefault();
  std::string why;
  if (failed(chooseGpuBackwardGeometry(g, tileKeys, tileRows, why)))
    return op.emitOpError("attn-gpu-backward: ") << why;
  if (g.backwardSharedBytes() > 227 * 1024)
    return op.emitOpError("attn-gpu-backward: ")
           << g.backwardSharedBytes()
           << " bytes of shared memory exceed the 227 KiB of a block";
  return checkGrid(op, g.kvBlocks(), g.kvHeads, g.batch);
}

void GpuBackwardLowering::emitLaunches(OpBuilder &b, ArrayRef<Value> in,
                                       ArrayRef<Value> out) {
  MLIRContext *ctx = op.getContext();
  Location loc = op.getLoc();
  auto func = op->getParentOfType<func::FuncOp>();
  gpu::GPUModuleOp gm = getOrCreateGpuModule(op->getParentOfType<ModuleOp>());
  OpBuilder kb(gm.getBodyRegion());
  kb.setInsertionPointToEnd(gm.getBody());
  std::string base = func.getSymName().str();
  auto pre =
      emitBackwardPreKernel(kb, loc, g, uniqueName(gm, base + "_bwd_pre"));
  kb.setInsertionPointToEnd(gm.getBody());
  auto main = emitBackwardKernel(kb, loc, g, uniqueName(gm, base + "_bwd"));
  kb.setInsertionPointToEnd(gm.getBody());
  auto dq = emitBackwardDqKernel(kb, loc, g, uniqueName(gm, base + "_bwd_dq"));

  auto idx = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  // in: q, k, v, o, dO, lse, [kv_lengths]; out: dQ, dK, dV.
  Value dsum = memref::AllocOp::create(b, loc, gpuRowStatsType(ctx, g));
  Value acc = memref::AllocOp::create(b, loc, gpuDqAccumType(ctx, g));
  gpu::KernelDim3 rowGrid{idx((g.qLen + 3) / 4), idx(g.heads), idx(g.batch)};
  gpu::KernelDim3 block{idx(128), idx(1), idx(1)};
  gpu::LaunchFuncOp::create(b, loc, pre, rowGrid, block, Value(),
                            ValueRange{in[3], in[4], dsum, acc});
  SmallVector<Value> mainArgs = {in[0], in[1], in[2]};
  if (g.hasKvLengths)
    mainArgs.push_back(in[6]);
  mainArgs.append({in[4], in[5], dsum, acc, out[1], out[2]});
  Value smem = arith::ConstantIntOp::create(b, loc, b.getI32Type(),
                                            g.backwardSharedBytes());
  gpu::LaunchFuncOp::create(
      b, loc, main,
      gpu::KernelDim3{idx(g.kvBlocks()), idx(g.kvHeads), idx(g.batch)},
      gpu::KernelDim3{idx(g.threads()), idx(1), idx(1)}, smem, mainArgs);
  gpu::LaunchFuncOp::create(b, loc, dq, rowGrid, block, Value(),
                            ValueRange{acc, out[0]});
}

LogicalResult GpuBackwardLowering::run() {
  if (failed(refuseOptions()) || failed(fillGeometry()))
    return failure();
  Value inputs[] = {op.getQuery(),  op.getKey(),        op.getValue(),
                    op.getOutput(), op.getGradOutput(), op.getLse()};
  SmallVector<Value> args;
  for (Value v : inputs)
    args.push_back(argumentOf(v));
  Value lengths = op.getKvLengths() ? argumentOf(op.getKvLengths()) : Value();
  if (op.getKvLengths() && !lengths)
    args.push_back(Value()); // reported below
  SmallVector<bufferization::MaterializeInDestinationOp> mats;
  SmallVector<Value> dests;
  for (Value result : {op.getGradQuery(), op.getGradKey(), op.getGradValue()}) {
    auto mat = result.hasOneUse()
                   ? dyn_cast<bufferization::MaterializeInDestinationOp>(
                         *result.getUsers().begin())
                   : bufferization::MaterializeInDestinationOp();
    if (mat && isa<BlockArgument>(mat.getDest())) {
      mats.push_back(mat);
      dests.push_back(mat.getDest());
    }
  }
  if (llvm::is_contained(args, Value()) || dests.size() != 3)
    return op.emitOpError(
        "attn-gpu-backward needs the buffer kernel ABI: operands read from "
        "function arguments through bufferization.to_tensor and dQ, dK, dV "
        "materialized into function arguments (attn-kernel-abi, the first "
        "step of attn-to-nvvm, converts a tensor function)");

  OpBuilder b(op);
  MLIRContext *ctx = op.getContext();
  MemRefType types[] = {gpuQueryType(ctx, g),  gpuKvType(ctx, g),
                        gpuValueType(ctx, g),  gpuOutputType(ctx, g),
                        gpuOutputType(ctx, g), gpuLseType(ctx, g)};
  SmallVector<Value> in, out;
  for (auto [arg, type] : llvm::zip(args, types))
    in.push_back(asKernelBuffer(b, op, arg, type));
  MemRefType outTypes[] = {gpuQueryType(ctx, g), gpuKvType(ctx, g),
                           gpuValueType(ctx, g)};
  for (auto [dest, type] : llvm::zip(dests, outTypes))
    out.push_back(asKernelBuffer(b, op, dest, type));
  if (lengths)
    in.push_back(asKernelBuffer(b, op, lengths, gpuLengthsType(ctx, g)));
  emitLaunches(b, in, out);

  eraseLoweredOp(op, mats);
  return success();
}

struct AttnGpuBackwardPass
    : public attn::impl::AttnGpuBackwardBase<AttnGpuBackwardPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<AttentionGradOp> ops;
    getOperation().walk([&](AttentionGradOp op) { ops.push_back(op); });
    for (AttentionGradOp op : ops)
      if (failed(GpuBackwardLowering(op, tileKeys, tileRows).run()))
        return signalPassFailure();
  }
};

} // namespace
