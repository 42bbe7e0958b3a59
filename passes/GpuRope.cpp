//===- GpuRope.cpp - rotary embedding of the GPU cache ops (host side) ----===//
//
// attn.cache_append rotates the keys inside its kernel (gpu/AppendKernel.cpp);
// attn.cache_attention launches the query rotation kernel
// (gpu/RopeKernel.cpp) into a scratch buffer before the flash kernel, which
// then reads the rotated queries as its Q: every form of the flash kernel
// (mma.sync, wgmma, split-KV, decode and prefill geometries) serves RoPE
// unchanged. Positions past the tables are the runtime's error before the
// launch (KvStepper::checkRotaryInputs); here only the tables' sizes are
// checked per call when they are run-time sizes.
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashLowering.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_lowering;

namespace {
bool isStatic(Value v) {
  return cast<MemRefType>(v.getType()).hasStaticShape();
}
MemRefType denseType(Value v) {
  auto t = cast<MemRefType>(v.getType());
  return MemRefType::get(t.getShape(), t.getElementType());
}
} // namespace

Value gpu_lowering::rotaryTableChecks(ImplicitLocOpBuilder &b, Value cos,
                                      Value sin, bool wantMaxPos) {
  if (!isStatic(cos) || !isStatic(sin)) {
    // Operands built in order: the IR does not depend on the compiler.
    Value sinPos = memref::DimOp::create(b, sin, 0);
    Value cosPos = memref::DimOp::create(b, cos, 0);
    Value ok =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, sinPos, cosPos);
    cf::AssertOp::create(b, ok,
                         "rotary_sin has as many positions as rotary_cos");
  }
  return wantMaxPos ? memref::DimOp::create(b, cos, 0).getResult() : Value();
}

Value gpu_lowering::emitQueryRotation(OpBuilder &b, CacheAttentionOp op,
                                      Value query, Value lengths) {
  Location loc = op.getLoc();
  RopeAttr rope = op.getRopeAttr();
  auto qTy = cast<MemRefType>(query.getType());
  Value cos =
      asKernelBuffer(b, op, op.getRotaryCos(), denseType(op.getRotaryCos()));
  Value sin =
      asKernelBuffer(b, op, op.getRotarySin(), denseType(op.getRotarySin()));
  GpuRopeQueryGeometry g;
  g.form = gpuRopeForm(rope);
  g.rotaryDim = rope.getRotaryDim();
  g.queryShape.assign(qTy.getShape().begin(), qTy.getShape().end());
  g.heads = g.queryShape[1];
  g.headDim = g.queryShape[3];
  auto ts = cast<MemRefType>(cos.getType()).getShape();
  g.tableShape.assign(ts.begin(), ts.end());
  SmallVector<Value> args = {query, lengths, cos, sin};
  g.dynamic = !llvm::all_of(args, isStatic);

  ImplicitLocOpBuilder ib(loc, b);
  IndexMath im{ib};
  Value gridX = im.c(g.queryShape[2]), gridZ = im.c(g.queryShape[0]);
  SmallVector<Value> sizes;
  if (g.dynamic) {
    gridZ = memref::DimOp::create(ib, query, 0);
    gridX = memref::DimOp::create(ib, query, 2);
    sizes = {gridZ, gridX, rotaryTableChecks(ib, cos, sin, true)};
  }
  // The rotated queries: the flash kernel's Q, in scratch memory.
  Value rotated;
  if (qTy.hasStaticShape()) {
    rotated = memref::AllocOp::create(b, loc, qTy);
  } else {
    Value elems = im.mul(im.mul(im.mul(gridZ, g.heads), gridX), g.headDim);
    rotated = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, qTy.getElementType()),
        ValueRange{elems});
  }
  args.push_back(rotated);
  SmallVector<Type> params;
  for (Value &arg : args) {
    auto t = cast<MemRefType>(arg.getType());
    if (t.hasStaticShape()) {
      params.push_back(t);
      continue;
    }
    // Base pointers: the kernel rebuilds the views from the sizes.
    MemRefType p = gpuKernelParamType(t);
    arg = memref::ReinterpretCastOp::create(b, loc, p, arg, b.getIndexAttr(0),
                                            ArrayRef<OpFoldResult>{},
                                            ArrayRef<OpFoldResult>{});
    params.push_back(p);
  }
  args.append(sizes);
  params.append(sizes.size(), b.getIndexType());

  auto module = op->getParentOfType<ModuleOp>();
  auto func = op->getParentOfType<func::FuncOp>();
  gpu::GPUModuleOp gm = getOrCreateGpuModule(module);
  OpBuilder kb(gm.getBodyRegion());
  kb.setInsertionPointToEnd(gm.getBody());
  gpu::GPUFuncOp kernel = emitRopeQueryKernel(
      kb, loc, g, params,
      uniqueName(gm, (func.getSymName() + "_rope_q").str()));
  gpu::LaunchFuncOp::create(
      b, loc, kernel, gpu::KernelDim3{gridX, im.c(g.heads), gridZ},
      gpu::KernelDim3{im.c(g.threads()), im.c(1), im.c(1)}, Value(), args);
  return rotated;
}
