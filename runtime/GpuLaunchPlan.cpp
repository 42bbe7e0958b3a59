//===- GpuLaunchPlan.cpp - the launch plan of a lowered CUDA kernel -------===//
//
// Reads the straight-line host function attn-to-nvvm leaves (the contract
// in GpuKernel.h) into a GpuKernelCode: one reader per host op kind, then
// the binary. What the dialect verifies (the #attn.tensor_map attribute and
// its placement, AttnDialect::verifyOperationAttribute) is read, not
// re-checked; what the signature adds (shapes, dtypes) is checked here.
//
//===----------------------------------------------------------------------===//
#include "dialect/AttnDialect.h"
#include "passes/GpuFlashKernel.h"
#include "runtime/Errors.h"
#include "runtime/GpuKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstring>
#include <optional>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

llvm::Error planError(const llvm::Twine &message) {
  return makeError("the lowered kernel is not a launch plan: " + message);
}

/// A constant launch dimension that fits a CUDA launch.
llvm::Expected<unsigned> launchDim(Value v, const char *what) {
  if (!v)
    return 1u;
  std::optional<int64_t> c = getConstantIntValue(v);
  if (!c)
    return planError(llvm::Twine(what) + " is not a constant");
  if (*c < 1 || *c > int64_t(UINT32_MAX))
    return planError(llvm::Twine(what) + " " + llvm::Twine(*c) +
                     " is out of range");
  return unsigned(*c);
}

/// The index arithmetic a run-time launch plan may use.
std::optional<GpuExpr::Op> exprOp(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<GpuExpr::Op>>(op)
      .Case([](arith::AddIOp) { return GpuExpr::Op::Add; })
      .Case([](arith::SubIOp) { return GpuExpr::Op::Sub; })
      .Case([](arith::MulIOp) { return GpuExpr::Op::Mul; })
      .Case([](arith::DivUIOp) { return GpuExpr::Op::DivU; })
      .Case([](arith::DivSIOp) { return GpuExpr::Op::DivS; })
      .Case([](arith::RemUIOp) { return GpuExpr::Op::RemU; })
      .Case([](arith::RemSIOp) { return GpuExpr::Op::RemS; })
      .Case([](arith::CeilDivSIOp) { return GpuExpr::Op::CeilDivS; })
      .Case([](arith::MinSIOp) { return GpuExpr::Op::MinS; })
      .Case([](arith::MaxSIOp) { return GpuExpr::Op::MaxS; })
      .Default([](Operation *) { return std::nullopt; });
}

class LaunchPlanReader {
public:
  LaunchPlanReader(func::FuncOp func, const KernelSignature &sig)
      : func(func), sig(sig) {}
  llvm::Expected<GpuKernelCode> read(ModuleOp module);

private:
  llvm::Error readConstant(arith::ConstantOp op);
  llvm::Error readCast(memref::CastOp op);
  llvm::Error readAlloc(memref::AllocOp op);
  llvm::Error readTensorMap(TensorMapAttr attr, GpuTensorMap &map);
  llvm::Error readLaunch(gpu::LaunchFuncOp op);
  llvm::Error readBinary(ModuleOp module);
  // Run-time sizes: dims of buffers, index arithmetic on them, and the
  // base pointers of buffers of run-time shape.
  llvm::Error readDim(memref::DimOp op);
  llvm::Error readArith(Operation *op, GpuExpr::Op kind);
  llvm::Error readReinterpretCast(memref::ReinterpretCastOp op);
  /// Run-time checks: comparisons of sizes and the cf.assert on them.
  llvm::Error readCmp(arith::CmpIOp op);
  llvm::Error readAssert(cf::AssertOp op);
  /// The split count (func.call @attn_gpu_kv_splits).
  llvm::Error readCall(func::CallOp op);
  /// `scf.if %cond { gpu.launch_func ... }`: launches that run only where
  /// the comparison holds.
  llvm::Error readIf(scf::IfOp op);
  /// The ops of `block` in order; launches among them get `cond`.
  llvm::Error readOps(Block &block, int cond);
  /// A node of `kind` over existing nodes.
  int addNode(GpuExpr::Op kind, int lhs, int rhs, int64_t value = 0);
  /// The expression node of `v`: its own, or a new constant node.
  std::optional<int> exprFor(Value v);

