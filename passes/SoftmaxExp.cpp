//===- SoftmaxExp.cpp - the online softmax's short vector exp -------------===//
#include "passes/SoftmaxExp.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace {
// Minimax (relative error) coefficients of e^r on [-ln2/2, ln2/2] · 1.001,
// degree 6, rounded to f32: c0 + c1 r + ... + c6 r^6.
constexpr float kExpPoly[] = {1.0f,         1.0f,         0.4999999f,
                              0.1666642f,   0.041668233f, 0.008374899f,
                              0.0013836742f};
constexpr float kLog2E = 1.44269504088896341f;
// ln 2 = kLn2Hi + kLn2Lo; kLn2Hi has 9 significant bits, so k · kLn2Hi is
// exact for the |k| <= 151 this sees.
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
// Round-to-integer constant: t + 1.5·2^23 rounds t to an integer (|t| <
// 2^22) whose value sits in the low mantissa bits.
constexpr float kRoundMagic = 12582912.0f;
// exp(-87.3) = 1.22e-38 is still normal (>= 2^-126 = 1.18e-38); below
// it the result is 0 (as MLIR's exp, which flushes below -87.33).
constexpr float kLowestArg = -87.3f;
} // namespace

Value mlir::attn::emitNonPositiveExp(OpBuilder &b, Location loc, Value x) {
  auto vecTy = cast<VectorType>(x.getType());
  auto intTy = VectorType::get(vecTy.getShape(), b.getI32Type());
  auto cst = [&](float v) -> Value {
    return arith::ConstantOp::create(b, loc, vecTy,
                                     DenseElementsAttr::get(vecTy, v));
  };
  // Results below 2^-126 would be denormal, and an instruction that
  // produces one takes a microcode assist on Intel cores (measured: the
  // clamp-at--104 form, which let masked scores underflow through the
  // denormals, was slower than MLIR's exp). So x < kLowestArg gives 0, by a
  // select that LLVM folds into a zero-masked vscalefps; unordered keeps
  // NaN (and -inf and huge negative x only ever reach the masked lanes).
  Value keep = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGE, x,
                                     cst(kLowestArg));
  Value magic = cst(kRoundMagic);
  Value tm = vector::FMAOp::create(b, loc, x, cst(kLog2E), magic);
  Value k = arith::SubFOp::create(b, loc, tm, magic);
  Value r = vector::FMAOp::create(b, loc, k, cst(-kLn2Hi), x);
  r = vector::FMAOp::create(b, loc, k, cst(-kLn2Lo), r);
  Value p = cst(kExpPoly[6]);
  for (int i = 5; i >= 0; --i)
    p = vector::FMAOp::create(b, loc, p, r, cst(kExpPoly[i]));
  // The integer k from the same bits: tm and the magic share a binade.
  Value ki =
      arith::SubIOp::create(b, loc, arith::BitcastOp::create(b, loc, intTy, tm),
                            arith::BitcastOp::create(b, loc, intTy, magic));
  // llvm.ldexp (its MLIR op takes a scalar exponent only): vscalefps on
  // AVX-512.
  Value y = LLVM::CallIntrinsicOp::create(
                b, loc, vecTy, b.getStringAttr("llvm.ldexp"), ValueRange{p, ki})
                .getResult(0);
  return arith::SelectOp::create(b, loc, keep, y, cst(0.0f));
}
