//===- KernelSignature.cpp - kernel buffer lists --------------------------===//
#include "runtime/KernelSignature.h"

using namespace mlir::attn;
using namespace mlir::attn::rt;

llvm::ArrayRef<ArgRole> mlir::attn::rt::allArgRoles() {
  static constexpr ArgRole kAll[] = {
      ArgRole::Query,       ArgRole::Key,          ArgRole::Value,
      ArgRole::BoolMask,    ArgRole::Bias,         ArgRole::KvLengths,
      ArgRole::QSegmentIds, ArgRole::KvSegmentIds, ArgRole::Output,
      ArgRole::Lse,         ArgRole::Sinks,        ArgRole::GradOutput,
      ArgRole::GradQuery,   ArgRole::GradKey,      ArgRole::GradValue,
      ArgRole::GradBias,    ArgRole::DropoutState, ArgRole::QueryWeight,
      ArgRole::KeyWeight,   ArgRole::ScoreWeight,  ArgRole::ScoreBias,
      ArgRole::Weights,     ArgRole::ValueWeight,  ArgRole::QkvWeight,
      ArgRole::QkvBias,     ArgRole::QueryBias,    ArgRole::KeyBias,
      ArgRole::ValueBias,   ArgRole::OutWeight,    ArgRole::OutBias,
      ArgRole::KvNumBlocks, ArgRole::KvIndices};
  return kAll;
}

const char *mlir::attn::rt::stringifyArgRole(ArgRole r) {
  switch (r) {
  case ArgRole::Query:
    return "query";
  case ArgRole::Key:
    return "key";
  case ArgRole::Value:
    return "value";
  case ArgRole::BoolMask:
    return "bool_mask";
  case ArgRole::Bias:
    return "bias";
  case ArgRole::KvLengths:
    return "kv_lengths";
  case ArgRole::QSegmentIds:
    return "q_segment_ids";
  case ArgRole::KvSegmentIds:
    return "kv_segment_ids";
  case ArgRole::Sinks:
    return "sinks";
  case ArgRole::Output:
    return "output";
  case ArgRole::Lse:
    return "lse";
  case ArgRole::GradOutput:
    return "grad_output";
  case ArgRole::GradQuery:
    return "grad_query";
  case ArgRole::GradKey:
    return "grad_key";
  case ArgRole::GradValue:
    return "grad_value";
  case ArgRole::GradBias:
    return "grad_bias";
  case ArgRole::DropoutState:
    return "dropout_state";
  case ArgRole::QueryWeight:
    return "query_weight";
  case ArgRole::KeyWeight:
    return "key_weight";
  case ArgRole::ScoreWeight:
    return "score_weight";
  case ArgRole::ScoreBias:
    return "score_bias";
  case ArgRole::Weights:
    return "weights";
  case ArgRole::ValueWeight:
    return "value_weight";
  case ArgRole::QkvWeight:
    return "qkv_weight";
  case ArgRole::QkvBias:
    return "qkv_bias";
  case ArgRole::QueryBias:
    return "query_bias";
  case ArgRole::KeyBias:
    return "key_bias";
  case ArgRole::ValueBias:
    return "value_bias";
  case ArgRole::OutWeight:
    return "out_weight";
  case ArgRole::OutBias:
    return "out_bias";
  case ArgRole::KvNumBlocks:
    return "kv_num_blocks";
  case ArgRole::KvIndices:
    return "kv_indices";
  }
  return "?";
}

const ArgInfo *KernelSignature::find(ArgRole role) const {
  for (const ArgInfo &a : args)
    if (a.role == role)
      return &a;
  return nullptr;
}

bool KernelSignature::isPlainSpec() const {
  return !hasScoreMod && !hasMaskMod && !has(ArgRole::BoolMask) &&
         !has(ArgRole::Bias) && !has(ArgRole::QSegmentIds);
}

DType mlir::attn::rt::dtypeOf(ElementType t) {
  switch (t) {
  case ElementType::F32:
    return DType::F32;
  case ElementType::F16:
    return DType::F16;
  case ElementType::BF16:
    return DType::BF16;
  }
  return DType::F32;
}

/// q, k, v and, for a ragged spec, kv_lengths: the inputs every kernel
/// of a spec starts with.
static void addInputs(KernelSignature &sig, const AttentionSpec &spec) {
  DType t = dtypeOf(spec.dtype);
  sig.args.push_back({ArgRole::Query, t, spec.queryShape()});
  sig.args.push_back({ArgRole::Key, t, spec.keyShape()});
  sig.args.push_back({ArgRole::Value, t, spec.valueShape()});
  if (spec.withKvLengths)
    sig.args.push_back({ArgRole::KvLengths,
                        DType::I32,
                        {spec.batch},
                        /*unitInnerStride=*/false});
}

