//===- AdditiveKernel.cpp - AdditiveSpec and its kernel function ----------===//
#include "runtime/AdditiveKernel.h"
#include "runtime/BackwardKernel.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/Errors.h"

#include "dialect/AttnDialect.h"
#include "dialect/Limits.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

bool AdditiveSpec::hasDynamicSizes() const {
  return batch == kDynamicSize || queryLen == kDynamicSize ||
         kvLen == kDynamicSize;
}

AdditiveSpec AdditiveSpec::withSizes(int64_t b, int64_t sq, int64_t skv) const {
  AdditiveSpec s = *this;
  s.batch = b;
  s.queryLen = sq;
  s.kvLen = skv;
  return s;
}

std::string AdditiveSpec::validate() const {
  for (auto [name, v] :
       {std::pair{"batch", batch}, {"queryLen", queryLen}, {"kvLen", kvLen}})
    if (v != kDynamicSize && (v < 0 || v > limits::kMaxDim))
      return std::string(name) + " must be in [0, " +
             std::to_string(limits::kMaxDim) + "] or dynamic, got " +
             std::to_string(v);
  for (auto [name, v] : {std::pair{"hidden", hidden},
                         {"queryDim", queryDim},
                         {"keyDim", keyDim},
                         {"valueDim", valueDim}})
    if (v < 1 || v > limits::kMaxHeadDim)
      return std::string(name) + " must be in [1, " +
             std::to_string(limits::kMaxHeadDim) + "], got " +
             std::to_string(v);
  if (!hasDynamicSizes()) {
    int64_t elements = 0;
    int64_t dims[] = {queryDim, keyDim, valueDim};
    for (int64_t i = 0; i < 3; ++i)
      if (__builtin_mul_overflow(batch, i == 0 ? queryLen : kvLen, &elements) ||
          __builtin_mul_overflow(elements, dims[i], &elements) ||
          elements > limits::kMaxElements)
        return "a query, key or value buffer has more than " +
               std::to_string(limits::kMaxElements) + " elements";
    if (returnWeights &&
        (__builtin_mul_overflow(batch * queryLen, kvLen, &elements) ||
         elements > limits::kMaxElements))
      return "the weights [B, Sq, Skv] have more than " +
             std::to_string(limits::kMaxElements) + " elements";
  }
  return "";
}

std::string AdditiveSpec::key() const {
  auto n = [](int64_t v) {
    return v == kDynamicSize ? std::string("?") : std::to_string(v);
  };
  return "additive:b" + n(batch) + ",sq" + n(queryLen) + ",skv" + n(kvLen) +
         ",h" + n(hidden) + ",dq" + n(queryDim) + ",dk" + n(keyDim) + ",dv" +
         n(valueDim) + "," + stringifyElementType(dtype) +
         (withBias ? ",bias" : "") + (withScoreBias ? ",score_bias" : "") +
         (withKvLengths ? ",lengths" : "") + (withBoolMask ? ",mask" : "") +
         (returnWeights ? ",weights" : "");
}

double AdditiveSpec::flops() const {
  double b = batch, sq = queryLen, skv = kvLen, h = hidden;
  return 2 * b * (sq * queryDim + skv * keyDim) * h +
         b * sq * skv * (3 * h + 2 * valueDim);
}

llvm::Expected<KernelModule>
mlir::attn::rt::buildAdditiveKernelModule(MLIRContext *ctx,
                                          const AdditiveSpec &spec) {
  if (std::string err = spec.validate(); !err.empty())
    return makeError("invalid additive attention spec: " + err);
  DiagnosticCapture diags(ctx);
  ctx->loadDialect<AttnDialect, func::FuncDialect,
                   bufferization::BufferizationDialect>();
  KernelModule km;
  km.signature = signatureForAdditiveSpec(spec);
  OpBuilder b(ctx);
  KernelFuncBody body = beginKernelFunc(b, km);
  auto in = [&](ArgRole r) { return body.inputs.lookup(unsigned(r)); };
  Type weightsTy = spec.returnWeights ? body.outputs[1].first : Type();
  auto op = AdditiveAttentionOp::create(
      b, body.func.getLoc(), body.outputs[0].first, weightsTy,
      in(ArgRole::Query), in(ArgRole::Key), in(ArgRole::Value),
      in(ArgRole::QueryWeight), in(ArgRole::KeyWeight),
      in(ArgRole::ScoreWeight), in(ArgRole::Bias), in(ArgRole::ScoreBias),
      in(ArgRole::KvLengths), in(ArgRole::BoolMask));
  endKernelFunc(b, body, op->getResults());
  if (failed(verify(*km.module)))
    return diags.takeError("internal error: the additive kernel is invalid");
  return km;
}
