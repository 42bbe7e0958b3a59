//===- AdditiveTest.cpp - additive attention: numerics and errors ---------===//
//
// Runtime::compileAdditive kernels against the float64 reference
// (referenceAdditive) on seed 002's AdditiveAttention and on odd shapes:
// H = 37, Dq != Dk != Dv, Sq and Skv not multiples of the tiles, several
// query chunks, ragged kv_lengths with a row of length 0, a boolean mask,
// the weights result on and off, run-time sizes; every argument error
// names its buffer. Inputs follow nn.Linear's initialisation (weights
// U(-1/sqrt(in), 1/sqrt(in))) on N(0, 1) activations, rounded to the dtype.
// Tolerances |got - ref| <= atol + rtol |ref| (f32 accumulation in every
// case; the f16/bf16 terms are the output's rounding, 2^-11 and 2^-8):
//   f32 atol 2e-5 rtol 2e-4 (polynomial tanh and exp),
//   f16 atol 1e-3 rtol 2e-3, bf16 atol 8e-3 rtol 1.6e-2.
// Outputs start as NaN, so an element never written fails, and NaN never
// passes a check.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"
#include "runtime/AdditiveKernel.h"
#include "runtime/HalfFloat.h"
#include "runtime/Reference.h"

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
    return {1e-3, 2e-3};
  case ElementType::BF16:
    return {8e-3, 1.6e-2};
  case ElementType::F32:
    break;
  }
  return {2e-5, 2e-4};
}

