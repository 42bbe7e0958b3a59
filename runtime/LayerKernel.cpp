//===- LayerKernel.cpp - LayerSpec, its kernel, and the Layer -------------===//
//
// A layer is one kernel (attn.multi_head_attention, decomposed by
// attn-decompose-layer into GEMMs around an attn.attention) plus the
// weights it was compiled for: they are copied once, so a run passes only
// activations.
//
//===----------------------------------------------------------------------===//
#include "runtime/BackwardKernel.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/Errors.h"
#include "runtime/Layer.h"

#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"
#include "dialect/Limits.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

#include <cstring>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

std::string LayerSpec::validate() const {
  const AttentionSpec &a = attention;
  if (a.hasDynamicSizes())
    return "a layer takes static sizes only (batch, Sq, Skv)";
  if (a.softcap || a.withSinks || a.returnLse)
    return "softcap, sinks and lse are not taken by a layer";
  if (!cross && a.kvLen != a.queryLen)
    return "self-attention needs kvLen == queryLen (got " +
           std::to_string(a.kvLen) + " and " + std::to_string(a.queryLen) + ")";
  if (combinedQkv && a.effectiveValueDim() != a.headDim)
    return "a combined qkv weight needs Dv == D; use separate weights";
  for (auto [name, v] : {std::pair{"embed", embed},
                         {"kvEmbed", effectiveKvEmbed()},
                         {"outEmbed", effectiveOutEmbed()}})
    if (v < 1 || v > limits::kMaxDim)
      return std::string(name) + " must be in [1, " +
             std::to_string(limits::kMaxDim) + "], got " + std::to_string(v);
  if (combinedQkv && cross && effectiveKvEmbed() != embed)
    return "a combined qkv weight needs kvEmbed == embed; use separate "
           "weights";
  if (returnWeights && a.kvLen > limits::kMaxHeadDim)
    return "the weights result is for small sizes: kvLen must be at most " +
           std::to_string(limits::kMaxHeadDim);
  if (!boolMaskShape.empty()) {
    int64_t full[] = {a.batch, a.numHeads, a.queryLen, a.kvLen};
    if (boolMaskShape.size() != 4)
      return "boolMaskShape must have rank 4 (broadcastable to [B, Hq, Sq, "
             "Skv])";
    for (int i = 0; i < 4; ++i)
      if (boolMaskShape[i] != 1 && boolMaskShape[i] != full[i])
        return "boolMaskShape dim " + std::to_string(i) + " must be 1 or " +
               std::to_string(full[i]);
  }
  AttentionSpec inner = a;
  inner.layout = Layout::BSHD;
  return inner.validate();
}

std::string LayerSpec::key() const {
  std::string k =
      "layer:" + attention.key() + ",e" + std::to_string(embed) + ",ekv" +
      std::to_string(effectiveKvEmbed()) + ",eout" +
      std::to_string(effectiveOutEmbed()) + (cross ? ",cross" : "") +
      (combinedQkv ? ",combined" : ",separate") +
      (withQkvBias ? ",qkv_bias" : "") + (withOutBias ? ",out_bias" : "") +
      (returnWeights ? ",weights" : "");
  for (int64_t d : boolMaskShape)
    k += ",m" + std::to_string(d);
  return k;
}

double LayerSpec::flops() const {
  const AttentionSpec &a = attention;
  double b = a.batch, sq = a.queryLen, skv = a.kvLen;
  double hq = a.numHeads, hkv = a.numKvHeads, d = a.headDim,
         dv = a.effectiveValueDim();
  double proj = sq * embed * hq * d +
                skv * effectiveKvEmbed() * hkv * (d + dv) +
                sq * hq * dv * effectiveOutEmbed();
  AttentionSpec inner = a;
  inner.layout = Layout::BSHD;
  return 2 * b * proj + inner.flops();
}

