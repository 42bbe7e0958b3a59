//===- LayerTest.cpp - attention layers: numerics and errors --------------===//
//
// Runtime::compileLayer (attn.multi_head_attention through
// attn-decompose-layer) against the float64 reference (referenceLayer):
// self- and cross-attention, combined and separate weights, biases on and
// off, MHA / GQA 4:1 / MQA, causal and a key padding mask, ragged
// kv_lengths, dropout regenerated from the Philox stream, the weights
// result; odd sizes (E = 96, S = 37, D = 40, Dv = 24); bit-identical
// results on 1, 2 and 3 threads. Inputs follow
// nn.Linear's initialisation (weights U(-1/sqrt(in), 1/sqrt(in)), biases
// U(-0.1, 0.1)) on N(0, 1) activations, rounded to the dtype.
// Tolerances |got - ref| <= atol + rtol |ref| (f32 accumulation
// everywhere; with f16/bf16 the projections, the attention output and the
// result are each rounded to the dtype, 2^-11 / 2^-8 relative):
//   f32 atol 1e-5 rtol 1e-4, f16 atol 2e-3 rtol 4e-3,
//   bf16 atol 1.5e-2 rtol 3e-2
// (measured max errors, 2026-12-03: f32 5e-7, f16 3.4e-4, bf16 2.7e-3).
// Outputs start as NaN, so an element never written fails, and NaN never
// passes a check.
//
//===----------------------------------------------------------------------===//
#include "runtime/Layer.h"
#include "RuntimeTestUtils.h"
#include "runtime/HalfFloat.h"
#include "runtime/Reference.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <random>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

struct Tolerance {
  double atol, rtol;
};

Tolerance toleranceFor(ElementType t) {
  switch (t) {
  case ElementType::F16:
    return {2e-3, 4e-3};
  case ElementType::BF16:
    return {1.5e-2, 3e-2};
  case ElementType::F32:
    break;
  }
  return {1e-5, 1e-4};
}

bool isWeight(ArgRole r) {
  return r == ArgRole::QkvWeight || r == ArgRole::QueryWeight ||
         r == ArgRole::KeyWeight || r == ArgRole::ValueWeight ||
         r == ArgRole::OutWeight;
}

bool isBias(ArgRole r) {
  return r == ArgRole::QkvBias || r == ArgRole::QueryBias ||
         r == ArgRole::KeyBias || r == ArgRole::ValueBias ||
         r == ArgRole::OutBias;
}

/// Owned contiguous buffers for every buffer of a layer signature.
class Buffers {
public:
  Buffers(const KernelSignature &sig, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (const ArgInfo &info : sig.args) {
      int64_t n = 1;
      for (int64_t d : info.shape)
        n *= d;
      auto &bytes = storage[info.role];
      bytes.assign(std::max<int64_t>(n, 1) * dtypeBytes(info.dtype), 0);
      BufferRef ref =
          BufferRef::contiguous(bytes.data(), info.dtype, info.shape);
      double bound =
          isWeight(info.role) ? 1.0 / std::sqrt(double(info.shape[1])) : 0.1;
      std::uniform_real_distribution<double> uniform(-bound, bound);
      for (int64_t i = 0; i < n; ++i) {
        if (info.isOutput)
          store(ref, i, std::numeric_limits<double>::quiet_NaN());
        else if (info.role == ArgRole::KvLengths)
          static_cast<int32_t *>(ref.data)[i] =
              int32_t(sig.spec.kvLen - 3 * i % (sig.spec.kvLen + 1));
        else if (info.role == ArgRole::DropoutState)
          static_cast<int64_t *>(ref.data)[i] = int64_t(rng() >> 1);
        else if (info.dtype == DType::I1)
          static_cast<uint8_t *>(ref.data)[i] = (rng() % 4) != 0;
        else if (isWeight(info.role) || isBias(info.role))
          store(ref, i, uniform(rng));
        else
          store(ref, i, normal(rng));
      }
      all.set(info.role, ref);
      if (isWeight(info.role) || isBias(info.role))
        *weights.get(info.role) = ref;
      else
        run.set(info.role, ref);
    }
  }
  static void store(const BufferRef &ref, int64_t i, double v) {
    float f = static_cast<float>(v);
    switch (ref.dtype) {
    case DType::F16:
      static_cast<uint16_t *>(ref.data)[i] = floatToHalf(f);
      return;
    case DType::BF16:
      static_cast<uint16_t *>(ref.data)[i] = floatToBFloat(f);
      return;
    default:
      static_cast<float *>(ref.data)[i] = f;
    }
  }
  AttentionArgs all; ///< every buffer (the reference's view)
  AttentionArgs run; ///< the activations (the layer's run)
  LayerWeights weights;

private:
  std::map<ArgRole, std::vector<uint8_t>> storage;
};