/// Owned contiguous buffers for one call of an additive kernel.
class Buffers {
public:
  Buffers(const KernelSignature &sig, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (const ArgInfo &info : sig.args) {
      // A run-time size (`?`) gets extent 1 here: the error tests that use
      // such kernels replace the buffer they are about.
      std::vector<int64_t> shape(info.shape.begin(), info.shape.end());
      int64_t n = 1;
      for (int64_t &d : shape) {
        if (d == kDynamicSize)
          d = 1;
        n *= d;
      }
      auto &bytes = storage[info.role];
      bytes.assign(std::max<int64_t>(n, 1) * dtypeBytes(info.dtype), 0);
      BufferRef ref = BufferRef::contiguous(bytes.data(), info.dtype, shape);
      // nn.Linear's init: U(-1/sqrt(in), 1/sqrt(in)) for weights and biases.
      double bound = 1.0;
      if (info.role == ArgRole::QueryWeight ||
          info.role == ArgRole::KeyWeight || info.role == ArgRole::ScoreWeight)
        bound = 1.0 / std::sqrt(double(info.shape[1]));
      if (info.role == ArgRole::Bias || info.role == ArgRole::ScoreBias)
        bound = 0.1;
      std::uniform_real_distribution<double> uniform(-bound, bound);
      for (int64_t i = 0; i < n; ++i) {
        if (info.isOutput) {
          store(ref, i, std::numeric_limits<double>::quiet_NaN());
        } else if (info.role == ArgRole::KvLengths) {
          std::uniform_int_distribution<int32_t> len(0,
                                                     int32_t(sig.spec.kvLen));
          static_cast<int32_t *>(ref.data)[i] = len(rng);
        } else if (info.dtype == DType::I1) {
          static_cast<uint8_t *>(ref.data)[i] = (rng() % 5) != 0;
        } else if (info.role == ArgRole::Query || info.role == ArgRole::Key ||
                   info.role == ArgRole::Value) {
          store(ref, i, normal(rng));
        } else {
          store(ref, i, uniform(rng));
        }
      }
      args.set(info.role, ref);
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
  void setLengths(llvm::ArrayRef<int32_t> lengths) {
    std::memcpy(args.kvLengths->data, lengths.data(), lengths.size() * 4);
  }
  AttentionArgs args;

private:
  std::map<ArgRole, std::vector<uint8_t>> storage;
};

/// Max |got - ref| of `got` against `ref`; fails on any element outside
/// the tolerance or NaN (reported with its index).
double expectClose(const BufferRef &got, const std::vector<double> &ref,
                   Tolerance tol, const char *what) {
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double g = loadAsDouble(got, int64_t(i));
    double err = std::fabs(g - ref[i]);
    if (!(err <= tol.atol + tol.rtol * std::fabs(ref[i]))) {
      if (bad++ < 5)
        ADD_FAILURE() << what << "[" << i << "] = " << g << ", reference "
                      << ref[i];
    }
    if (!std::isnan(err))
      worst = std::max(worst, err);
  }
  EXPECT_EQ(bad, 0) << what << ": elements out of tolerance";
  return worst;
}

/// Compiles `spec`, runs it on fresh inputs (kv_lengths `lengths` when
/// given) and checks output and weights against the reference.
void checkAgainstReference(const AdditiveSpec &spec,
                           llvm::ArrayRef<int32_t> lengths = {},
                           const AdditiveSpec *callSizes = nullptr) {
  auto kernel = sharedRuntime().compileAdditive(spec);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  const AdditiveSpec &sizes = callSizes ? *callSizes : spec;
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  Buffers buffers(signatureForAdditiveSpec(sizes), seed);
  if (!lengths.empty())
    buffers.setLengths(lengths);
  ASSERT_TRUE(ok((*kernel)->run(buffers.args)));
  auto ref = referenceAdditive(signatureForAdditiveSpec(sizes), buffers.args);
  ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
  Tolerance tol = toleranceFor(spec.dtype);
  double outErr = expectClose(buffers.args.output, ref->output, tol, "output");
  double wErr = spec.returnWeights ? expectClose(*buffers.args.weights,
                                                 ref->weights, tol, "weights")
                                   : 0.0;
  std::printf("max abs error: output %.3g, weights %.3g\n", outErr, wErr);
  if (!lengths.empty())
    for (int64_t b = 0; b < sizes.batch; ++b) {
      if (lengths[b] != 0)
        continue;
      // A sequence with no valid key: exactly 0, like attn's fully
      // masked rows.
      for (int64_t i = 0; i < sizes.queryLen * sizes.valueDim; ++i)
        ASSERT_EQ(loadAsDouble(buffers.args.output,
                               b * sizes.queryLen * sizes.valueDim + i),
                  0.0);
      if (spec.returnWeights)
        for (int64_t i = 0; i < sizes.queryLen * sizes.kvLen; ++i)
          ASSERT_EQ(loadAsDouble(*buffers.args.weights,
                                 b * sizes.queryLen * sizes.kvLen + i),
                    0.0);
    }
}

/// Seed 002: one decoder state per sequence against 50 encoder states,
/// H = Dq = Dk = Dv, bias and score_proj's bias, weights returned.
AdditiveSpec seedSpec(ElementType t) {
  AdditiveSpec s;
  s.batch = 4;
  s.queryLen = 1;
  s.kvLen = 50;
  s.hidden = s.queryDim = s.keyDim = s.valueDim = 64;
  s.dtype = t;
  s.withBias = true;
  s.withScoreBias = true;
  s.returnWeights = true;
  return s;
}

/// Independent odd sizes over several query chunks, ragged lengths.
AdditiveSpec oddSpec(ElementType t) {
  AdditiveSpec s;
  s.batch = 3;
  s.queryLen = 300; // 5 blocks of 64 queries: two chunks
  s.kvLen = 131;
  s.hidden = 37;
  s.queryDim = 24;
  s.keyDim = 40;
  s.valueDim = 12;
  s.dtype = t;
  s.withKvLengths = true;
  s.returnWeights = true;
  return s;
}

const int32_t kOddLengths[] = {77, 0, 131};

TEST(Additive, SeedShapeF32) {
  checkAgainstReference(seedSpec(ElementType::F32));
}
TEST(Additive, SeedShapeF16) {
  checkAgainstReference(seedSpec(ElementType::F16));
}
TEST(Additive, SeedShapeBF16) {
  checkAgainstReference(seedSpec(ElementType::BF16));
}

TEST(Additive, OddSizesRaggedF32) {
  checkAgainstReference(oddSpec(ElementType::F32), kOddLengths);
}
TEST(Additive, OddSizesRaggedF16) {
  checkAgainstReference(oddSpec(ElementType::F16), kOddLengths);
}
TEST(Additive, OddSizesRaggedBF16) {
  checkAgainstReference(oddSpec(ElementType::BF16), kOddLengths);
}

TEST(Additive, BoolMaskWithoutWeights) {
  AdditiveSpec s = oddSpec(ElementType::F32);
  s.queryLen = 9;
  s.withBoolMask = true;
  s.withBias = true;
  s.returnWeights = false;
  checkAgainstReference(s, kOddLengths);
}

TEST(Additive, RunTimeSizes) {
  AdditiveSpec dyn = oddSpec(ElementType::F32);
  dyn.batch = dyn.queryLen = dyn.kvLen = kDynamicSize;
  for (auto [b, sq, skv] :
       {std::tuple<int64_t, int64_t, int64_t>{3, 5, 131}, {1, 70, 17}}) {
    AdditiveSpec call = oddSpec(ElementType::F32).withSizes(b, sq, skv);
    std::vector<int32_t> lengths = {int32_t(skv), 0, 7};
    lengths.resize(b);
    checkAgainstReference(dyn, lengths, &call);
  }
}

//===----------------------------------------------------------------------===//
// Errors name the buffer
//===----------------------------------------------------------------------===//

/// The error of one run of `spec` with `role` replaced by `buffer`.
std::string runErrorWith(const AdditiveSpec &spec, ArgRole role,
                         std::optional<BufferRef> buffer) {
  auto kernel = sharedRuntime().compileAdditive(spec);
  if (!kernel)
    return "compile: " + llvm::toString(kernel.takeError());
  Buffers buffers((*kernel)->signature(), 1);
  AttentionArgs args = buffers.args;
  if (buffer)
    args.set(role, *buffer);
  else if (role == ArgRole::QueryWeight)
    args.queryWeight.reset();
  else if (role == ArgRole::Bias)
    args.bias.reset();
  return errorOf((*kernel)->run(args));
}

TEST(AdditiveErrors, MissingQueryWeight) {
  EXPECT_EQ(runErrorWith(seedSpec(ElementType::F32), ArgRole::QueryWeight,
                         std::nullopt),
            "query_weight: missing; the kernel needs this buffer");
}

TEST(AdditiveErrors, MissingBias) {
  EXPECT_EQ(
      runErrorWith(seedSpec(ElementType::F32), ArgRole::Bias, std::nullopt),
      "bias: missing; the kernel needs this buffer");
}

TEST(AdditiveErrors, KeyWeightShape) {
  std::vector<float> w(64 * 32);
  EXPECT_EQ(runErrorWith(seedSpec(ElementType::F32), ArgRole::KeyWeight,
                         BufferRef::contiguous(w.data(), DType::F32, {64, 32})),
            "key_weight: shape [64, 32] but the kernel expects [64, 64]");
}

TEST(AdditiveErrors, ScoreWeightDtype) {
  std::vector<uint16_t> w(64);
  EXPECT_EQ(runErrorWith(seedSpec(ElementType::F32), ArgRole::ScoreWeight,
                         BufferRef::contiguous(w.data(), DType::F16, {1, 64})),
            "score_weight: dtype f16 but the kernel expects f32");
}

TEST(AdditiveErrors, ScoreBiasNotTaken) {
  AdditiveSpec s = seedSpec(ElementType::F32);
  s.withScoreBias = false;
  float b = 0;
  EXPECT_EQ(runErrorWith(s, ArgRole::ScoreBias,
                         BufferRef::contiguous(&b, DType::F32, {1})),
            "score_bias: given, but the kernel takes no such buffer");
}

TEST(AdditiveErrors, WeightsShape) {
  std::vector<float> w(4 * 50);
  EXPECT_EQ(runErrorWith(seedSpec(ElementType::F32), ArgRole::Weights,
                         BufferRef::contiguous(w.data(), DType::F32, {4, 50})),
            "weights: rank 2 [4, 50] but the kernel expects rank 3 [4, 1, 50]");
}

TEST(AdditiveErrors, KvLengthsOutOfRange) {
  std::vector<int32_t> len = {1, 132, 0};
  EXPECT_EQ(runErrorWith(oddSpec(ElementType::F32), ArgRole::KvLengths,
                         BufferRef::contiguous(len.data(), DType::I32, {3})),
            "kv_lengths: value 132 at batch 1 is outside [0, Skv = 131]");
}

TEST(AdditiveErrors, RunTimeQueryRank) {
  AdditiveSpec s = oddSpec(ElementType::F32);
  s.batch = s.queryLen = s.kvLen = kDynamicSize;
  std::vector<float> q(3 * 5 * 24);
  EXPECT_EQ(
      runErrorWith(s, ArgRole::Query,
                   BufferRef::contiguous(q.data(), DType::F32, {3, 5, 1, 24})),
      "query: rank 4 [3, 5, 1, 24] but the kernel expects rank 3 [?, ?, 24]");
}

TEST(AdditiveErrors, OutputOverlapsInput) {
  // The output aliasing the query: a wrong result, so an error.
  auto kernel = sharedRuntime().compileAdditive(seedSpec(ElementType::F32));
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  Buffers buffers((*kernel)->signature(), 1);
  AttentionArgs args = buffers.args;
  args.output = BufferRef::contiguous(args.query.data, DType::F32, {4, 1, 64});
  EXPECT_EQ(errorOf((*kernel)->run(args)),
            "output overlaps query in memory; output is written by the kernel "
            "and must not alias another buffer");
}

TEST(AdditiveErrors, InvalidSpec) {
  AdditiveSpec s = seedSpec(ElementType::F32);
  s.hidden = 0;
  EXPECT_EQ(errorOf(sharedRuntime().compileAdditive(s)),
            "invalid additive attention spec: hidden must be in [1, 1024], "
            "got 0");
}

TEST(AdditiveErrors, CudaRefused) {
  EXPECT_EQ(
      errorOf(sharedRuntime().compileAdditive(seedSpec(ElementType::F32),
                                              Target::Cuda)),
      "additive attention runs on the CPU only for now (attn-to-nvvm rejects "
      "attn.additive_attention)");
}

} // namespace
