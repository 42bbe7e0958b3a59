//===- GpuFlash.cpp - attn.attention -> FlashAttention-2 GPU kernels ------===//
//
// Turns each attn.attention of a kernel function (the runtime's buffer ABI:
// operands read from function arguments through to_tensor, the result
// materialized into an argument) into gpu.launch_func ops of kernels emitted
// into `gpu.module @attn_gpu` (passes/gpu/). The host function keeps
// only casts, scratch allocations and launches: the runtime reads those as
// its launch plan.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnOps.h"
#include "dialect/ptx/PtxDialect.h"
#include "passes/GpuFlashKernel.h"
#include "passes/GpuFlashLowering.h"
#include "passes/IndexMath.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/SetVector.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUFLASH
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_lowering;

namespace {
constexpr const char *kGpuModuleName = "attn_gpu";
} // namespace

namespace {
/// The buffer a tensor operand was read from, when it is a function
/// argument (through bufferization.to_tensor).
Value sourceArgument(Value tensor) {
  auto toTensor = tensor.getDefiningOp<bufferization::ToTensorOp>();
  if (!toTensor)
    return {};
  auto arg = dyn_cast<BlockArgument>(toTensor.getBuffer());
  if (!arg || !isa<func::FuncOp>(arg.getOwner()->getParentOp()))
    return {};
  return arg;
}

} // namespace

gpu::GPUModuleOp gpu_lowering::getOrCreateGpuModule(ModuleOp module) {
  if (auto existing = module.lookupSymbol<gpu::GPUModuleOp>(kGpuModuleName))
    return existing;
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  return gpu::GPUModuleOp::create(b, module.getLoc(), kGpuModuleName);
}

std::string gpu_lowering::uniqueName(gpu::GPUModuleOp gm, StringRef base) {
  std::string name = base.str();
  for (int i = 1; gm.lookupSymbol(name); ++i)
    name = (base + "_" + Twine(i)).str();
  return name;
}

/// `arg` as the static, identity-layout memref type the kernel takes (a
/// cast the runtime checks: GPU buffers must be dense).
Value gpu_lowering::asKernelBuffer(OpBuilder &b, Operation *op, Value arg,
                                   MemRefType type) {
  if (arg.getType() == type)
    return arg;
  return memref::CastOp::create(b, op->getLoc(), type, arg);
}

namespace {

/// The private declaration of the split-count host function
/// (kGpuKvSplitsFunc), created on first use.
func::FuncOp kvSplitsDecl(ModuleOp module) {
  if (auto f = module.lookupSymbol<func::FuncOp>(kGpuKvSplitsFunc))
    return f;
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToStart(module.getBody());
  Type index = b.getIndexType();
  auto f =
      func::FuncOp::create(b, module.getLoc(), kGpuKvSplitsFunc,
                           b.getFunctionType({index, index, index}, {index}));
  f.setPrivate();
  return f;
}

/// Host values of one launch of kernels of run-time sizes.
struct RunTimeLaunch {
  Value gridX, gridZ, rows;
  /// Run-time splits: the count, and whether it is more than one.
  Value splits, several;
};

/// The grid of the unsplit flash kernel and, with run-time splits, the
/// split count the runtime picks per call: gpuKvSplits over these sizes
/// (the same choice the pass makes for static ones).
RunTimeLaunch runTimeLaunch(ImplicitLocOpBuilder &ib, ModuleOp module,
                            const GpuFlashGeometry &g,
                            ArrayRef<Value> runTimeSizes, int64_t numSms) {
  IndexMath hm{ib};
  RunTimeLaunch r;
  r.rows = g.dynQLen ? hm.mul(runTimeSizes[1], g.group) : hm.c(g.rows());
  r.gridX = g.dynQLen ? hm.ceilDiv(r.rows, g.blockRows()) : hm.c(g.rowBlocks());
  r.gridZ = g.dynBatch ? runTimeSizes[0] : hm.c(g.batch);
  if (!g.runTimeSplits)
    return r;
  // Skv: the key length, or a cache's capacity (as the static choice).
  Value kvLen = runTimeSizes[2];
  Value blocks = hm.mul(hm.mul(r.gridX, g.kvHeads), r.gridZ);
  Value cap = hm.max(hm.c(1), hm.min(hm.div(hm.ceilDiv(kvLen, g.tileKv), 4),
                                     hm.div(kvLen, hm.mul(r.rows, 64))));
  r.splits = func::CallOp::create(ib, kvSplitsDecl(module),
                                  ValueRange{blocks, cap, hm.c(numSms)})
                 .getResult(0);
  r.several = hm.lt(hm.c(1), r.splits);
  r.gridX = hm.mul(r.gridX, r.splits);
  return r;
}

} // namespace

