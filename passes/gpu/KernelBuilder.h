//===- KernelBuilder.h - shared helpers of the GPU kernel emitters -*- C++
//-*-===//
//
// What every kernel of passes/gpu/ builds with: f32 arithmetic as the
// NVPTX backend wants it (llvm.maxnum, approximate ex2/lg2: no libdevice),
// warp shuffles, the indices of a q/k/v/out element, and the 16-bit pairs
// that are one mma operand register. Internal to passes/gpu/.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPU_KERNELBUILDER_H
#define ATTN_PASSES_GPU_KERNELBUILDER_H

#include "passes/GpuFlashKernel.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>
#include <tuple>

namespace mlir::attn::gpu_kernels {

inline constexpr float kLog2e = 1.4426950408889634f;
inline constexpr float kLn2 = 0.69314718055994531f;
inline const float kNegInf = -std::numeric_limits<float>::infinity();

/// The element type of q/k/v/out: bf16 or f16.
Type elemType(MLIRContext *ctx, const GpuFlashGeometry &g);

/// A gpu.func kernel with a known block size of `threads` x 1 x 1.
gpu::GPUFuncOp createKernelFunc(OpBuilder &b, Location loc, StringRef name,
                                TypeRange params, int64_t threads);

/// `base` (a rank-0 memref parameter: a buffer of run-time shape) as the
/// dense row-major buffer of `sizes`; strides static where every size
/// inside them is.
Value denseView(ImplicitLocOpBuilder &b, Value base,
                ArrayRef<OpFoldResult> sizes);

/// Per-thread mma accumulators: [m tile][n tile][4 f32].
using Fragments = SmallVector<SmallVector<SmallVector<Value>>>;

/// The fragments as one value list (scf.if / scf.yield operands).
SmallVector<Value> flatten(const Fragments &f);
/// Overwrites `f` with `values` laid out as flatten() produces them.
void unflatten(Fragments &f, ValueRange values);

/// The helpers the kernel emitters share.
class KernelBuilder {
public:
  KernelBuilder(ImplicitLocOpBuilder &b, const GpuFlashGeometry &g)
      : b(b), im{b}, g(g) {}

protected:
  // f32 helpers.
  Value cf(float v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  // llvm.maxnum, not arith.maxnumf: the latter becomes a libdevice call.
  Value fmax(Value x, Value y) { return LLVM::MaxNumOp::create(b, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value ex2(Value x) { return nvvmUnary("llvm.nvvm.ex2.approx.ftz.f", x); }
  Value lg2(Value x) { return nvvmUnary("llvm.nvvm.lg2.approx.ftz.f", x); }
  /// The exponent base a row subtracts: its max, or 0 while the row has
  /// seen nothing (so that exp2(-inf - base) stays 0 instead of NaN).
  Value safeMax(Value m);
  /// The natural-log log-sum-exp of a row from its base-2 running max and
  /// sum (-inf for a row that saw nothing).
  Value naturalLse(Value seen, Value base, Value l);
  /// A row's final state with its attention sink counted: from the row's
  /// base-2 base (its max, or anything when `seen` is false) and sum, and
  /// the sink's natural-log logit, the new base (max with the sink's
  /// base-2 logit), the factor `corr` that moves sums and outputs onto it,
  /// the sum plus the sink's weight, and whether that sum is positive. The
  /// row's output is then acc * corr / l; a row that saw no key gives 0
  /// and lse = sink.
  struct SinkFold {
    Value seen, base, corr, l;
  };
  SinkFold foldSink(Value seen, Value base, Value l, Value sink);
  /// The lse-weighted merge of `n` states (the split-KV combine, and
  /// attn.merge_states): `lse(i)` gives state i's base-2 log-sum-exp,
  /// `value(i)` its output (f32); returns the base the weights are
  /// relative to, their sum (den) and the weighted sum of the outputs
  /// (num). States of lse -inf weigh 0; with all of them den is 0.
  std::tuple<Value, Value, Value> mergeLse(int64_t n,
                                           function_ref<Value(int64_t)> lse,
                                           function_ref<Value(int64_t)> value);
  Value shuffleXor(Value v, int32_t offset) {
    return gpu::ShuffleOp::create(b, v, offset, 32, gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
  /// Reduces over the 4 lanes holding one row of a C fragment.
  Value quadReduce(Value v, bool isMax);
  Value i32ToIndex(Value v) {
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
  Value i32(Value index) {
    return arith::IndexCastUIOp::create(b, b.getI32Type(), index);
  }
  /// Indices of element (batch, head, seq, d) of a q/k/v/out buffer.
  SmallVector<Value> at(Value bIdx, Value h, Value s, Value d) {
    if (g.bshd)
      return {bIdx, s, h, d};
    return {bIdx, h, s, d};
  }
  /// A vector<2xT> as the register type mma.sync takes for T: i32 for
  /// bf16, vector<2xf16> itself for f16.
  Value fragReg(Value pair) {
    if (!g.bf16)
      return pair;
    return LLVM::BitcastOp::create(b, b.getI32Type(), pair);
  }
  /// Two consecutive 16-bit elements as one mma operand register.
  Value loadPair(Value mem, ArrayRef<Value> idx);
  /// Two f32 rounded to the element type, as one mma operand register.
  Value packPair(Value lo, Value hi);
  /// The `count` (4 or 2) fragment registers of an ldmatrix.x4 / .x2 at
  /// `idx` of `mem`.
  SmallVector<Value, 4> ldmatrix4(Value mem, ArrayRef<Value> idx,
                                  bool transpose, int64_t count = 4);
  /// c += a·b on one m16n8k16 tile (m16n8k8 when `a` has 2 registers);
  /// `c` holds 4 f32.
  void mma(ArrayRef<Value> a, ArrayRef<Value> bFrag, SmallVectorImpl<Value> &c);

  ImplicitLocOpBuilder &b;
  IndexMath im;
  const GpuFlashGeometry &g;

private:
  Value nvvmUnary(StringRef intrinsic, Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, b.getF32Type(), b.getStringAttr(intrinsic), ValueRange{x})
        .getResult(0);
  }
};

} // namespace mlir::attn::gpu_kernels

#endif
