//===- RegionInterpreter.cpp - score_mod/mask_mod programs ----------------===//
#include "runtime/RegionInterpreter.h"
#include "runtime/Errors.h"
#include "runtime/HalfFloat.h"
#include "runtime/KernelSignature.h"

#include "dialect/ArithCompare.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

enum class Kind {
  Const,
  // Floats (double), AddF to Fma in one run: hasFloatResult relies on it.
  AddF,
  SubF,
  MulF,
  DivF,
  RemF,
  NegF,
  MaxF,
  MinF,
  AbsF,
  Exp,
  Exp2,
  Log,
  Log2,
  Log1p,
  Tanh,
  Sqrt,
  Rsqrt,
  PowF,
  Floor,
  Ceil,
  Sin,
  Cos,
  Erf,
  Expm1,
  Log10,
  Cbrt,
  Tan,
  Sinh,
  Cosh,
  Asin,
  Acos,
  Atan,
  Atan2,
  Asinh,
  Acosh,
  Atanh,
  Erfc,
  Round,
  RoundEven,
  Trunc,
  CopySign,
  Fma,
  CmpF,
  // Integers at a bit width.
  AddI,
  SubI,
  MulI,
  DivSI,
  DivUI,
  RemSI,
  RemUI,
  CeilDivSI,
  FloorDivSI,
  MaxSI,
  MinSI,
  MaxUI,
  MinUI,
  AndI,
  OrI,
  XOrI,
  ShLI,
  ShRSI,
  ShRUI,
  AbsI,
  CmpI,
  // Conversions and select.
  IntToInt,
  ZeroExt,
  SIToFP,
  UIToFP,
  FPToSI,
  FPToUI,
  RoundF,
  Select,
};

/// `v` wrapped to a signed integer of `w` bits.
int64_t wrap(int64_t v, unsigned w) {
  if (w >= 64)
    return v;
  uint64_t mask = (uint64_t(1) << w) - 1, u = uint64_t(v) & mask;
  if (u >> (w - 1))
    u |= ~mask;
  return int64_t(u);
}

bool isFloatLike(Type t) { return isa<FloatType>(t); }

unsigned widthOf(Type t) {
  if (t.isIndex())
    return 64;
  if (auto i = dyn_cast<IntegerType>(t))
    return i.getWidth();
  return 0;
}

} // namespace

struct RegionProgram::Inst {
  Kind kind;
  unsigned out = 0, a = 0, b = 0, c = 0;
  unsigned width = 64;   ///< integer result (or operand, for compares) width
  unsigned inWidth = 64; ///< operand width of conversions
  int pred = 0;          ///< arith::CmpFPredicate / CmpIPredicate
  int roundBits = 32;    ///< RoundF: 32, 16 (f16) or -16 (bf16)
  Value constant;
};

RegionProgram::RegionProgram() = default;
RegionProgram::~RegionProgram() = default;

namespace {

/// Compiles ops into instructions, mapping each MLIR value to a slot.
class Compiler {
public:
  Compiler(std::vector<RegionProgram::Inst> &insts) : insts(insts) {}

  unsigned slot(mlir::Value v) {
    auto it = slots.find(v);
    return it == slots.end() ? ~0u : it->second;
  }
  unsigned define(mlir::Value v) { return slots[v] = next++; }
  unsigned numSlots() const { return next; }

  /// A captured constant (scalar float, integer, index or i1).
  llvm::Error addConstant(mlir::Value v) {
    Attribute attr;
    if (!matchPattern(v, m_Constant(&attr)))
      return makeError("the reference cannot evaluate a score_mod/mask_mod "
                       "region that uses a non-constant value from outside");
    RegionProgram::Inst in{Kind::Const};
    if (auto f = dyn_cast<FloatAttr>(attr))
      in.constant.f = f.getValueAsDouble();
    else if (auto i = dyn_cast<IntegerAttr>(attr))
      in.constant.i = i.getType().isInteger(1)
                          ? int64_t(i.getValue().getBoolValue())
                          : i.getValue().getSExtValue();
    else if (auto b = dyn_cast<BoolAttr>(attr))
      in.constant.i = b.getValue();
    else
      return makeError("the reference cannot evaluate a score_mod/mask_mod "
                       "constant that is not a scalar");
    if (unsigned w = widthOf(v.getType()))
      in.constant.i = wrap(in.constant.i, w);
    in.out = define(v);
    insts.push_back(in);
    return llvm::Error::success();
  }