void gpu_lowering::eraseLoweredOp(
    Operation *op, ArrayRef<bufferization::MaterializeInDestinationOp> mats) {
  // A set: K and V (or any two operands) may read the same buffer, and an
  // op must not be visited again after it is erased.
  llvm::SetVector<Operation *> maybeDead;
  for (Value operand : op->getOperands())
    if (Operation *def = operand.getDefiningOp())
      maybeDead.insert(def);
  for (auto mat : mats)
    mat.erase();
  op->erase();
  for (Operation *def : maybeDead)
    if (def->use_empty())
      def->erase();
}

/// Emits the kernels of `g` into @attn_gpu and, at `b`, their launches:
/// the flash kernel over (row blocks x splits, KV heads, batch) reading
/// `inputs` (q, k, v, [lengths], [block table]), then with splits the
/// combine kernel writing `out` (and `lse` when given).
void gpu_lowering::emitLaunches(OpBuilder &b, Operation *op,
                                const GpuFlashGeometry &g,
                                SmallVector<Value> inputs, Value out, Value lse,
                                ArrayRef<Value> runTimeSizes, int64_t numSms) {
  MLIRContext *ctx = op->getContext();
  Location loc = op->getLoc();
  auto module = op->getParentOfType<ModuleOp>();
  auto func = op->getParentOfType<func::FuncOp>();
  gpu::GPUModuleOp gm = getOrCreateGpuModule(module);
  OpBuilder kb(gm.getBodyRegion());
  kb.setInsertionPointToEnd(gm.getBody());
  gpu::GPUFuncOp flash = emitFlashKernel(
      kb, loc, g, uniqueName(gm, (func.getSymName() + "_flash").str()));
  gpu::GPUFuncOp combine;
  if (g.splits > 1 || g.runTimeSplits) {
    kb.setInsertionPointToEnd(gm.getBody());
    combine = emitCombineKernel(
        kb, loc, g, uniqueName(gm, (func.getSymName() + "_combine").str()));
  }

  auto idx = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  ImplicitLocOpBuilder ib(loc, b);
  RunTimeLaunch rl;
  if (g.dynamicSizes())
    rl = runTimeLaunch(ib, module, g, runTimeSizes, numSms);
  const size_t inputCount = inputs.size();
  SmallVector<Value> args = std::move(inputs);
  Value partOut, partLse;
  if (g.splits == 1) {
    args.push_back(out);
    if (lse)
      args.push_back(lse);
  }
  if (g.splits > 1) {
    partOut = memref::AllocOp::create(b, loc, gpuScratchOutType(ctx, g));
    partLse = memref::AllocOp::create(b, loc, gpuScratchLseType(ctx, g));
    args.append({partOut, partLse});
  } else if (g.runTimeSplits) {
    // Partials of B * Hkv * rows * splits rows when split, none (0 rows)
    // when not: min(splits - 1, 1) is 0 or 1.
    IndexMath hm{ib};
    Value partRows =
        hm.mul(hm.mul(hm.mul(hm.mul(rl.gridZ, g.kvHeads), rl.rows), rl.splits),
               hm.min(hm.sub(rl.splits, 1), hm.c(1)));
    partOut = memref::AllocOp::create(b, loc, gpuScratchOutType(ctx, g),
                                      ValueRange{partRows});
    partLse = memref::AllocOp::create(b, loc, gpuScratchLseType(ctx, g),
                                      ValueRange{partRows});
    args.append({partOut, partLse});
  }
  if (g.tma) {
    // The K and V tensor maps: 128-byte buffers the runtime fills per
    // launch (cuTensorMapEncodeTiled with the buffer's address) from the
    // `attn.tensor_map` description.
    GpuTensorMapSpec spec = gpuKvTensorMap(g);
    for (Value source : {args[1], args[2]}) {
      if (auto cast = source.getDefiningOp<memref::CastOp>())
        source = cast.getSource();
      auto map = memref::AllocOp::create(b, loc, gpuTensorMapType(ctx));
      AttnDialect::TensorMapAttrHelper(ctx).setAttr(
          map,
          TensorMapAttr::get(ctx, cast<BlockArgument>(source).getArgNumber(),
                             b.getDenseI64ArrayAttr(spec.dims),
                             b.getDenseI64ArrayAttr(spec.strides),
                             b.getDenseI64ArrayAttr(spec.box), spec.swizzle));
      args.push_back(map);
    }
  }
  Value gridX = idx(g.rowBlocks() * g.splits), gridZ = idx(g.batch);
  // Buffers of run-time shape pass their base pointers.
  auto basePointer = [&](Value arg) -> Value {
    auto t = cast<MemRefType>(arg.getType());
    if (t.hasStaticShape())
      return arg;
    return memref::ReinterpretCastOp::create(
        b, loc, gpuKernelParamType(t), arg, b.getIndexAttr(0),
        ArrayRef<OpFoldResult>{}, ArrayRef<OpFoldResult>{});
  };
  if (g.dynamicSizes()) {
    // Launch dims as host expressions of the run-time sizes (the runtime
    // evaluates them per call); the sizes follow the buffers as index
    // parameters, then the split count.
    gridX = rl.gridX;
    gridZ = rl.gridZ;
    for (Value &arg : args)
      arg = basePointer(arg);
    llvm::append_range(args, runTimeSizes);
    if (g.runTimeSplits)
      args.push_back(rl.splits);
  }
  Value smem =
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), g.sharedBytes());
  gpu::LaunchFuncOp::create(
      b, loc, flash, gpu::KernelDim3{gridX, idx(g.kvHeads), gridZ},
      gpu::KernelDim3{idx(g.threads()), idx(1), idx(1)}, smem, args);
  if (!combine)
    return;
  SmallVector<Value> combineArgs = {partOut, partLse, out};
  if (lse)
    combineArgs.push_back(lse);
  if (g.hasSinks) // the last input
    combineArgs.push_back(args[inputCount - 1]);
  if (!g.runTimeSplits) {
    gpu::LaunchFuncOp::create(
        b, loc, combine,
        gpu::KernelDim3{idx(g.rows()), idx(g.kvHeads), idx(g.batch)},
        gpu::KernelDim3{idx(128), idx(1), idx(1)}, Value(), combineArgs);
    return;
  }
  // Only a split call has partials to merge: the runtime skips the launch
  // when the condition is false.
  for (Value &arg : combineArgs)
    arg = basePointer(arg);
  combineArgs.append({runTimeSizes[0], runTimeSizes[1], rl.splits});
  auto ifSplit = scf::IfOp::create(b, loc, rl.several, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifSplit.thenBlock());
  gpu::LaunchFuncOp::create(
      b, loc, combine, gpu::KernelDim3{rl.rows, idx(g.kvHeads), rl.gridZ},
      gpu::KernelDim3{idx(128), idx(1), idx(1)}, Value(), combineArgs);
}