double expectClose(const BufferRef &got, const std::vector<double> &ref,
                   Tolerance tol, const char *what) {
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double g = loadAsDouble(got, int64_t(i));
    double err = std::fabs(g - ref[i]);
    if (!(err <= tol.atol + tol.rtol * std::fabs(ref[i])) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "] = " << g << ", reference "
                    << ref[i];
    if (!std::isnan(err))
      worst = std::max(worst, err);
  }
  EXPECT_EQ(bad, 0) << what << ": elements out of tolerance";
  return worst;
}

void checkLayer(const LayerSpec &spec) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  KernelSignature sig = signatureForLayerSpec(spec);
  Buffers buffers(sig, seed);
  auto layer = sharedRuntime().compileLayer(spec, buffers.weights);
  ASSERT_TRUE(bool(layer)) << llvm::toString(layer.takeError());
  ASSERT_TRUE(ok((*layer)->run(buffers.run)));
  auto ref = referenceLayer(sig, buffers.all);
  ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
  Tolerance tol = toleranceFor(spec.attention.dtype);
  double outErr = expectClose(buffers.run.output, ref->output, tol, "output");
  double wErr = spec.returnWeights ? expectClose(*buffers.run.weights,
                                                 ref->weights, tol, "weights")
                                   : 0.0;
  std::printf("max abs error: output %.3g, weights %.3g\n", outErr, wErr);
}

/// Self-attention, combined weights: E = 96, S = 37, Hq = Hkv = 4, D = 40.
LayerSpec selfSpec(ElementType t) {
  LayerSpec s;
  s.attention.batch = 2;
  s.attention.numHeads = s.attention.numKvHeads = 4;
  s.attention.queryLen = s.attention.kvLen = 37;
  s.attention.headDim = 40;
  s.attention.dtype = t;
  s.embed = 96;
  return s;
}

/// Cross-attention, separate weights, GQA 4:1, Dv = 24, E_out = 50.
LayerSpec crossSpec(ElementType t) {
  LayerSpec s = selfSpec(t);
  s.cross = true;
  s.combinedQkv = false;
  s.attention.numHeads = 8;
  s.attention.numKvHeads = 2;
  s.attention.queryLen = 21;
  s.attention.kvLen = 37;
  s.attention.valueDim = 24;
  s.kvEmbed = 72;
  s.outEmbed = 50;
  return s;
}

TEST(LayerTest, SelfCausalF32) {
  LayerSpec s = selfSpec(ElementType::F32);
  s.attention.mask.causal = true;
  checkLayer(s);
}

TEST(LayerTest, SelfNoBiasesF32) {
  LayerSpec s = selfSpec(ElementType::F32);
  s.withQkvBias = s.withOutBias = false;
  checkLayer(s);
}

TEST(LayerTest, SelfSeparateWeightsF32) {
  LayerSpec s = selfSpec(ElementType::F32);
  s.combinedQkv = false;
  s.attention.valueDim = 24;
  s.attention.mask.causal = true;
  checkLayer(s);
}