  llvm::Error compile(Operation &op);

private:
  std::vector<RegionProgram::Inst> &insts;
  llvm::DenseMap<mlir::Value, unsigned> slots;
  unsigned next = 0;
};

llvm::Error Compiler::compile(Operation &op) {
  if (matchPattern(op.getResult(0), m_Constant()))
    return addConstant(op.getResult(0));
  std::optional<Kind> kind =
      llvm::TypeSwitch<Operation *, std::optional<Kind>>(&op)
          .Case<arith::AddFOp>([](auto) { return Kind::AddF; })
          .Case<arith::SubFOp>([](auto) { return Kind::SubF; })
          .Case<arith::MulFOp>([](auto) { return Kind::MulF; })
          .Case<arith::DivFOp>([](auto) { return Kind::DivF; })
          .Case<arith::RemFOp>([](auto) { return Kind::RemF; })
          .Case<arith::NegFOp>([](auto) { return Kind::NegF; })
          .Case<arith::MaximumFOp, arith::MaxNumFOp>(
              [](auto) { return Kind::MaxF; })
          .Case<arith::MinimumFOp, arith::MinNumFOp>(
              [](auto) { return Kind::MinF; })
          .Case<math::AbsFOp>([](auto) { return Kind::AbsF; })
          .Case<math::ExpOp>([](auto) { return Kind::Exp; })
          .Case<math::Exp2Op>([](auto) { return Kind::Exp2; })
          .Case<math::LogOp>([](auto) { return Kind::Log; })
          .Case<math::Log2Op>([](auto) { return Kind::Log2; })
          .Case<math::Log1pOp>([](auto) { return Kind::Log1p; })
          .Case<math::TanhOp>([](auto) { return Kind::Tanh; })
          .Case<math::SqrtOp>([](auto) { return Kind::Sqrt; })
          .Case<math::RsqrtOp>([](auto) { return Kind::Rsqrt; })
          .Case<math::PowFOp>([](auto) { return Kind::PowF; })
          .Case<math::FloorOp>([](auto) { return Kind::Floor; })
          .Case<math::CeilOp>([](auto) { return Kind::Ceil; })
          .Case<math::SinOp>([](auto) { return Kind::Sin; })
          .Case<math::CosOp>([](auto) { return Kind::Cos; })
          .Case<math::ErfOp>([](auto) { return Kind::Erf; })
          .Case<math::ExpM1Op>([](auto) { return Kind::Expm1; })
          .Case<math::Log10Op>([](auto) { return Kind::Log10; })
          .Case<math::CbrtOp>([](auto) { return Kind::Cbrt; })
          .Case<math::TanOp>([](auto) { return Kind::Tan; })
          .Case<math::SinhOp>([](auto) { return Kind::Sinh; })
          .Case<math::CoshOp>([](auto) { return Kind::Cosh; })
          .Case<math::AsinOp>([](auto) { return Kind::Asin; })
          .Case<math::AcosOp>([](auto) { return Kind::Acos; })
          .Case<math::AtanOp>([](auto) { return Kind::Atan; })
          .Case<math::Atan2Op>([](auto) { return Kind::Atan2; })
          .Case<math::AsinhOp>([](auto) { return Kind::Asinh; })
          .Case<math::AcoshOp>([](auto) { return Kind::Acosh; })
          .Case<math::AtanhOp>([](auto) { return Kind::Atanh; })
          .Case<math::ErfcOp>([](auto) { return Kind::Erfc; })
          .Case<math::RoundOp>([](auto) { return Kind::Round; })
          .Case<math::RoundEvenOp>([](auto) { return Kind::RoundEven; })
          .Case<math::TruncOp>([](auto) { return Kind::Trunc; })
          .Case<math::CopySignOp>([](auto) { return Kind::CopySign; })
          .Case<math::FmaOp>([](auto) { return Kind::Fma; })
          .Case<arith::CmpFOp>([](auto) { return Kind::CmpF; })
          .Case<arith::AddIOp>([](auto) { return Kind::AddI; })
          .Case<arith::SubIOp>([](auto) { return Kind::SubI; })
          .Case<arith::MulIOp>([](auto) { return Kind::MulI; })
          .Case<arith::DivSIOp>([](auto) { return Kind::DivSI; })
          .Case<arith::DivUIOp>([](auto) { return Kind::DivUI; })
          .Case<arith::RemSIOp>([](auto) { return Kind::RemSI; })
          .Case<arith::RemUIOp>([](auto) { return Kind::RemUI; })
          .Case<arith::CeilDivSIOp>([](auto) { return Kind::CeilDivSI; })
          .Case<arith::FloorDivSIOp>([](auto) { return Kind::FloorDivSI; })
          .Case<arith::MaxSIOp>([](auto) { return Kind::MaxSI; })
          .Case<arith::MinSIOp>([](auto) { return Kind::MinSI; })
          .Case<arith::MaxUIOp>([](auto) { return Kind::MaxUI; })
          .Case<arith::MinUIOp>([](auto) { return Kind::MinUI; })
          .Case<arith::AndIOp>([](auto) { return Kind::AndI; })
          .Case<arith::OrIOp>([](auto) { return Kind::OrI; })
          .Case<arith::XOrIOp>([](auto) { return Kind::XOrI; })
          .Case<arith::ShLIOp>([](auto) { return Kind::ShLI; })
          .Case<arith::ShRSIOp>([](auto) { return Kind::ShRSI; })
          .Case<arith::ShRUIOp>([](auto) { return Kind::ShRUI; })
          .Case<math::AbsIOp>([](auto) { return Kind::AbsI; })
          .Case<arith::CmpIOp>([](auto) { return Kind::CmpI; })
          .Case<arith::IndexCastOp, arith::ExtSIOp, arith::TruncIOp>(
              [](auto) { return Kind::IntToInt; })
          .Case<arith::IndexCastUIOp, arith::ExtUIOp>(
              [](auto) { return Kind::ZeroExt; })
          .Case<arith::SIToFPOp>([](auto) { return Kind::SIToFP; })
          .Case<arith::UIToFPOp>([](auto) { return Kind::UIToFP; })
          .Case<arith::FPToSIOp>([](auto) { return Kind::FPToSI; })
          .Case<arith::FPToUIOp>([](auto) { return Kind::FPToUI; })
          .Case<arith::ExtFOp, arith::TruncFOp>(
              [](auto) { return Kind::RoundF; })
          .Case<arith::SelectOp>([](auto) { return Kind::Select; })
          .Default([](Operation *) { return std::nullopt; });
  if (!kind || op.getNumResults() != 1 || op.getNumRegions() != 0 ||
      op.getNumOperands() > 3 || llvm::any_of(op.getOperandTypes(), [](Type t) {
        return !isFloatLike(t) && !widthOf(t);
      }))
    return makeError("the reference cannot evaluate '" +
                     op.getName().getStringRef() +
                     "' in a score_mod/mask_mod region (it interprets "
                     "scalar arith and math ops)");
  RegionProgram::Inst in{*kind};
  unsigned *operandSlots[] = {&in.a, &in.b, &in.c};
  for (auto [i, operand] : llvm::enumerate(op.getOperands())) {
    if (slot(operand) == ~0u)
      if (llvm::Error e = addConstant(operand))
        return e;
    *operandSlots[i] = slot(operand);
  }
  Type resultTy = op.getResult(0).getType();
  in.width = widthOf(resultTy);
  if (op.getNumOperands() > 0)
    in.inWidth = widthOf(op.getOperand(0).getType());
  if (auto c = dyn_cast<arith::CmpFOp>(op))
    in.pred = static_cast<int>(c.getPredicate());
  if (auto c = dyn_cast<arith::CmpIOp>(op)) {
    in.pred = static_cast<int>(c.getPredicate());
    in.width = in.inWidth; // compare at the operands' width
  }
  if (*kind == Kind::RoundF)
    in.roundBits = resultTy.isF16() ? 16 : resultTy.isBF16() ? -16 : 32;
  if (resultTy.isF16() || resultTy.isBF16()) {
    // Every float op rounds to its type: model f16/bf16 results.
    in.roundBits = resultTy.isF16() ? 16 : -16;
  }
  in.out = define(op.getResult(0));
  insts.push_back(in);
  return llvm::Error::success();
}

double roundTo(double x, int bits) {
  if (bits == 16)
    return halfToFloat(floatToHalf(static_cast<float>(x)));
  if (bits == -16)
    return bfloatToFloat(floatToBFloat(static_cast<float>(x)));
  return x; // f32 and wider: kept in double, like the rest of the reference
}

} // namespace