/// CUDA launches need a non-empty grid of at most 2^31 - 1 blocks in x and
/// 65535 in y and z. Zero sizes (an empty batch, no heads, no queries or
/// keys, an empty page pool) are rejected here with the reason; the CPU
/// pipeline runs them as no-ops. Call before anything divides by a size.
LogicalResult gpu_lowering::checkGpuSizes(Operation *op,
                                          ArrayRef<int64_t> sizes,
                                          StringRef names) {
  if (llvm::is_contained(sizes, 0))
    return op->emitOpError()
           << "attn-gpu-flash needs non-empty sizes (" << names
           << "); zero-sized problems run on the CPU pipeline (attn-to-cpu)";
  return success();
}

LogicalResult gpu_lowering::checkGpuSinks(Operation *op, Value sinks) {
  if (sinks && !cast<ShapedType>(sinks.getType()).hasStaticShape())
    return op->emitOpError("attn-gpu-flash needs sinks of static shape [Hq] "
                           "(one f32 logit per query head); got ")
           << sinks.getType();
  return success();
}

LogicalResult gpu_lowering::checkGrid(Operation *op, int64_t x, int64_t y,
                                      int64_t z) {
  if (x > std::numeric_limits<int32_t>::max() || y > 65535 || z > 65535)
    return op->emitOpError()
           << "attn-gpu-flash: grid (" << x << ", " << y << ", " << z
           << ") exceeds CUDA's limits (2^31 - 1, 65535, 65535)";
  return success();
}

namespace {

class GpuAttentionLowering {
public:
  GpuAttentionLowering(AttentionOp op, GpuFlashOverrides overrides,
                       int64_t numSms)
      : op(op), overrides(overrides), numSms(numSms) {}
  LogicalResult run();

private:
  LogicalResult checkSupported();
  LogicalResult fillGeometry();