KernelSignature mlir::attn::rt::signatureForSpec(const AttentionSpec &spec) {
  KernelSignature sig;
  sig.spec = spec;
  DType t = dtypeOf(spec.dtype);
  addInputs(sig, spec);
  if (spec.withSinks)
    sig.args.push_back({ArgRole::Sinks,
                        DType::F32,
                        {spec.numHeads},
                        /*unitInnerStride=*/false});
  if (spec.dropout)
    sig.args.push_back(
        {ArgRole::DropoutState, DType::I64, {2}, /*unitInnerStride=*/false});
  if (spec.blockSparse) {
    sig.args.push_back({ArgRole::KvNumBlocks, DType::I32, spec.numBlocksShape(),
                        /*unitInnerStride=*/false});
    sig.args.push_back({ArgRole::KvIndices, DType::I32,
                        spec.blockIndicesShape(), /*unitInnerStride=*/false});
  }
  sig.args.push_back({ArgRole::Output, t, spec.outputShape(), true, true});
  if (spec.returnLse)
    sig.args.push_back({ArgRole::Lse,
                        DType::F32,
                        {spec.batch, spec.numHeads, spec.queryLen},
                        /*unitInnerStride=*/false,
                        /*isOutput=*/true});
  return sig;
}

KernelSignature
mlir::attn::rt::signatureForBackwardSpec(const AttentionSpec &spec) {
  KernelSignature sig;
  sig.spec = spec;
  sig.spec.returnLse = false; // the lse is an input here
  sig.isBackward = true;
  DType t = dtypeOf(spec.dtype);
  addInputs(sig, spec);
  if (spec.dropout) // the forward's [seed, offset]
    sig.args.push_back(
        {ArgRole::DropoutState, DType::I64, {2}, /*unitInnerStride=*/false});
  sig.args.push_back({ArgRole::Output, t, spec.outputShape()});
  sig.args.push_back({ArgRole::GradOutput, t, spec.outputShape()});
  sig.args.push_back({ArgRole::Lse,
                      DType::F32,
                      {spec.batch, spec.numHeads, spec.queryLen},
                      /*unitInnerStride=*/false});
  sig.args.push_back({ArgRole::GradQuery, t, spec.queryShape(), true, true});
  sig.args.push_back({ArgRole::GradKey, t, spec.keyShape(), true, true});
  sig.args.push_back({ArgRole::GradValue, t, spec.valueShape(), true, true});
  return sig;
}

KernelSignature
mlir::attn::rt::signatureForAdditiveSpec(const AdditiveSpec &spec) {
  KernelSignature sig;
  sig.additive = spec;
  sig.spec.batch = spec.batch;
  sig.spec.queryLen = spec.queryLen;
  sig.spec.kvLen = spec.kvLen;
  sig.spec.dtype = spec.dtype;
  DType t = dtypeOf(spec.dtype);
  int64_t b = spec.batch, sq = spec.queryLen, skv = spec.kvLen, h = spec.hidden;
  sig.args.push_back({ArgRole::Query, t, {b, sq, spec.queryDim}});
  sig.args.push_back({ArgRole::Key, t, {b, skv, spec.keyDim}});
  sig.args.push_back({ArgRole::Value, t, {b, skv, spec.valueDim}});
  sig.args.push_back({ArgRole::QueryWeight, t, {h, spec.queryDim}});
  sig.args.push_back({ArgRole::KeyWeight, t, {h, spec.keyDim}});
  sig.args.push_back({ArgRole::ScoreWeight, t, {1, h}});
  if (spec.withBias)
    sig.args.push_back({ArgRole::Bias, t, {h}});
  if (spec.withScoreBias)
    sig.args.push_back({ArgRole::ScoreBias, t, {1}});
  if (spec.withKvLengths)
    sig.args.push_back(
        {ArgRole::KvLengths, DType::I32, {b}, /*unitInnerStride=*/false});
  if (spec.withBoolMask)
    sig.args.push_back({ArgRole::BoolMask,
                        DType::I1,
                        {b, sq, skv},
                        /*unitInnerStride=*/false});
  sig.args.push_back({ArgRole::Output, t, {b, sq, spec.valueDim}, true, true});
  if (spec.returnWeights)
    sig.args.push_back({ArgRole::Weights, t, {b, sq, skv}, true, true});
  return sig;
}
