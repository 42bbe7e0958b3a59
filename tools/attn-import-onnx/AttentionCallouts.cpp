//===- AttentionCallouts.cpp - raised attention as runtime kernels --------===//
#include "tools/attn-import-onnx/AttentionCallouts.h"

#include "dialect/AttnOps.h"
#include "runtime/Errors.h"
#include "runtime/HalfFloat.h"
#include "runtime/KernelBuilder.h"
#include "runtime/KernelSignature.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;
using rt::makeError;

namespace {
/// A function holding a clone of `op` whose operands are its arguments;
/// with `half`, f32 operands and results become `half` (the GPU kernels'
/// element types). The text Runtime::compileMlir takes.
llvm::Expected<std::string> kernelText(AttentionOp op, Type half) {
  if (half && (!op.getScoreMod().empty() || !op.getMaskMod().empty()))
    return makeError("an attn.attention with score_mod/mask_mod regions runs "
                     "on the CPU only here (its f32 region cannot be "
                     "retyped)");
  auto retype = [&](Type t) -> Type {
    auto tt = cast<RankedTensorType>(t);
    if (!half || !tt.getElementType().isF32())
      return t;
    return RankedTensorType::get(tt.getShape(), half);
  };
  rt::OutlinedOp outlined = rt::outlineIntoFunc(op, "attention", retype);
  outlined.clone->removeAttr("attn.raised");
  if (failed(verify(*outlined.module)))
    return makeError("the outlined attn.attention does not verify");
  std::string text;
  llvm::raw_string_ostream os(text);
  outlined.module->print(os);
  return text;
}

/// The ONNX node an op came from: the importer gives every op its node's
/// name as location (a raised attention has its P·V MatMul's).
std::string nodeName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location l : fused.getLocations())
      if (std::string n = nodeName(l); !n.empty())
        return n;
  return "";
}

/// "attn.attention 0 at node 'pv' (cpu)", the prefix of op `index`'s
/// errors (without " at node" when the op has no name).
std::string describe(AttentionOp op, int64_t index, const std::string &target) {
  std::string node = nodeName(op.getLoc());
  return "attn.attention " + std::to_string(index) +
         (node.empty() ? "" : " at node '" + node + "'") + " (" + target + ")";
}

/// Replaces `op` by its operands copied into fresh buffers, an array of
/// their addresses (operands, then the result's buffer), an indirect call
/// of `fn(self, index, array)` and the result read back from its buffer.
/// Top-level allocs are freed at the end of the model call.
void replaceByCallout(AttentionOp op, int64_t self, int64_t index,
                      uintptr_t fn) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type i64 = b.getI64Type();
  SmallVector<Value> bufs;
  auto bufferOf = [&](Type t) {
    auto tt = cast<RankedTensorType>(t);
    return memref::AllocOp::create(
        b, loc, MemRefType::get(tt.getShape(), tt.getElementType()));
  };
  for (Value operand : op->getOperands()) {
    Value m = bufferOf(operand.getType());
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), operand, m, /*restrict=*/true, /*writable=*/true);
    bufs.push_back(m);
  }
  Value out = bufferOf(op->getResult(0).getType());
  bufs.push_back(out);
  Value array = memref::AllocaOp::create(
      b, loc, MemRefType::get({static_cast<int64_t>(bufs.size())}, i64));
  auto addressOf = [&](Value m) -> Value {
    Value p = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, m);
    return arith::IndexCastOp::create(b, loc, i64, p);
  };
  for (auto [i, m] : llvm::enumerate(bufs))
    memref::StoreOp::create(
        b, loc, addressOf(m), array,
        ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
  auto constant = [&](int64_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v));
  };
  Value callee = LLVM::IntToPtrOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext()),
      constant(static_cast<int64_t>(fn)));
  auto fnType = LLVM::LLVMFunctionType::get(
      LLVM::LLVMVoidType::get(b.getContext()), {i64, i64, i64});
  LLVM::CallOp::create(
      b, loc, fnType,
      ValueRange{callee, constant(self), constant(index), addressOf(array)});
  Value result = bufferization::ToTensorOp::create(
      b, loc, op->getResult(0).getType(), out, /*restrict=*/true,
      /*writable=*/true);
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}
} // namespace

struct AttentionCallouts::Op {
  rt::KernelRef kernel;
  /// "attn.attention 0 at node 'pv' (cpu)": the prefix of its errors.
  std::string what;
  /// Per ABI buffer: the model's element count and whether the model holds
  /// it as f32 while the kernel takes 16-bit floats (converted per call).
  std::vector<int64_t> elements;
  std::vector<bool> converted;
  std::vector<std::vector<uint16_t>> staging;
};

AttentionCallouts::AttentionCallouts(const CalloutOptions &options)
    : options(options), runtime([&] {
        rt::RuntimeOptions ro(options.threads);
        ro.cacheDir = "off";
        return ro;
      }()) {}