TEST(LayerTest, CrossGqaPaddingMaskF32) {
  LayerSpec s = crossSpec(ElementType::F32);
  s.boolMaskShape = {2, 1, 1, 37};
  s.attention.withKvLengths = true;
  checkLayer(s);
}

TEST(LayerTest, CrossCombinedWeightsF32) {
  LayerSpec s = crossSpec(ElementType::F32);
  s.combinedQkv = true;
  s.attention.valueDim = 0;
  s.kvEmbed = 0;
  checkLayer(s);
}

TEST(LayerTest, MqaCausalF16) {
  LayerSpec s = selfSpec(ElementType::F16);
  s.attention.numKvHeads = 1;
  s.attention.mask.causal = true;
  checkLayer(s);
}

TEST(LayerTest, GqaCausalBf16) {
  LayerSpec s = selfSpec(ElementType::BF16);
  s.attention.numHeads = 8;
  s.attention.numKvHeads = 2;
  s.attention.mask.causal = true;
  checkLayer(s);
}

TEST(LayerTest, CrossPaddingMaskF16) {
  LayerSpec s = crossSpec(ElementType::F16);
  s.boolMaskShape = {2, 1, 1, 37};
  checkLayer(s);
}

TEST(LayerTest, DropoutWithWeightsF32) {
  LayerSpec s = selfSpec(ElementType::F32);
  s.attention.mask.causal = true;
  s.attention.dropout = 0.25;
  s.returnWeights = true;
  checkLayer(s);
}

TEST(LayerTest, CrossWeightsMaskedF32) {
  LayerSpec s = crossSpec(ElementType::F32);
  s.boolMaskShape = {2, 1, 21, 37};
  s.returnWeights = true;
  checkLayer(s);
}

/// A layer's GEMMs and attention as work items on the runtime's threads
/// (attn-parallel-to-runtime's stages): 1, 2 and 3 threads give the same
/// bits, and the float64 reference's values. 2 × 600 = 1200 rows are two
/// row groups of GEMM items (1024 rows, the last 176 with a row-block
/// tail); E = 96 and N = 3 · 4 · 24 = 288 columns leave column-panel and
/// sliver tails; causal with biases.
TEST(LayerTest, ThreadsGiveIdenticalResults) {
  LayerSpec s = selfSpec(ElementType::F32);
  s.attention.queryLen = s.attention.kvLen = 600;
  s.attention.headDim = 24;
  s.attention.mask.causal = true;
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  KernelSignature sig = signatureForLayerSpec(s);
  Buffers buffers(sig, seed);
  auto ref = referenceLayer(sig, buffers.all);
  ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
  std::vector<float> first;
  for (unsigned threads : {1u, 2u, 3u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    Runtime runtime(RuntimeOptions{threads});
    auto layer = runtime.compileLayer(s, buffers.weights);
    ASSERT_TRUE(bool(layer)) << llvm::toString(layer.takeError());
    // The stages' items: QKV GEMM, attention, output GEMM (not one item).
    EXPECT_GT((*layer)->kernel()->workItems(), 3);
    const BufferRef &out = buffers.run.output;
    std::fill_n(static_cast<float *>(out.data), out.numElements(),
                std::numeric_limits<float>::quiet_NaN());
    ASSERT_TRUE(ok((*layer)->run(buffers.run)));
    std::vector<float> got(static_cast<float *>(out.data),
                           static_cast<float *>(out.data) + out.numElements());
    if (first.empty()) {
      double err = expectClose(out, ref->output, toleranceFor(ElementType::F32),
                               "output");
      std::printf("max abs error: output %.3g\n", err);
      first = got;
      continue;
    }
    ASSERT_EQ(std::memcmp(got.data(), first.data(), got.size() * 4), 0)
        << "the output differs from one thread's";
  }
}

TEST(LayerTest, WeightsAreCopiedAtCompile) {
  LayerSpec s = selfSpec(ElementType::F32);
  KernelSignature sig = signatureForLayerSpec(s);
  Buffers buffers(sig, 7);
  auto layer = sharedRuntime().compileLayer(s, buffers.weights);
  ASSERT_TRUE(bool(layer)) << llvm::toString(layer.takeError());
  auto ref = referenceLayer(sig, buffers.all);
  ASSERT_TRUE(bool(ref));
  // Changing the caller's weights after compileLayer changes nothing.
  std::memset(buffers.weights.qkvWeight->data, 0,
              buffers.weights.qkvWeight->numElements() * 4);
  ASSERT_TRUE(ok((*layer)->run(buffers.run)));
  expectClose(buffers.run.output, ref->output, toleranceFor(ElementType::F32),
              "output");
}

TEST(LayerErrorsTest, CudaIsRefused) {
  LayerSpec s = selfSpec(ElementType::F16);
  Buffers buffers(signatureForLayerSpec(s), 1);
  std::string err =
      errorOf(sharedRuntime().compileLayer(s, buffers.weights, Target::Cuda));
  EXPECT_NE(err.find("target cuda is refused"), std::string::npos) << err;
}

TEST(LayerErrorsTest, InvalidSpecs) {
  LayerSpec s = selfSpec(ElementType::F32);
  LayerWeights none;
  s.attention.kvLen = 12;
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, none))
                .find("self-attention needs kvLen == queryLen"),
            std::string::npos);
  s = selfSpec(ElementType::F32);
  s.attention.valueDim = 24;
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, none))
                .find("a combined qkv weight needs Dv == D"),
            std::string::npos);
  s = selfSpec(ElementType::F32);
  s.attention.softcap = 30.0f;
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, none))
                .find("softcap, sinks and lse are not taken"),
            std::string::npos);
  s = selfSpec(ElementType::F32);
  s.boolMaskShape = {2, 1, 37};
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, none))
                .find("boolMaskShape must have rank 4"),
            std::string::npos);
}

