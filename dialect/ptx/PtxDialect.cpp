//===- PtxDialect.cpp - attn_ptx ops and their PTX ------------------------===//
#include "dialect/ptx/PtxDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <string>

using namespace mlir;
using namespace mlir::attn::ptx;

#include "dialect/ptx/PtxDialect.cpp.inc"

void AttnPtxDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/ptx/PtxOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "dialect/ptx/PtxOps.cpp.inc"

namespace {
using AsmValues =
    SmallVectorImpl<std::pair<Value, NVVM::PTXRegisterMod>>;

/// Registers an inline asm statement may carry per op (the emitters split
/// longer lists into a wait/fence plus pins).
constexpr size_t kMaxPinned = 64;

LogicalResult verifyRegisters(Operation *op, Type t, size_t limit) {
  auto st = cast<LLVM::LLVMStructType>(t);
  if (st.getBody().empty() || st.getBody().size() > limit)
    return op->emitOpError("needs 1 to ")
           << limit << " registers, got " << st.getBody().size();
  for (Type e : st.getBody())
    if (!e.isF32() && !e.isInteger(32))
      return op->emitOpError("registers must be f32 or i32, got ") << e;
  return success();
}

/// The result as outputs $0..$n-1, the values tied to them ($n..$2n-1).
/// The ops number their operands themselves (getAsmValues returns true,
/// as NVVM's wgmma.mma_async does): PtxBuilder then keeps the struct
/// result as the asm's result instead of packing it once more.
void tiedValues(Operation *op, Value values, AsmValues &out) {
  out.push_back({op->getResult(0), NVVM::PTXRegisterMod::Write});
  out.push_back({values, NVVM::PTXRegisterMod::ReadWrite});
}
} // namespace

//===- wgmma_reg_a --------------------------------------------------------===//

LogicalResult WgmmaRegAOp::verify() {
  int64_t n = getN();
  if (n < 8 || n > 256 || n % 8 != 0)
    return emitOpError("n must be a multiple of 8 in [8, 256], got ") << n;
  if (getElem() != "bf16" && getElem() != "f16")
    return emitOpError("elem must be bf16 or f16, got ") << getElem();
  if (getA().size() != 4)
    return emitOpError("A fragment must be 4 registers, got ")
           << getA().size();
  auto st = cast<LLVM::LLVMStructType>(getAcc().getType());
  if (int64_t(st.getBody().size()) != n / 2 ||
      !llvm::all_of(st.getBody(), [](Type t) { return t.isF32(); }))
    return emitOpError("m64n") << n << " needs " << n / 2
                               << " f32 accumulators";
  return success();
}

std::string WgmmaRegAOp::getPtx() {
  const int64_t regs = getN() / 2;
  std::string et = getElem().str();
  std::string ptx = "{\n.reg .pred p;\nsetp.ne.b32 p, " +
                    std::string(getAccumulate() ? "1" : "0") +
                    ", 0;\nwgmma.mma_async.sync.aligned.m64n" +
                    std::to_string(getN()) + "k16.f32." + et + "." + et + " {";
  for (int64_t i = 0; i < regs; ++i)
    ptx += (i ? ", $" : "$") + std::to_string(i);
  // $regs..$2regs-1 are the tied inputs; then A, then the B descriptor.
  int64_t next = 2 * regs;
  ptx += "}, {";
  for (int64_t i = 0; i < 4; ++i)
    ptx += (i ? ", $" : "$") + std::to_string(next++);
  ptx += "}, $" + std::to_string(next) + ", p, 1, 1, " +
         (getTransposeB() ? "1" : "0") + ";\n}\n";
  return ptx;
}

bool WgmmaRegAOp::getAsmValues(RewriterBase &, AsmValues &out) {
  tiedValues(*this, getAcc(), out);
  for (Value a : getA())
    out.push_back({a, NVVM::PTXRegisterMod::Read});
  out.push_back({getDescB(), NVVM::PTXRegisterMod::Read});
  return true;
}

//===- wgmma_wait_group, wgmma_fence, pin ---------------------------------===//

LogicalResult WgmmaWaitGroupOp::verify() {
  if (getPending() < 0 || getPending() > 7)
    return emitOpError("pending must be in [0, 7], got ") << getPending();
  return verifyRegisters(*this, getValues().getType(), kMaxPinned);
}

std::string WgmmaWaitGroupOp::getPtx() {
  return "wgmma.wait_group.sync.aligned " + std::to_string(getPending()) +
         ";";
}

bool WgmmaWaitGroupOp::getAsmValues(RewriterBase &, AsmValues &out) {
  tiedValues(*this, getValues(), out);
  return true;
}

LogicalResult WgmmaFenceOp::verify() {
  return verifyRegisters(*this, getValues().getType(), kMaxPinned);
}

std::string WgmmaFenceOp::getPtx() { return "wgmma.fence.sync.aligned;"; }

bool WgmmaFenceOp::getAsmValues(RewriterBase &, AsmValues &out) {
  tiedValues(*this, getValues(), out);
  return true;
}

LogicalResult PinOp::verify() {
  return verifyRegisters(*this, getValues().getType(), kMaxPinned);
}

std::string PinOp::getPtx() { return ""; }

bool PinOp::getAsmValues(RewriterBase &, AsmValues &out) {
  tiedValues(*this, getValues(), out);
  return true;
}

//===- tma_load_4d --------------------------------------------------------===//

LogicalResult TmaLoad4dOp::verify() {
  if (getCoords().size() != 4)
    return emitOpError("needs 4 coordinates, got ") << getCoords().size();
  return success();
}

std::string TmaLoad4dOp::getPtx() {
  return "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::"
         "complete_tx::bytes [$0], [$1, {$2, $3, $4, $5}], [$6];";
}