KernelSignature mlir::attn::rt::signatureForLayerSpec(const LayerSpec &spec) {
  KernelSignature sig;
  sig.layer = spec;
  sig.spec = spec.attention;
  sig.spec.layout = Layout::BSHD;
  const AttentionSpec &a = sig.spec;
  DType t = dtypeOf(a.dtype);
  int64_t b = a.batch, sq = a.queryLen, skv = a.kvLen, hq = a.numHeads,
          hkv = a.numKvHeads, d = a.headDim, dv = a.effectiveValueDim();
  int64_t e = spec.embed, ekv = spec.effectiveKvEmbed(),
          eOut = spec.effectiveOutEmbed();
  sig.args.push_back({ArgRole::Query, t, {b, sq, e}});
  if (spec.cross) {
    sig.args.push_back({ArgRole::Key, t, {b, skv, ekv}});
    sig.args.push_back({ArgRole::Value, t, {b, skv, ekv}});
  }
  if (spec.combinedQkv) {
    sig.args.push_back({ArgRole::QkvWeight, t, {(hq + 2 * hkv) * d, e}});
  } else {
    sig.args.push_back({ArgRole::QueryWeight, t, {hq * d, e}});
    sig.args.push_back({ArgRole::KeyWeight, t, {hkv * d, ekv}});
    sig.args.push_back({ArgRole::ValueWeight, t, {hkv * dv, ekv}});
  }
  if (spec.withQkvBias && spec.combinedQkv) {
    sig.args.push_back({ArgRole::QkvBias, t, {(hq + 2 * hkv) * d}});
  } else if (spec.withQkvBias) {
    sig.args.push_back({ArgRole::QueryBias, t, {hq * d}});
    sig.args.push_back({ArgRole::KeyBias, t, {hkv * d}});
    sig.args.push_back({ArgRole::ValueBias, t, {hkv * dv}});
  }
  sig.args.push_back({ArgRole::OutWeight, t, {eOut, hq * dv}});
  if (spec.withOutBias)
    sig.args.push_back({ArgRole::OutBias, t, {eOut}});
  if (!spec.boolMaskShape.empty())
    sig.args.push_back({ArgRole::BoolMask, DType::I1, spec.boolMaskShape,
                        /*unitInnerStride=*/false});
  if (a.withKvLengths)
    sig.args.push_back(
        {ArgRole::KvLengths, DType::I32, {b}, /*unitInnerStride=*/false});
  if (a.dropout)
    sig.args.push_back(
        {ArgRole::DropoutState, DType::I64, {2}, /*unitInnerStride=*/false});
  sig.args.push_back({ArgRole::Output, t, {b, sq, eOut}, true, true});
  if (spec.returnWeights)
    sig.args.push_back({ArgRole::Weights, t, {b, hq, sq, skv}, true, true});
  return sig;
}

namespace {

llvm::Expected<KernelModule> buildLayerKernelModule(MLIRContext *ctx,
                                                    const LayerSpec &spec) {
  DiagnosticCapture diags(ctx);
  ctx->loadDialect<AttnDialect, func::FuncDialect,
                   bufferization::BufferizationDialect>();
  KernelModule km;
  km.signature = signatureForLayerSpec(spec);
  const AttentionSpec &a = km.signature.spec;
  OpBuilder b(ctx);
  KernelFuncBody body = beginKernelFunc(b, km);
  auto in = [&](ArgRole r) { return body.inputs.lookup(unsigned(r)); };
  Type weightsTy = spec.returnWeights ? body.outputs[1].first : Type();
  auto op = MultiHeadAttentionOp::create(
      b, body.func.getLoc(), body.outputs[0].first, weightsTy,
      in(ArgRole::Query), in(ArgRole::Key), in(ArgRole::Value),
      in(ArgRole::QkvWeight), in(ArgRole::QueryWeight), in(ArgRole::KeyWeight),
      in(ArgRole::ValueWeight), in(ArgRole::QkvBias), in(ArgRole::QueryBias),
      in(ArgRole::KeyBias), in(ArgRole::ValueBias), in(ArgRole::OutWeight),
      in(ArgRole::OutBias), in(ArgRole::BoolMask), in(ArgRole::KvLengths),
      /*q_segment_ids=*/Value(), /*kv_segment_ids=*/Value(),
      in(ArgRole::DropoutState), b.getI64IntegerAttr(a.numHeads),
      a.numKvHeads == a.numHeads ? IntegerAttr()
                                 : b.getI64IntegerAttr(a.numKvHeads),
      a.scale ? b.getF32FloatAttr(*a.scale) : FloatAttr(),
      a.mask.isTrivial() ? MaskAttr() : MaskAttr::get(ctx, a.mask),
      a.dropout ? b.getF64FloatAttr(*a.dropout) : FloatAttr());
  endKernelFunc(b, body, op->getResults());
  if (failed(verify(*km.module)))
    return diags.takeError("internal error: the layer kernel is invalid");
  return km;
}

} // namespace

const std::optional<BufferRef> *LayerWeights::get(ArgRole role) const {
  return const_cast<LayerWeights *>(this)->get(role);
}

