//===- KernelBuilder.cpp - shared helpers of the GPU kernel emitters ------===//
#include "passes/gpu/KernelBuilder.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
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

Value gpu_kernels::denseView(ImplicitLocOpBuilder &b, Value base,
                             ArrayRef<OpFoldResult> sizes) {
  IndexMath im{b};
  SmallVector<OpFoldResult> strides(sizes.size());
  OpFoldResult stride = b.getIndexAttr(1);
  for (int64_t i = int64_t(sizes.size()) - 1; i >= 0; --i) {
    strides[i] = stride;
    stride = im.mul(stride, sizes[i]);
  }
  SmallVector<int64_t> shape, staticStrides;
  for (auto [size, st] : llvm::zip(sizes, strides)) {
    shape.push_back(IndexMath::known(size).value_or(ShapedType::kDynamic));
    staticStrides.push_back(
        IndexMath::known(st).value_or(ShapedType::kDynamic));
  }
  auto type =
      MemRefType::get(shape, cast<MemRefType>(base.getType()).getElementType(),
                      StridedLayoutAttr::get(b.getContext(), 0, staticStrides));
  return memref::ReinterpretCastOp::create(b, type, base, b.getIndexAttr(0),
                                           sizes, strides);
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

KernelBuilder::SinkFold KernelBuilder::foldSink(Value seen, Value base, Value l,
                                                Value sink) {
  // The sink is one more logit of weight exp(sink) = 2^(sink log2 e) and
  // no value row; a row that saw nothing has no base of its own (-inf).
  Value sink2 = fmul(sink, cf(kLog2e));
  Value m = select(seen, base, cf(kNegInf));
  SinkFold f;
  f.base = safeMax(fmax(m, sink2));
  f.corr = ex2(fsub(m, f.base));
  f.l = fadd(fmul(l, f.corr), ex2(fsub(sink2, f.base)));
  f.seen = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, f.l, cf(0));
  return f;
}

std::tuple<Value, Value, Value>
KernelBuilder::mergeLse(int64_t n, function_ref<Value(int64_t)> lse,
                        function_ref<Value(int64_t)> value) {
  SmallVector<Value> lses;
  Value m = cf(kNegInf);
  for (int64_t i = 0; i < n; ++i) {
    lses.push_back(lse(i));
    m = fmax(m, lses.back());
  }
  Value base = safeMax(m);
  Value den = cf(0), num = cf(0);
  for (int64_t i = 0; i < n; ++i) {
    Value f = ex2(fsub(lses[i], base));
    Value x = value(i);
    den = fadd(den, f);
    num = fadd(num, fmul(f, x));
  }
  return {base, den, num};
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

SmallVector<Value, 4> KernelBuilder::ldmatrix4(Value mem, ArrayRef<Value> idx,
                                               bool transpose, int64_t count) {
  Type et = elemType(b.getContext(), g);
  auto ty = VectorType::get({count, 2}, et);
  Value frag = nvgpu::LdMatrixOp::create(b, ty, mem, idx, transpose, count);
  SmallVector<Value, 4> regs;
  for (int64_t i = 0; i < count; ++i) {
    regs.push_back(
        fragReg(vector::ExtractOp::create(b, frag, ArrayRef<int64_t>{i})));
  }
  return regs;
}

void KernelBuilder::mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
                        SmallVectorImpl<Value> &c) {
  // m16n8k16 takes 4 A and 2 B registers, m16n8k8 (the last k step of a
  // head dim that is an odd multiple of 8) 2 and 1.
  const int64_t kDepth = a.size() == 4 ? 16 : 8;
  auto f32 = b.getF32Type();
  auto resTy =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  NVVM::MMATypes ptx = g.bf16 ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Value r = NVVM::MmaOp::create(
      b, resTy, a, bFrag, c, ArrayRef<int64_t>{16, 8, kDepth}, std::nullopt,
      std::nullopt, std::array<NVVM::MMATypes, 2>{ptx, ptx},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  for (int64_t i = 0; i < 4; ++i)
    c[i] = LLVM::ExtractValueOp::create(b, r, ArrayRef<int64_t>{i});
}