TEST(LayerErrorsTest, WeightErrors) {
  LayerSpec s = selfSpec(ElementType::F32);
  Buffers buffers(signatureForLayerSpec(s), 1);
  LayerWeights w = buffers.weights;
  w.outBias.reset();
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, w))
                .find("out_bias: missing; the layer needs this weight"),
            std::string::npos);
  w = buffers.weights;
  w.queryWeight = *w.qkvWeight;
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, w))
                .find("query_weight: given, but the layer takes no such "
                      "weight"),
            std::string::npos);
  w = buffers.weights;
  w.qkvWeight->shape = {480, 95};
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, w))
                .find("qkv_weight: shape [480, 95] but the layer needs "
                      "[480, 96]"),
            std::string::npos);
  w = buffers.weights;
  w.outWeight->dtype = DType::F16;
  EXPECT_NE(errorOf(sharedRuntime().compileLayer(s, w))
                .find("out_weight: dtype f16 but the layer needs f32"),
            std::string::npos);
}

TEST(LayerErrorsTest, RunErrors) {
  LayerSpec s = selfSpec(ElementType::F32);
  Buffers buffers(signatureForLayerSpec(s), 1);
  auto layer = sharedRuntime().compileLayer(s, buffers.weights);
  ASSERT_TRUE(bool(layer)) << llvm::toString(layer.takeError());
  AttentionArgs args = buffers.run;
  args.qkvWeight = *buffers.weights.qkvWeight;
  EXPECT_NE(errorOf((*layer)->run(args)).find("qkv_weight: bound by the layer"),
            std::string::npos);
  args = buffers.run;
  args.query.shape = {2, 36, 96};
  std::string err = errorOf((*layer)->run(args));
  EXPECT_NE(err.find("query"), std::string::npos) << err;
  args = buffers.run;
  args.kvLengths = args.query;
  err = errorOf((*layer)->run(args));
  EXPECT_NE(err.find("kv_lengths: given, but the kernel takes no such buffer"),
            std::string::npos)
      << err;
}

} // namespace