std::optional<BufferRef> *LayerWeights::get(ArgRole role) {
  switch (role) {
  case ArgRole::QkvWeight:
    return &qkvWeight;
  case ArgRole::QueryWeight:
    return &queryWeight;
  case ArgRole::KeyWeight:
    return &keyWeight;
  case ArgRole::ValueWeight:
    return &valueWeight;
  case ArgRole::QkvBias:
    return &qkvBias;
  case ArgRole::QueryBias:
    return &queryBias;
  case ArgRole::KeyBias:
    return &keyBias;
  case ArgRole::ValueBias:
    return &valueBias;
  case ArgRole::OutWeight:
    return &outWeight;
  case ArgRole::OutBias:
    return &outBias;
  default:
    return nullptr;
  }
}

llvm::Error Layer::bind(const LayerWeights &weights) {
  const KernelSignature &sig = compiled->signature();
  for (ArgRole role : allArgRoles()) {
    const std::optional<BufferRef> *w = weights.get(role);
    if (w && *w && !sig.has(role))
      return makeError(llvm::Twine(stringifyArgRole(role)) +
                       ": given, but the layer takes no such weight");
  }
  for (const ArgInfo &info : sig.args) {
    const std::optional<BufferRef> *slot = weights.get(info.role);
    if (!slot)
      continue; // an activation, passed at run
    const char *name = stringifyArgRole(info.role);
    const std::optional<BufferRef> &w = *slot;
    if (!w)
      return makeError(llvm::Twine(name) +
                       ": missing; the layer needs this weight");
    if (w->space != MemorySpace::Host || !w->data)
      return makeError(llvm::Twine(name) + ": weights must be host memory "
                                           "(not null)");
    if (w->dtype != info.dtype)
      return makeError(llvm::Twine(name) + ": dtype " +
                       stringifyDType(w->dtype) + " but the layer needs " +
                       stringifyDType(info.dtype));
    if (llvm::ArrayRef<int64_t>(w->shape) != llvm::ArrayRef(info.shape))
      return makeError(llvm::Twine(name) + ": shape " + w->shapeString() +
                       " but the layer needs " + shapeString(info.shape));
    // A contiguous copy: later changes to the caller's buffer do not
    // reach the layer.
    int64_t esize = dtypeBytes(w->dtype), n = w->numElements();
    auto strides = w->effectiveStrides();
    std::vector<uint8_t> &copy = storage.emplace_back(n * esize);
    int64_t cols = w->shape.back();
    int64_t rows = cols ? n / cols : 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        int64_t off =
            c * strides.back() + (w->shape.size() == 2 ? r * strides[0] : 0);
        std::memcpy(copy.data() + (r * cols + c) * esize,
                    static_cast<const uint8_t *>(w->data) + off * esize, esize);
      }
    bound.push_back(
        {info.role, BufferRef::contiguous(copy.data(), w->dtype, w->shape)});
  }
  return llvm::Error::success();
}

llvm::Error Layer::run(const AttentionArgs &args) const {
  AttentionArgs full = args;
  for (const auto &[role, buf] : bound) {
    if (args.get(role))
      return makeError(llvm::Twine(stringifyArgRole(role)) +
                       ": bound by the layer at compileLayer; not a run "
                       "argument");
    full.set(role, buf);
  }
  // Self-attention takes no key/value buffers; the kernel reads the query.
  return compiled->run(full);
}

llvm::Expected<std::shared_ptr<const Layer>>
Runtime::compileLayer(const LayerSpec &spec, const LayerWeights &weights,
                      Target target, const CompileOptions &options) {
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid layer spec: " + err);
  if (target != Target::Cpu)
    return makeError(llvm::Twine("attention layers run on the CPU only for "
                                 "now: target ") +
                     stringifyTarget(target) +
                     " is refused (attn-to-nvvm does not lower "
                     "attn.multi_head_attention)");
  auto kernel = compileCpuModule(
      "layer|cpu|" + options.key() + "|" + spec.key(),
      [&] { return signatureForLayerSpec(spec); },
      [&](MLIRContext *ctx) { return buildLayerKernelModule(ctx, spec); },
      options);
  if (!kernel)
    return kernel.takeError();
  std::shared_ptr<Layer> layer(new Layer(spec, std::move(*kernel)));
  if (llvm::Error e = layer->bind(weights))
    return std::move(e);
  return std::shared_ptr<const Layer>(std::move(layer));
}