  AttentionOp op;
  GpuFlashOverrides overrides;
  int64_t numSms;
  GpuFlashGeometry g;
};

LogicalResult GpuAttentionLowering::checkSupported() {
  // score_mod / mask_mod are inlined into the kernel: values they use from
  // outside must be constants (cloned along); anything else lives on the
  // host.
  for (Region *region : {&op.getScoreMod(), &op.getMaskMod()}) {
    if (region->empty())
      continue;
    WalkResult r = region->walk([&](Operation *inner) {
      for (Value operand : inner->getOperands()) {
        if (region->isAncestor(operand.getParentRegion()))
          continue;
        Operation *def = operand.getDefiningOp();
        if (def && def->hasTrait<OpTrait::ConstantLike>())
          continue;
        inner->emitOpError("uses a value defined outside its ")
            << (region == &op.getScoreMod() ? "score_mod" : "mask_mod")
            << " region that is not a constant; attn-gpu-flash inlines the "
               "region into the GPU kernel, where only constants can follow";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      return failure();
  }
  return success();
}

LogicalResult GpuAttentionLowering::fillGeometry() {
  auto qs = op.getLogicalShape(op.getQuery());
  auto ks = op.getLogicalShape(op.getKey());
  auto vs = op.getLogicalShape(op.getValue());
  // Batch, Sq and Skv may be run-time sizes (`?`); heads and head dims
  // shape the kernel.
  for (auto shape : {qs, ks, vs})
    if (ShapedType::isDynamic(shape[1]) || ShapedType::isDynamic(shape[3]))
      return op.emitOpError("attn-gpu-flash needs static head counts and "
                            "head dims (batch, Sq and Skv may be `?`)");
  g.dynBatch = ShapedType::isDynamic(qs[0]);
  g.dynQLen = ShapedType::isDynamic(qs[2]);
  g.dynKvLen = ShapedType::isDynamic(ks[2]);
  if (g.dynBatch != ShapedType::isDynamic(ks[0]) ||
      g.dynBatch != ShapedType::isDynamic(vs[0]) ||
      g.dynKvLen != ShapedType::isDynamic(vs[2]))
    return op.emitOpError("attn-gpu-flash needs q, k and v to agree on "
                          "which of batch and Skv are run-time sizes");
  if (g.dynamicSizes() && (op.getBias() || op.getBoolMask() ||
                           op.getQSegmentIds() || op.getKvSegmentIds()))
    return op.emitOpError(
        "attn-gpu-flash with run-time sizes (`?`) takes no bias, bool_mask "
        "or segment ids yet; give those kernels static sizes");
  Type et = cast<ShapedType>(op.getQuery().getType()).getElementType();
  if (!et.isBF16() && !et.isF16())
    return op.emitOpError("attn-gpu-flash runs f16 and bf16 on tensor cores; "
                          "element type ")
           << et
           << " is not supported on the GPU: convert the operands to bf16 "
              "or f16 before the kernel, or compile for the CPU (attn-to-cpu)";
  // Run-time sizes: the tiles of a long prefill (the launch adapts the
  // grid and picks the split count per call).
  constexpr int64_t kRunTimeLen = 4096;
  g.batch = g.dynBatch ? 1 : qs[0];
  g.heads = qs[1];
  g.qLen = g.dynQLen ? kRunTimeLen : qs[2];
  g.headDim = qs[3];
  g.valueDim = vs[3];
  g.kvHeads = ks[1];
  g.kvLen = g.dynKvLen ? kRunTimeLen : ks[2];
  g.group = g.heads / g.kvHeads;
  g.bshd = op.getLayoutOrDefault() == Layout::BSHD;
  g.bf16 = et.isBF16();
  g.hasKvLengths = static_cast<bool>(op.getKvLengths());
  g.hasDropoutState = static_cast<bool>(op.getDropoutState());
  if (auto rate = op.getDropoutP())
    g.dropoutP = rate->convertToDouble();
  g.hasLse = static_cast<bool>(op.getLse());
  g.hasSinks = static_cast<bool>(op.getSinks());
  if (failed(checkGpuSinks(op, op.getSinks())))
    return failure();
  if (Value bias = op.getBias()) {
    auto bt = cast<ShapedType>(bias.getType());
    if (!bt.hasStaticShape())
      return op.emitOpError("attn-gpu-flash needs a static bias shape");
    g.biasShape.assign(bt.getShape().begin(), bt.getShape().end());
    g.biasType = bt.getElementType();
  }
  if (Value m = op.getBoolMask()) {
    auto mt = cast<ShapedType>(m.getType());
    if (!mt.hasStaticShape())
      return op.emitOpError("attn-gpu-flash needs a static bool_mask shape");
    g.boolMaskShape.assign(mt.getShape().begin(), mt.getShape().end());
  }
  g.hasSegments = static_cast<bool>(op.getQSegmentIds());
  if (!op.getScoreMod().empty())
    g.scoreMod = &op.getScoreMod();
  if (!op.getMaskMod().empty())
    g.maskMod = &op.getMaskMod();
  if (auto m = op.getMaskAttr())
    g.mask = m.getSpec();
  g.scale = op.getScaleOrDefault();
  if (failed(fillBlockSparse(op, g)))
    return failure();
  if (auto cap = op.getSoftcapAttr())
    g.softcap = cap.getValueAsDouble();
  std::string why;
  if (failed(checkGpuSizes(op, {g.batch, g.heads, g.qLen, g.kvLen},
                           "batch, query heads, Sq, Skv")))
    return failure();
  if (failed(checkGpuFlashSupport(g, why)))
    return op.emitOpError("attn-gpu-flash: ") << why;
  if (failed(chooseGpuFlashGeometry(g, overrides, numSms, why)))
    return op.emitOpError("attn-gpu-flash: ") << why;
  return checkGrid(op, g.rowBlocks() * g.splits, g.kvHeads, g.batch);
}

LogicalResult GpuAttentionLowering::run() {
  if (failed(checkSupported()) || failed(fillGeometry()))
    return failure();

  // The kernel ABI: operands from arguments, the result into an argument.
  Value q = sourceArgument(op.getQuery()), k = sourceArgument(op.getKey()),
        v = sourceArgument(op.getValue());
  Value lengths =
      op.getKvLengths() ? sourceArgument(op.getKvLengths()) : Value();
  Value biasArg = op.getBias() ? sourceArgument(op.getBias()) : Value();
  Value maskArg = op.getBoolMask() ? sourceArgument(op.getBoolMask()) : Value();
  Value qSegArg =
      op.getQSegmentIds() ? sourceArgument(op.getQSegmentIds()) : Value();
  Value kvSegArg =
      op.getKvSegmentIds() ? sourceArgument(op.getKvSegmentIds()) : Value();
  Value dropoutArg =
      op.getDropoutState() ? sourceArgument(op.getDropoutState()) : Value();
  Value sinksArg = op.getSinks() ? sourceArgument(op.getSinks()) : Value();
  // Each result must be materialized into a function argument.
  SmallVector<bufferization::MaterializeInDestinationOp> materializations;
  auto destination = [&](Value result) -> Value {
    if (!result || !result.hasOneUse())
      return {};
    auto mat = dyn_cast<bufferization::MaterializeInDestinationOp>(
        *result.getUsers().begin());
    if (!mat || !isa<BlockArgument>(mat.getDest()))
      return {};
    materializations.push_back(mat);
    return mat.getDest();
  };
  Value out = destination(op.getOutput());
  Value lseDest = destination(op.getLse());
  if (op.getLse() && !lseDest)
    out = Value();
  if (!q || !k || !v || (op.getKvLengths() && !lengths) ||
      (op.getBias() && !biasArg) || (op.getBoolMask() && !maskArg) ||
      (op.getQSegmentIds() && (!qSegArg || !kvSegArg)) ||
      (op.getDropoutState() && !dropoutArg) ||
      (op.getSinks() && !sinksArg) || !out)
    return op.emitOpError(
        "attn-gpu-flash needs the buffer kernel ABI: operands read from "
        "function arguments through bufferization.to_tensor and the result "
        "materialized into a function argument (as the runtime builds it; "
        "attn-kernel-abi, the first step of attn-to-nvvm, converts a tensor "
        "function)");

  OpBuilder b(op);
  MLIRContext *ctx = op.getContext();
  SmallVector<Value> inputs = {asKernelBuffer(b, op, q, gpuQueryType(ctx, g)),
                               asKernelBuffer(b, op, k, gpuKvType(ctx, g)),
                               asKernelBuffer(b, op, v, gpuValueType(ctx, g))};
  if (biasArg)
    inputs.push_back(asKernelBuffer(b, op, biasArg,
                                    MemRefType::get(g.biasShape, g.biasType)));
  if (maskArg)
    inputs.push_back(asKernelBuffer(
        b, op, maskArg, MemRefType::get(g.boolMaskShape, b.getI1Type())));
  if (qSegArg) {
    inputs.push_back(asKernelBuffer(
        b, op, qSegArg, MemRefType::get({g.batch, g.qLen}, b.getI32Type())));
    inputs.push_back(asKernelBuffer(
        b, op, kvSegArg, MemRefType::get({g.batch, g.kvLen}, b.getI32Type())));
  }
  if (g.blockSparse()) {
    Value counts = sourceArgument(op.getKvNumBlocks()),
          lists = sourceArgument(op.getKvIndices());
    if (!counts || !lists)
      return op.emitOpError("attn-gpu-flash needs kv_num_blocks and "
                            "kv_indices read from function arguments");
    inputs.append({asKernelBuffer(b, op, counts, gpuBlockCountsType(ctx, g)),
                   asKernelBuffer(b, op, lists, gpuBlockIndicesType(ctx, g))});
  }
  if (lengths)
    inputs.push_back(asKernelBuffer(b, op, lengths, gpuLengthsType(ctx, g)));
  if (dropoutArg)
    inputs.push_back(
        asKernelBuffer(b, op, dropoutArg, gpuDropoutStateType(ctx)));
  if (sinksArg)
    inputs.push_back(asKernelBuffer(b, op, sinksArg, gpuSinksType(ctx, g)));
  Value lseBuf =
      lseDest ? asKernelBuffer(b, op, lseDest, gpuLseType(ctx, g)) : Value();
  SmallVector<Value> sizes;
  if (g.dynamicSizes()) {
    // Batch and Sq from the query, Skv from the key buffer.
    int64_t seqDim = g.bshd ? 1 : 2;
    for (auto [buf, dim] :
         {std::pair{inputs[0], int64_t(0)}, std::pair{inputs[0], seqDim},
          std::pair{inputs[1], seqDim}})
      sizes.push_back(memref::DimOp::create(b, op.getLoc(), buf, dim));
  }
  emitLaunches(b, op, g, inputs,
               asKernelBuffer(b, op, out, gpuOutputType(ctx, g)), lseBuf, sizes,
               numSms);

  eraseLoweredOp(op, materializations);
  return success();
}

struct AttnGpuFlashPass
    : public attn::impl::AttnGpuFlashBase<AttnGpuFlashPass> {
  using Base::Base;
  void runOnOperation() override {
    GpuFlashOverrides overrides{kvSplits, tileKv, warpRowTiles, stages};
    overrides.keyWarps = keyWarps;
    overrides.tma = tma;
    overrides.mma = mma;
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) { ops.push_back(op); });
    for (AttentionOp op : ops)
      if (failed(GpuAttentionLowering(op, overrides, numSms).run()))
        return signalPassFailure();
    SmallVector<CacheAttentionOp> cacheOps;
    getOperation().walk([&](CacheAttentionOp op) { cacheOps.push_back(op); });
    for (CacheAttentionOp op : cacheOps)
      if (failed(lowerCacheAttention(op, overrides, numSms)))
        return signalPassFailure();
    SmallVector<CacheAppendOp> appends;
    getOperation().walk([&](CacheAppendOp op) { appends.push_back(op); });
    for (CacheAppendOp op : appends)
      if (failed(lowerCacheAppend(op)))
        return signalPassFailure();
    SmallVector<MergeStatesOp> merges;
    getOperation().walk([&](MergeStatesOp op) { merges.push_back(op); });
    for (MergeStatesOp op : merges)
      if (failed(lowerMergeStates(op)))
        return signalPassFailure();
    // The backward is attn-gpu-backward's (attn-to-nvvm runs it first): say
    // so rather than leave the op in a module that would compile without it.
    WalkResult grads = getOperation().walk([](AttentionGradOp op) {
      op.emitOpError("attn-gpu-flash does not lower the backward: run "
                     "attn-gpu-backward first (attn-to-nvvm does)");
      return WalkResult::interrupt();
    });
    if (grads.wasInterrupted())
      return signalPassFailure();
    WalkResult cpuOnly = getOperation().walk([](Operation *op) {
      if (!isa<AdditiveAttentionOp, MultiHeadAttentionOp>(op))
        return WalkResult::advance();
      op->emitOpError("attn-gpu-flash: ")
          << (isa<AdditiveAttentionOp>(op) ? "additive attention"
                                           : "an attention layer")
          << " has no GPU lowering yet (CPU only: attn-to-cpu)";
      return WalkResult::interrupt();
    });
    if (cpuOnly.wasInterrupted())
      return signalPassFailure();
  }
};

} // namespace
