//===- KernelBuilder.cpp - shared helpers of the GPU kernel emitters ------===//
#include "passes/gpu/KernelBuilder.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

gpu::GPUFuncOp gpu_kernels::createKernelFunc(OpBuilder &b, Location loc,
                                             StringRef name, TypeRange params,
                                             int64_t threads) {
  auto func =
      gpu::GPUFuncOp::create(b, loc, name, b.getFunctionType(params, {}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  func.setKnownBlockSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  return func;
}

SmallVector<Value> gpu_kernels::flatten(const Fragments &f) {
  SmallVector<Value> out;
  for (auto &rowTile : f)
    for (auto &tile : rowTile)
      out.append(tile.begin(), tile.end());
  return out;
}

void gpu_kernels::unflatten(Fragments &f, ValueRange values) {
  auto it = values.begin();
  for (auto &rowTile : f)
    for (auto &tile : rowTile)
      for (Value &x : tile)
        x = *it++;
}

Value KernelBuilder::safeMax(Value m) {
  Value isInf =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, m, cf(kNegInf));
  return select(isInf, cf(0), m);
}

Value KernelBuilder::naturalLse(Value seen, Value base, Value l) {
  Value log2Lse = fadd(base, lg2(select(seen, l, cf(1))));
  return select(seen, fmul(log2Lse, cf(kLn2)), cf(kNegInf));
}

Value KernelBuilder::quadReduce(Value v, bool isMax) {
  for (int32_t off : {1, 2}) {
    Value o = shuffleXor(v, off);
    v = isMax ? fmax(v, o) : fadd(v, o);
  }
  return v;
}

Value KernelBuilder::loadPair(Value mem, ArrayRef<Value> idx) {
  auto ty = VectorType::get({2}, elemType(b.getContext(), g));
  return fragReg(vector::LoadOp::create(b, ty, mem, idx));
}

Value KernelBuilder::packPair(Value lo, Value hi) {
  Type et = elemType(b.getContext(), g);
  Value a = arith::TruncFOp::create(b, et, lo);
  Value c = arith::TruncFOp::create(b, et, hi);
  return fragReg(vector::FromElementsOp::create(b, VectorType::get({2}, et),
                                                ValueRange{a, c}));
}