llvm::Expected<std::shared_ptr<const RegionProgram>>
RegionProgram::compile(Region &region) {
  if (!region.hasOneBlock())
    return makeError("the reference cannot evaluate a region without "
                     "exactly one block");
  std::shared_ptr<RegionProgram> p(new RegionProgram());
  Compiler c(p->insts);
  Block &block = region.front();
  for (BlockArgument arg : block.getArguments()) {
    c.define(arg);
    p->argIsFloat.push_back(isFloatLike(arg.getType()));
    p->argWidth.push_back(widthOf(arg.getType()));
  }
  for (Operation &op : block.without_terminator())
    if (llvm::Error e = c.compile(op))
      return std::move(e);
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return makeError("the reference cannot evaluate a region that does not "
                     "end in attn.yield");
  mlir::Value yielded = yield.getValue();
  if (c.slot(yielded) == ~0u)
    if (llvm::Error e = c.addConstant(yielded))
      return std::move(e);
  p->result = c.slot(yielded);
  p->resultIsFloat = isFloatLike(yielded.getType());
  p->resultWidth = widthOf(yielded.getType());
  p->numSlots = c.numSlots();
  return std::shared_ptr<const RegionProgram>(std::move(p));
}

namespace {

using Inst = RegionProgram::Inst;
using Slot = RegionProgram::Value;

/// A float result: the arith/math float ops and the conversions to float,
/// rounded to f16/bf16 where the result type is one.
double evalFloat(const Inst &in, const Slot &a, const Slot &b, const Slot &c) {
  switch (in.kind) {
  case Kind::AddF:
    return roundTo(a.f + b.f, in.roundBits);
  case Kind::SubF:
    return roundTo(a.f - b.f, in.roundBits);
  case Kind::MulF:
    return roundTo(a.f * b.f, in.roundBits);
  case Kind::DivF:
    return roundTo(a.f / b.f, in.roundBits);
  case Kind::RemF:
    return roundTo(std::fmod(a.f, b.f), in.roundBits);
  case Kind::NegF:
    return -a.f;
  case Kind::MaxF:
    return std::isnan(a.f) ? b.f : std::isnan(b.f) ? a.f : std::max(a.f, b.f);
  case Kind::MinF:
    return std::isnan(a.f) ? b.f : std::isnan(b.f) ? a.f : std::min(a.f, b.f);
  case Kind::AbsF:
    return std::fabs(a.f);
  case Kind::Exp:
    return roundTo(std::exp(a.f), in.roundBits);
  case Kind::Exp2:
    return roundTo(std::exp2(a.f), in.roundBits);
  case Kind::Log:
    return roundTo(std::log(a.f), in.roundBits);
  case Kind::Log2:
    return roundTo(std::log2(a.f), in.roundBits);
  case Kind::Log1p:
    return roundTo(std::log1p(a.f), in.roundBits);
  case Kind::Tanh:
    return roundTo(std::tanh(a.f), in.roundBits);
  case Kind::Sqrt:
    return roundTo(std::sqrt(a.f), in.roundBits);
  case Kind::Rsqrt:
    return roundTo(1.0 / std::sqrt(a.f), in.roundBits);
  case Kind::PowF:
    return roundTo(std::pow(a.f, b.f), in.roundBits);
  case Kind::Floor:
    return std::floor(a.f);
  case Kind::Ceil:
    return std::ceil(a.f);
  case Kind::Sin:
    return roundTo(std::sin(a.f), in.roundBits);
  case Kind::Cos:
    return roundTo(std::cos(a.f), in.roundBits);
  case Kind::Erf:
    return roundTo(std::erf(a.f), in.roundBits);
  case Kind::Expm1:
    return roundTo(std::expm1(a.f), in.roundBits);
  case Kind::Log10:
    return roundTo(std::log10(a.f), in.roundBits);
  case Kind::Cbrt:
    return roundTo(std::cbrt(a.f), in.roundBits);
  case Kind::Tan:
    return roundTo(std::tan(a.f), in.roundBits);
  case Kind::Sinh:
    return roundTo(std::sinh(a.f), in.roundBits);
  case Kind::Cosh:
    return roundTo(std::cosh(a.f), in.roundBits);
  case Kind::Asin:
    return roundTo(std::asin(a.f), in.roundBits);
  case Kind::Acos:
    return roundTo(std::acos(a.f), in.roundBits);
  case Kind::Atan:
    return roundTo(std::atan(a.f), in.roundBits);
  case Kind::Atan2:
    return roundTo(std::atan2(a.f, b.f), in.roundBits);
  case Kind::Asinh:
    return roundTo(std::asinh(a.f), in.roundBits);
  case Kind::Acosh:
    return roundTo(std::acosh(a.f), in.roundBits);
  case Kind::Atanh:
    return roundTo(std::atanh(a.f), in.roundBits);
  case Kind::Erfc:
    return roundTo(std::erfc(a.f), in.roundBits);
  case Kind::Round: // halfway cases away from zero, as math.round
    return std::round(a.f);
  case Kind::RoundEven:
    return std::nearbyint(a.f); // the default rounding mode: to even
  case Kind::Trunc:
    return std::trunc(a.f);
  case Kind::CopySign:
    return std::copysign(a.f, b.f);
  case Kind::Fma:
    return roundTo(a.f * b.f + c.f, in.roundBits);
  case Kind::SIToFP:
    return roundTo(double(a.i), in.roundBits);
  case Kind::UIToFP:
    return roundTo(double(unsignedOf(a.i, in.inWidth)), in.roundBits);
  case Kind::RoundF:
    return roundTo(a.f, in.roundBits);
  default:
    llvm_unreachable("not a float-result instruction");
  }
}

/// An integer result before it is wrapped to the result width. Signed
/// overflow wraps (computed in uint64_t); division by zero yields 0.
int64_t evalInt(const Inst &in, const Slot &a, const Slot &b) {
  unsigned w = in.width;
  auto u = [](int64_t x) { return uint64_t(x); };
  switch (in.kind) {
  case Kind::AddI:
    return int64_t(u(a.i) + u(b.i));
  case Kind::SubI:
    return int64_t(u(a.i) - u(b.i));
  case Kind::MulI:
    return int64_t(u(a.i) * u(b.i));
  case Kind::DivSI:
    return b.i == 0 || (b.i == -1 && a.i == INT64_MIN) ? 0 : a.i / b.i;
  case Kind::DivUI:
    return unsignedOf(b.i, w) == 0
               ? 0
               : int64_t(unsignedOf(a.i, w) / unsignedOf(b.i, w));
  case Kind::RemSI:
    return b.i == 0 || b.i == -1 ? 0 : a.i % b.i;
  case Kind::RemUI:
    return unsignedOf(b.i, w) == 0
               ? 0
               : int64_t(unsignedOf(a.i, w) % unsignedOf(b.i, w));
  case Kind::CeilDivSI:
  case Kind::FloorDivSI: {
    if (b.i == 0 || (b.i == -1 && a.i == INT64_MIN))
      return 0;
    int64_t q = a.i / b.i, r = a.i % b.i;
    bool inexact = r != 0, positive = (a.i < 0) == (b.i < 0);
    if (in.kind == Kind::CeilDivSI)
      q += inexact && positive;
    else
      q -= inexact && !positive;
    return q;
  }
  case Kind::MaxSI:
    return std::max(a.i, b.i);
  case Kind::MinSI:
    return std::min(a.i, b.i);
  case Kind::MaxUI:
    return unsignedOf(a.i, w) >= unsignedOf(b.i, w) ? a.i : b.i;
  case Kind::MinUI:
    return unsignedOf(a.i, w) <= unsignedOf(b.i, w) ? a.i : b.i;
  case Kind::AndI:
    return a.i & b.i;
  case Kind::OrI:
    return a.i | b.i;
  case Kind::XOrI:
    return a.i ^ b.i;
  case Kind::ShLI:
    return unsignedOf(b.i, w) >= w ? 0 : int64_t(u(a.i) << unsignedOf(b.i, w));
  case Kind::ShRSI:
    return unsignedOf(b.i, w) >= w ? (a.i < 0 ? -1 : 0)
                                   : a.i >> unsignedOf(b.i, w);
  case Kind::ShRUI:
    return unsignedOf(b.i, w) >= w
               ? 0
               : int64_t(unsignedOf(a.i, w) >> unsignedOf(b.i, w));
  case Kind::AbsI:
    return a.i < 0 ? int64_t(0 - u(a.i)) : a.i;
  case Kind::IntToInt:
    return a.i;
  case Kind::ZeroExt:
    return int64_t(unsignedOf(a.i, in.inWidth));
  case Kind::FPToSI:
  case Kind::FPToUI: {
    // Out of range is poison in MLIR; saturate instead of UB here.
    double t = std::trunc(a.f);
    if (std::isnan(t))
      return 0;
    if (t >= 9.2e18)
      return INT64_MAX;
    if (t <= -9.2e18)
      return INT64_MIN;
    return int64_t(t);
  }
  default:
    llvm_unreachable("not an integer-result instruction");
  }
}

bool hasFloatResult(Kind k) {
  return (k >= Kind::AddF && k <= Kind::Fma) || k == Kind::SIToFP ||
         k == Kind::UIToFP || k == Kind::RoundF;
}

} // namespace