AttentionCallouts::~AttentionCallouts() = default;

int64_t AttentionCallouts::numOps() const {
  return static_cast<int64_t>(ops.size());
}

const rt::Kernel &AttentionCallouts::kernel(int64_t i) const {
  return *ops[i].kernel;
}

llvm::Error AttentionCallouts::outline(ModuleOp module) {
  module.getContext()
      ->loadDialect<LLVM::LLVMDialect, memref::MemRefDialect,
                    bufferization::BufferizationDialect, arith::ArithDialect>();
  SmallVector<AttentionOp> found;
  module.walk([&](AttentionOp op) { found.push_back(op); });
  bool cuda = options.target == rt::Target::Cuda;
  Type half;
  if (cuda)
    half = options.gpuBf16 ? Type(BFloat16Type::get(module.getContext()))
                           : Type(Float16Type::get(module.getContext()));
  for (AttentionOp op : found) {
    std::string what = describe(op, static_cast<int64_t>(ops.size()),
                                rt::stringifyTarget(options.target));
    auto fail = [&](llvm::Error e) {
      return makeError(what + ": " + llvm::toString(std::move(e)));
    };
    if (op->getNumResults() != 1)
      return makeError(what + ": it has " + llvm::Twine(op->getNumResults()) +
                       " results (lse) and cannot be outlined");
    auto text = kernelText(op, half);
    if (!text)
      return fail(text.takeError());
    auto kernel = runtime.compileMlir(*text, options.target, options.compile);
    if (!kernel)
      return fail(kernel.takeError());
    Op o;
    o.kernel = *kernel;
    o.what = what;
    SmallVector<Type> modelTypes(op->getOperandTypes());
    modelTypes.push_back(op->getResult(0).getType());
    const rt::KernelSignature &sig = o.kernel->signature();
    if (sig.args.size() != modelTypes.size())
      return makeError(what + ": the outlined kernel takes " +
                       llvm::Twine(sig.args.size()) + " buffers, the op has " +
                       llvm::Twine(modelTypes.size()));
    for (auto [arg, t] : llvm::zip(sig.args, modelTypes)) {
      auto tt = cast<RankedTensorType>(t);
      bool conv = tt.getElementType().isF32() && arg.dtype != rt::DType::F32;
      o.elements.push_back(tt.getNumElements());
      o.converted.push_back(conv);
      o.staging.emplace_back(conv ? tt.getNumElements() : 0);
    }
    replaceByCallout(op, reinterpret_cast<intptr_t>(this),
                     static_cast<int64_t>(ops.size()),
                     reinterpret_cast<uintptr_t>(&AttentionCallouts::entry));
    ops.push_back(std::move(o));
  }
  return llvm::Error::success();
}

llvm::Error AttentionCallouts::load() const {
  for (const Op &o : ops)
    if (o.kernel->target() == rt::Target::Cuda)
      if (llvm::Error e = o.kernel->load())
        return e;
  return llvm::Error::success();
}

llvm::Error AttentionCallouts::takeError() {
  std::lock_guard<std::mutex> lock(mutex);
  if (firstError.empty())
    return llvm::Error::success();
  std::string msg = std::move(firstError);
  firstError.clear();
  return makeError(msg);
}

void AttentionCallouts::entry(int64_t self, int64_t op, int64_t ptrs) {
  reinterpret_cast<AttentionCallouts *>(self)->call(
      op, reinterpret_cast<void **>(ptrs));
}

void AttentionCallouts::call(int64_t index, void **ptrs) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!firstError.empty())
    return;
  Op &o = ops[index];
  const rt::KernelSignature &sig = o.kernel->signature();
  bool bf16 = options.gpuBf16;
  rt::AttentionArgs args;
  for (auto [i, arg] : llvm::enumerate(sig.args)) {
    void *p = ptrs[i];
    if (o.converted[i]) {
      if (!arg.isOutput) {
        llvm::ArrayRef<float> src(static_cast<const float *>(p), o.elements[i]);
        bf16 ? rt::floatsToBFloats(src, o.staging[i].data())
             : rt::floatsToHalves(src, o.staging[i].data());
      }
      p = o.staging[i].data();
    }
    args.set(arg.role, rt::BufferRef::contiguous(p, arg.dtype, arg.shape));
  }
  if (llvm::Error e = o.kernel->run(args)) {
    firstError = o.what + ": " + llvm::toString(std::move(e));
    return;
  }
  for (auto [i, arg] : llvm::enumerate(sig.args)) {
    if (!arg.isOutput || !o.converted[i])
      continue;
    auto *dst = static_cast<float *>(ptrs[i]);
    bf16 ? rt::bfloatsToFloats(o.staging[i], dst)
         : rt::halvesToFloats(o.staging[i], dst);
  }
}