  func::FuncOp func;
  const KernelSignature &sig;
  GpuKernelCode code;
  /// The condition of the launches being read (-1: none).
  int launchCond = -1;
  /// What each host value passes to a kernel.
  llvm::DenseMap<Value, GpuParam> known;
  std::string binaryName;
};

std::optional<int> LaunchPlanReader::exprFor(Value v) {
  auto it = known.find(v);
  if (it == known.end())
    return std::nullopt;
  const GpuParam &p = it->second;
  if (p.kind == GpuParam::Kind::Expr)
    return int(p.index);
  if (p.kind != GpuParam::Kind::I32 && p.kind != GpuParam::Kind::I64)
    return std::nullopt;
  GpuExpr c;
  c.value = p.kind == GpuParam::Kind::I32 ? int64_t(int32_t(uint32_t(p.bits)))
                                          : int64_t(p.bits);
  code.exprs.push_back(c);
  return int(code.exprs.size() - 1);
}

llvm::Error LaunchPlanReader::readDim(memref::DimOp op) {
  auto it = known.find(op.getSource());
  std::optional<int64_t> index = op.getConstantIndex();
  if (it == known.end() || it->second.kind != GpuParam::Kind::Buffer || !index)
    return planError("memref.dim of something other than a kernel buffer "
                     "at a constant index");
  GpuExpr e;
  e.op = GpuExpr::Op::Dim;
  e.value = it->second.index;
  e.dim = *index;
  code.exprs.push_back(e);
  known[op] = {GpuParam::Kind::Expr, int64_t(code.exprs.size() - 1), 0};
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readArith(Operation *op, GpuExpr::Op kind) {
  if (!op->getResult(0).getType().isIndex())
    return planError("'" + op->getName().getStringRef() +
                     "' on a type other than index");
  std::optional<int> lhs = exprFor(op->getOperand(0));
  std::optional<int> rhs = exprFor(op->getOperand(1));
  if (!lhs || !rhs)
    return planError("'" + op->getName().getStringRef() +
                     "' of something other than sizes and constants");
  GpuExpr e;
  e.op = kind;
  e.lhs = *lhs;
  e.rhs = *rhs;
  code.exprs.push_back(e);
  known[op->getResult(0)] = {GpuParam::Kind::Expr,
                             int64_t(code.exprs.size() - 1), 0};
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readCmp(arith::CmpIOp op) {
  using P = arith::CmpIPredicate;
  std::optional<GpuExpr::Op> kind;
  switch (op.getPredicate()) {
  case P::eq:
    kind = GpuExpr::Op::CmpEq;
    break;
  case P::ne:
    kind = GpuExpr::Op::CmpNe;
    break;
  case P::slt:
    kind = GpuExpr::Op::CmpSlt;
    break;
  case P::sle:
    kind = GpuExpr::Op::CmpSle;
    break;
  case P::sgt:
    kind = GpuExpr::Op::CmpSgt;
    break;
  case P::sge:
    kind = GpuExpr::Op::CmpSge;
    break;
  default:
    break;
  }
  std::optional<int> lhs = exprFor(op.getLhs());
  std::optional<int> rhs = exprFor(op.getRhs());
  if (!kind || !op.getLhs().getType().isIndex() || !lhs || !rhs)
    return planError("arith.cmpi other than a signed comparison or equality "
                     "of sizes and constants");
  GpuExpr e;
  e.op = *kind;
  e.lhs = *lhs;
  e.rhs = *rhs;
  code.exprs.push_back(e);
  known[op] = {GpuParam::Kind::Expr, int64_t(code.exprs.size() - 1), 0};
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readAssert(cf::AssertOp op) {
  auto it = known.find(op.getArg());
  if (it == known.end() || it->second.kind != GpuParam::Kind::Expr ||
      !op.getArg().getDefiningOp<arith::CmpIOp>())
    return planError("cf.assert of something other than a comparison of "
                     "sizes");
  code.checks.push_back({int(it->second.index), op.getMsg().str()});
  return llvm::Error::success();
}

int LaunchPlanReader::addNode(GpuExpr::Op kind, int lhs, int rhs,
                              int64_t value) {
  GpuExpr e;
  e.op = kind;
  e.lhs = lhs;
  e.rhs = rhs;
  e.value = value;
  code.exprs.push_back(e);
  return int(code.exprs.size() - 1);
}

llvm::Error LaunchPlanReader::readCall(func::CallOp op) {
  std::optional<int> blocks, cap;
  std::optional<int64_t> sms;
  if (op.getCallee() == kGpuKvSplitsFunc && op.getNumOperands() == 3 &&
      op.getNumResults() == 1) {
    blocks = exprFor(op.getOperand(0));
    cap = exprFor(op.getOperand(1));
    sms = getConstantIntValue(op.getOperand(2));
  }
  if (!blocks || !cap || !sms)
    return planError("func.call other than @" + llvm::Twine(kGpuKvSplitsFunc) +
                     "(blocks, max splits, constant SM count) of sizes");
  int node = addNode(GpuExpr::Op::KvSplits, *blocks, *cap, *sms);
  known[op.getResult(0)] = {GpuParam::Kind::Expr, node, 0};
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readIf(scf::IfOp op) {
  auto it = known.find(op.getCondition());
  if (it == known.end() || it->second.kind != GpuParam::Kind::Expr ||
      op.getNumResults() != 0 || !op.getElseRegion().empty() || launchCond >= 0)
    return planError("scf.if other than one without results or else on a "
                     "comparison of sizes (not nested)");
  return readOps(op.getThenRegion().front(), int(it->second.index));
}

llvm::Error
LaunchPlanReader::readReinterpretCast(memref::ReinterpretCastOp op) {
  auto it = known.find(op.getSource());
  if (it == known.end() ||
      (it->second.kind != GpuParam::Kind::Buffer &&
       it->second.kind != GpuParam::Kind::Scratch) ||
      op.getType().getRank() != 0 ||
      !isConstantIntValue(op.getMixedOffsets()[0], 0))
    return planError("memref.reinterpret_cast other than a kernel or "
                     "scratch buffer's base pointer (rank 0, offset 0)");
  known[op] = it->second;
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readConstant(arith::ConstantOp c) {
  Attribute value = c.getValue();
  if (auto i = dyn_cast<IntegerAttr>(value)) {
    Type t = i.getType();
    unsigned width = t.isIndex() ? 64 : t.getIntOrFloatBitWidth();
    if (width > 64)
      return planError("constant wider than 64 bits");
    // The driver reads each parameter's size from the kernel; the 8-byte
    // slot holds the value zero-extended (little-endian).
    known[c] = {width > 32 ? GpuParam::Kind::I64 : GpuParam::Kind::I32, 0,
                i.getValue().getZExtValue()};
    return llvm::Error::success();
  }
  if (auto f = dyn_cast<FloatAttr>(value); f && f.getType().isF32()) {
    float v = f.getValue().convertToFloat();
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    known[c] = {GpuParam::Kind::I32, 0, bits};
    return llvm::Error::success();
  }
  return planError("a constant that is neither an integer nor f32");
}

llvm::Error LaunchPlanReader::readCast(memref::CastOp castOp) {
  auto it = known.find(castOp.getSource());
  if (it == known.end() || (it->second.kind != GpuParam::Kind::Buffer &&
                            it->second.kind != GpuParam::Kind::Scratch))
    return planError("memref.cast of something other than a buffer");
  auto to = dyn_cast<MemRefType>(castOp.getType());
  if (!to)
    return planError("memref.cast to an unranked memref");
  if (!to.getLayout().isIdentity() ||
      (!to.hasStaticShape() && it->second.kind != GpuParam::Kind::Buffer))
    return planError("memref.cast to a strided type, or of scratch to a "
                     "non-static one");
  if (it->second.kind == GpuParam::Kind::Buffer) {
    // Run-time dims (`?`) stay run-time: the signature has them too.
    const ArgInfo &info = sig.args[it->second.index];
    if (to.getShape() != ArrayRef<int64_t>(info.shape))
      return planError(llvm::Twine("memref.cast of ") +
                       stringifyArgRole(info.role) + " changes its shape to " +
                       shapeString(to.getShape()));
  }
  known[castOp] = it->second;
  return llvm::Error::success();
}

/// The verified map of a buffer the signature must describe the same way
/// as the function does: its dtype picks the encoding, its shape bounded
/// the map.
llvm::Error LaunchPlanReader::readTensorMap(TensorMapAttr attr,
                                            GpuTensorMap &map) {
  map.source = attr.getSource();
  const ArgInfo &info = sig.args[map.source];
  map.role = stringifyArgRole(info.role);
  auto type = cast<MemRefType>(func.getArgument(map.source).getType());
  bool bf16 = type.getElementType().isBF16();
  if (type.getShape() != ArrayRef<int64_t>(info.shape) ||
      info.dtype != (bf16 ? DType::BF16 : DType::F16))
    return planError("the tensor map over " + map.role +
                     " reads a buffer the signature describes as " +
                     stringifyDType(info.dtype) + " " +
                     shapeString(info.shape));
  map.dataType = bf16 ? cuda::kTensorMapBFloat16 : cuda::kTensorMapFloat16;
  for (int64_t d : attr.getDims().asArrayRef())
    map.dims.push_back(uint64_t(d));
  for (int64_t s : attr.getStrides().asArrayRef())
    map.strides.push_back(uint64_t(s));
  for (int64_t b : attr.getBox().asArrayRef())
    map.box.push_back(uint32_t(b));
  // CUtensorMapSwizzle: none, 32, 64, 128 bytes.
  map.swizzle = attr.getSwizzle() ? llvm::Log2_64(attr.getSwizzle()) - 4 : 0;
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readAlloc(memref::AllocOp alloc) {
  MemRefType t = alloc.getType();
  // One run-time dim at most (partials of run-time size): its size times
  // the bytes of the static ones.
  int sizeNode = -1;
  if (!t.hasStaticShape()) {
    std::optional<int> n;
    if (alloc.getDynamicSizes().size() == 1 && t.getNumDynamicDims() == 1 &&
        !alloc.getSymbolOperands().size())
      n = exprFor(alloc.getDynamicSizes()[0]);
    if (!n)
      return planError("scratch buffers must have a static shape or one "
                       "run-time dim given by sizes");
    sizeNode = *n;
  }
  int64_t bits = t.getElementTypeBitWidth();
  int64_t elems = 1;
  for (int64_t d : t.getShape())
    if (!ShapedType::isDynamic(d))
      elems *= d;
  int64_t bytes = (elems * bits + 7) / 8;
  AttnDialect::TensorMapAttrHelper tensorMap(alloc.getContext());
  if (TensorMapAttr attr = tensorMap.getAttr(alloc)) {
    GpuTensorMap map;
    if (llvm::Error e = readTensorMap(attr, map))
      return e;
    map.scratch = int64_t(code.scratchBytes.size());
    code.tensorMaps.push_back(std::move(map));
  }
  known[alloc] = {GpuParam::Kind::Scratch, int64_t(code.scratchBytes.size()),
                  0};
  code.scratchBytes.push_back(sizeNode >= 0 ? bytes
                                            : std::max<int64_t>(bytes, 1));
  code.scratchExprs.push_back(sizeNode);
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readLaunch(gpu::LaunchFuncOp launch) {
  if (!launch.getAsyncDependencies().empty() || launch.getAsyncToken())
    return planError("asynchronous gpu.launch_func");
  if (launch.hasClusterSize())
    return planError("gpu.launch_func with a cluster size");
  GpuLaunch l;
  l.kernel = launch.getKernelName().str();
  l.condExpr = launchCond;
  std::string moduleName = launch.getKernelModuleName().str();
  if (binaryName.empty())
    binaryName = moduleName;
  else if (binaryName != moduleName)
    return planError("launches of kernels from two modules (@" + binaryName +
                     ", @" + moduleName + ")");
  Value dims[6] = {launch.getGridSizeX(),  launch.getGridSizeY(),
                   launch.getGridSizeZ(),  launch.getBlockSizeX(),
                   launch.getBlockSizeY(), launch.getBlockSizeZ()};
  const char *names[6] = {"grid x",  "grid y",  "grid z",
                          "block x", "block y", "block z"};
  for (int i = 0; i < 6; ++i) {
    // A grid dim may be a run-time size expression.
    if (i < 3 && dims[i] && !getConstantIntValue(dims[i])) {
      auto it = known.find(dims[i]);
      if (it != known.end() && it->second.kind == GpuParam::Kind::Expr) {
        l.gridExpr[i] = int(it->second.index);
        continue;
      }
    }
    auto d = launchDim(dims[i], names[i]);
    if (!d)
      return d.takeError();
    (i < 3 ? l.grid[i] : l.block[i - 3]) = *d;
  }
  if (Value smem = launch.getDynamicSharedMemorySize()) {
    std::optional<int64_t> c = getConstantIntValue(smem);
    if (!c || *c < 0 || *c > int64_t(UINT32_MAX))
      return planError("dynamic shared memory size is not a constant");
    l.sharedBytes = unsigned(*c);
  }
  for (Value operand : launch.getKernelOperands()) {
    auto it = known.find(operand);
    if (it == known.end())
      return planError("a kernel operand of @" + l.kernel +
                       " is not a buffer, scratch buffer or constant");
    l.params.push_back(it->second);
  }
  code.launches.push_back(std::move(l));
  return llvm::Error::success();
}

llvm::Error LaunchPlanReader::readBinary(ModuleOp module) {
  auto binary = module.lookupSymbol<gpu::BinaryOp>(binaryName);
  if (!binary)
    return planError("no gpu.binary @" + binaryName +
                     " (did gpu-module-to-binary run?)");
  for (Attribute a : binary.getObjects()) {
    auto object = dyn_cast<gpu::ObjectAttr>(a);
    if (!object)
      continue;
    auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget());
    if (!target)
      continue;
    switch (object.getFormat()) {
    case gpu::CompilationTarget::Assembly:
      code.format = "isa";
      break;
    case gpu::CompilationTarget::Binary:
      code.format = "bin";
      break;
    case gpu::CompilationTarget::Fatbin:
      code.format = "fatbin";
      break;
    default:
      continue; // offload (LLVM bitcode): not loadable
    }
    code.binary = object.getObject().getValue().str();
    code.chip = target.getChip().str();
    return llvm::Error::success();
  }
  return planError("gpu.binary @" + binaryName +
                   " holds no NVVM PTX, cubin or fatbin object");
}

llvm::Error LaunchPlanReader::readOps(Block &block, int cond) {
  int outer = launchCond;
  launchCond = cond;
  for (Operation &op : block) {
    if (isa<func::ReturnOp, scf::YieldOp>(op))
      break;
    if (isa<memref::DeallocOp>(op))
      continue; // scratch lives as long as the kernel
    llvm::Error e =
        llvm::TypeSwitch<Operation *, llvm::Error>(&op)
            .Case([&](arith::ConstantOp c) { return readConstant(c); })
            .Case([&](memref::CastOp c) { return readCast(c); })
            .Case([&](memref::AllocOp a) { return readAlloc(a); })
            .Case([&](gpu::LaunchFuncOp l) { return readLaunch(l); })
            .Case([&](memref::DimOp d) { return readDim(d); })
            .Case([&](arith::CmpIOp c) { return readCmp(c); })
            .Case([&](cf::AssertOp a) { return readAssert(a); })
            .Case([&](func::CallOp c) { return readCall(c); })
            .Case([&](scf::IfOp i) { return readIf(i); })
            .Case([&](memref::ReinterpretCastOp r) {
              return readReinterpretCast(r);
            })
            .Default([&](Operation *other) {
              if (std::optional<GpuExpr::Op> kind = exprOp(other))
                return readArith(other, *kind);
              return planError("unsupported operation '" +
                               other->getName().getStringRef() +
                               "' in the host code of @" + func.getSymName());
            });
    if (e)
      return e;
  }
  launchCond = outer;
  return llvm::Error::success();
}

llvm::Expected<GpuKernelCode> LaunchPlanReader::read(ModuleOp module) {
  StringRef funcName = func.getSymName();
  if (func.getNumArguments() != sig.args.size())
    return planError("@" + funcName + " takes " +
                     llvm::Twine(func.getNumArguments()) +
                     " arguments, the signature has " +
                     llvm::Twine(sig.args.size()) + " buffers");
  if (!func.getBody().hasOneBlock())
    return planError("@" + funcName + " has control flow");
  for (BlockArgument arg : func.getArguments())
    known[arg] = {GpuParam::Kind::Buffer, arg.getArgNumber(), 0};
  for (const ArgInfo &info : sig.args)
    code.bufferNames.push_back(stringifyArgRole(info.role));
  if (llvm::Error e = readOps(func.getBody().front(), -1))
    return std::move(e);
  if (code.launches.empty())
    return planError("@" + funcName + " launches no kernel");
  if (llvm::Error e = readBinary(module))
    return std::move(e);
  return std::move(code);
}

} // namespace

llvm::Expected<GpuKernelCode>
mlir::attn::rt::extractGpuKernel(ModuleOp module, llvm::StringRef funcName,
                                 const KernelSignature &sig) {
  auto func = module.lookupSymbol<func::FuncOp>(funcName);
  if (!func || func.isExternal())
    return planError("no function @" + funcName);
  return LaunchPlanReader(func, sig).read(module);
}