double RegionProgram::run(llvm::ArrayRef<double> args) const {
  thread_local std::vector<Value> v;
  v.assign(numSlots, Value());
  for (size_t i = 0; i < args.size() && i < argIsFloat.size(); ++i) {
    if (argIsFloat[i])
      v[i].f = args[i];
    else
      v[i].i = wrap(static_cast<int64_t>(args[i]), argWidth[i]);
  }
  for (const Inst &in : insts) {
    const Value &a = v[in.a], &b = v[in.b], &c = v[in.c];
    Value &o = v[in.out];
    switch (in.kind) {
    case Kind::Const:
      o = in.constant;
      break;
    case Kind::CmpF:
      o.i = cmpF(static_cast<arith::CmpFPredicate>(in.pred), a.f, b.f);
      break;
    case Kind::CmpI:
      o.i =
          cmpI(static_cast<arith::CmpIPredicate>(in.pred), a.i, b.i, in.width);
      break;
    case Kind::Select:
      o = (a.i & 1) ? b : c;
      break;
    default:
      if (hasFloatResult(in.kind))
        o.f = evalFloat(in, a, b, c);
      else
        o.i = wrap(evalInt(in, a, b), in.width);
      break;
    }
  }
  const Value &r = v[result];
  if (resultIsFloat)
    return r.f;
  return resultWidth == 1 ? double(r.i & 1) : double(r.i);
}

void mlir::attn::rt::attachRegionPrograms(AttentionOp op,
                                          KernelSignature &sig) {
  auto attach = [&](Region &region,
                    std::shared_ptr<const RegionProgram> &program) {
    if (region.empty())
      return;
    auto compiled = RegionProgram::compile(region);
    if (!compiled) {
      if (sig.regionError.empty())
        sig.regionError = llvm::toString(compiled.takeError());
      else
        llvm::consumeError(compiled.takeError());
      return;
    }
    program = std::move(*compiled);
  };
  attach(op.getScoreMod(), sig.scoreModProgram);
  attach(op.getMaskMod(), sig.maskModProgram);
}
