//===- ReferenceBackwardTest.cpp - the float64 backward is the gradient ---===//
//
// The backward reference judges every backward kernel, so it is checked
// here against central differences of the forward reference in float64:
// with the loss L = sum(O ∘ dO), dL/dx for every element x of Q, K, V (and
// the bias) must equal what referenceAttentionBackward returns. Inputs are
// small dyadic numbers and the step is 2^-12, so x ± h is exact in the f32
// input buffers and the only error is the difference quotient's (~h²).
//
//===----------------------------------------------------------------------===//
#include "runtime/ReferenceBackward.h"
#include "runtime/KernelBuilder.h"
#include "runtime/Reference.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <random>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

constexpr double kStep = 1.0 / 4096; // 2^-12

int64_t elements(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Owned buffers for every input of a forward signature plus dO.
struct FdProblem {
  explicit FdProblem(KernelSignature forward, uint64_t seed = 7)
      : sig(std::move(forward)) {
    std::mt19937_64 rng(seed);
    // Multiples of 2^-6 in [-1.5, 1.5]: dyadic, so x ± 2^-12 is exact.
    std::uniform_int_distribution<int> val(-96, 96), bit(0, 4), seg(0, 1);
    const AttentionSpec &s = sig.spec;
    for (const ArgInfo &a : sig.args) {
      if (a.isOutput)
        continue;
      auto &store = storage[a.role];
      if (a.role == ArgRole::DropoutState) { // [seed, offset], 64-bit each
        store = {0x9e3779b9u, 0x7f4a7c15u, 12345u, 0u};
        args.set(a.role, BufferRef::contiguous(store.data(), a.dtype, a.shape));
        continue;
      }
      store.assign(elements(a.shape), 0);
      for (int64_t i = 0; i < elements(a.shape); ++i) {
        float f = val(rng) / 64.0f;
        switch (a.dtype) {
        case DType::F32:
          std::memcpy(&store[i], &f, 4);
          break;
        case DType::I1:
          reinterpret_cast<uint8_t *>(store.data())[i] = bit(rng) != 0;
          break;
        default: // i32: segment ids in {0, 1}; lengths set by the test
          store[i] = a.role == ArgRole::KvLengths ? uint32_t(s.kvLen)
                                                  : uint32_t(seg(rng));
        }
      }
      args.set(a.role, BufferRef::contiguous(store.data(), a.dtype, a.shape));
    }
    gradOut.resize(elements(s.outputShape()));
    for (float &f : gradOut)
      f = val(rng) / 64.0f;
    args.gradOutput =
        BufferRef::contiguous(gradOut.data(), DType::F32, s.outputShape());
    out.assign(elements(s.outputShape()), 0.0f);
    args.output =
        BufferRef::contiguous(out.data(), DType::F32, s.outputShape());
    backward = sig;
    backward.args.push_back({ArgRole::GradOutput, DType::F32, s.outputShape()});
  }

  float *floats(ArgRole role) {
    return reinterpret_cast<float *>(storage[role].data());
  }

  /// L = sum(O ∘ dO) by the forward reference (logical O, physical dO).
  double loss() {
    AttentionArgs forwardArgs = args;
    forwardArgs.gradOutput.reset(); // the forward takes no dO
    auto r = referenceAttention(sig, forwardArgs, 1);
    EXPECT_TRUE(static_cast<bool>(r)) << llvm::toString(r.takeError());
    if (!r)
      return NAN;
    const AttentionSpec &s = sig.spec;
    int64_t dv = s.effectiveValueDim(), total = 0;
    double l = 0;
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.numHeads; ++h)
        for (int64_t q = 0; q < s.queryLen; ++q)
          for (int64_t c = 0; c < dv; ++c, ++total)
            l += r->output[total] *
                 gradOut[physical(b, h, q, c, s.numHeads, s.queryLen, dv)];
    return l;
  }

  /// Physical offset of logical (b, h, s, c) in a dense buffer.
  int64_t physical(int64_t b, int64_t h, int64_t q, int64_t c, int64_t heads,
                   int64_t seq, int64_t dim) const {
    if (sig.spec.layout == mlir::attn::Layout::BSHD)
      return ((b * seq + q) * heads + h) * dim + c;
    return ((b * heads + h) * seq + q) * dim + c;
  }

  /// Compares d loss / d role (central differences) with `grad` (logical
  /// [B, heads, seq, dim], or the buffer's own order for the bias).
  void expectGradient(ArgRole role, const std::vector<double> &grad,
                      int64_t heads, int64_t seq, int64_t dim) {
    SCOPED_TRACE(stringifyArgRole(role));
    float *x = floats(role);
    double maxGrad = 0, maxErr = 0;
    int64_t n = static_cast<int64_t>(grad.size());
    for (int64_t i = 0; i < n; ++i) {
      int64_t at = i;
      if (role != ArgRole::Bias) {
        int64_t c = i % dim, q = (i / dim) % seq, h = (i / dim / seq) % heads,
                b = i / dim / seq / heads;
        at = physical(b, h, q, c, heads, seq, dim);
      }
      float saved = x[at];
      x[at] = saved + float(kStep);
      double up = loss();
      x[at] = saved - float(kStep);
      double down = loss();
      x[at] = saved;
      double fd = (up - down) / (2 * kStep);
      ASSERT_FALSE(std::isnan(grad[i])) << "element " << i;
      maxErr = std::max(maxErr, std::fabs(fd - grad[i]));
      maxGrad = std::max(maxGrad, std::fabs(grad[i]));
    }
    // A gradient that is all zero would pass any difference test of a
    // constant loss: demand a real one.
    EXPECT_GT(maxGrad, 1e-3);
    std::cout << stringifyArgRole(role) << ": max |fd - analytic| " << maxErr
              << ", max |grad| " << maxGrad << "\n";
    EXPECT_LE(maxErr, 2e-6 * std::max(1.0, maxGrad))
        << "max |fd - analytic| " << maxErr << ", max |grad| " << maxGrad;
  }

  ReferenceGradients gradients() {
    auto g = referenceAttentionBackward(backward, args, 2);
    EXPECT_TRUE(static_cast<bool>(g)) << llvm::toString(g.takeError());
    return g ? std::move(*g) : ReferenceGradients();
  }

  /// Every check for q, k, v (and the bias, if any).
  void checkAll() {
    const AttentionSpec &s = sig.spec;
    ReferenceGradients g = gradients();
    expectGradient(ArgRole::Query, g.dq, s.numHeads, s.queryLen, s.headDim);
    expectGradient(ArgRole::Key, g.dk, s.numKvHeads, s.kvLen, s.headDim);
    expectGradient(ArgRole::Value, g.dv, s.numKvHeads, s.kvLen,
                   s.effectiveValueDim());
    if (sig.has(ArgRole::Bias))
      expectGradient(ArgRole::Bias, g.dbias, 0, 0, 0);
  }

  KernelSignature sig, backward;
  std::map<ArgRole, std::vector<uint32_t>> storage;
  std::vector<float> gradOut, out;
  AttentionArgs args;
};

AttentionSpec smallGqa() {
  AttentionSpec s;
  s.batch = 2;
  s.numHeads = 4;
  s.numKvHeads = 2;
  s.queryLen = 5;
  s.kvLen = 7;
  s.headDim = 3;
  s.valueDim = 4;
  return s;
}

TEST(ReferenceBackward, FiniteDifferencesGqaCausalOffset) {
  AttentionSpec s = smallGqa();
  s.mask.causal = true;
  s.mask.qOffset = 2;
  FdProblem(signatureForSpec(s)).checkAll();
}

TEST(ReferenceBackward, FiniteDifferencesMqaWindowSoftcapBshd) {
  AttentionSpec s = smallGqa();
  s.numKvHeads = 1;
  s.layout = mlir::attn::Layout::BSHD;
  s.mask.windowLeft = 2;
  s.mask.windowRight = 1;
  s.softcap = 1.5f;
  s.scale = 0.75f;
  FdProblem(signatureForSpec(s)).checkAll();
}

// With dropout the forward is still a smooth function of q, k, v for a
// fixed Philox stream (the keep mask does not depend on them).
TEST(ReferenceBackward, FiniteDifferencesDropoutGqaCausal) {
  AttentionSpec s = smallGqa();
  s.mask.causal = true;
  s.mask.qOffset = 2;
  s.dropout = 0.3;
  FdProblem(signatureForSpec(s)).checkAll();
}

TEST(ReferenceBackward, FullyMaskedRowsHaveZeroGradients) {
  AttentionSpec s = smallGqa();
  s.withKvLengths = true;
  s.mask.causal = true;
  FdProblem p(signatureForSpec(s));
  // Batch 1 sees no key at all; batch 0 only its first 3.
  uint32_t *len = p.storage[ArgRole::KvLengths].data();
  len[0] = 3;
  len[1] = 0;
  ReferenceGradients g = p.gradients();
  int64_t perBatchQ = s.numHeads * s.queryLen * s.headDim;
  for (int64_t i = perBatchQ; i < 2 * perBatchQ; ++i)
    ASSERT_EQ(g.dq[i], 0.0) << i;
  int64_t perBatchK = s.numKvHeads * s.kvLen * s.headDim;
  for (int64_t i = perBatchK; i < 2 * perBatchK; ++i)
    ASSERT_EQ(g.dk[i], 0.0) << i;
  for (int64_t i = 0; i < perBatchQ / s.headDim; ++i)
    EXPECT_EQ(g.lse[perBatchQ / s.headDim + i],
              -std::numeric_limits<double>::infinity());
  // Keys past the length get nothing either.
  for (int64_t j = 3; j < s.kvLen; ++j)
    for (int64_t c = 0; c < s.headDim; ++c)
      ASSERT_EQ(g.dk[j * s.headDim + c], 0.0);
  p.checkAll();
}

/// A forward signature with bias, bool mask, segment ids and a score_mod,
/// built from MLIR (their programs compiled like any kernel's).
TEST(ReferenceBackward, FiniteDifferencesBiasMasksScoreMod) {
  mlir::DialectRegistry registry;
  registerRuntimeDialects(registry);
  mlir::MLIRContext ctx(registry);
  const char *text = R"(
func.func @f(%q: tensor<1x4x5x3xf32>, %k: tensor<1x2x7x3xf32>,
             %v: tensor<1x2x7x4xf32>, %m: tensor<1x1x5x7xi1>,
             %bias: tensor<1x4x1x7xf32>, %qs: tensor<1x5xi32>,
             %ks: tensor<1x7xi32>) -> tensor<1x4x5x4xf32> {
  %o = attn.attention %q, %k, %v bool_mask(%m : tensor<1x1x5x7xi1>)
      bias(%bias : tensor<1x4x1x7xf32>)
      segment_ids(%qs, %ks : tensor<1x5xi32>, tensor<1x7xi32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 0.5 : f32
        %t = math.tanh %s : f32
        %r = arith.addf %s, %t : f32
        %w = arith.mulf %r, %c : f32
        attn.yield %w : f32
      }
      {softcap = 2.0 : f32}
      : tensor<1x4x5x3xf32>, tensor<1x2x7x3xf32>, tensor<1x2x7x4xf32>
      -> tensor<1x4x5x4xf32>
  return %o : tensor<1x4x5x4xf32>
})";
  auto km = buildKernelModule(&ctx, text);
  ASSERT_TRUE(static_cast<bool>(km)) << llvm::toString(km.takeError());
  FdProblem p(km->signature, 11);
  p.checkAll();
}

TEST(ReferenceBackward, NeedsGradOutput) {
  AttentionSpec s = smallGqa();
  FdProblem p(signatureForSpec(s));
  p.args.gradOutput.reset();
  auto g = referenceAttentionBackward(p.backward, p.args);
  ASSERT_FALSE(static_cast<bool>(g));
  EXPECT_NE(llvm::toString(g.takeError()).find("grad_output"),
            std::string::npos);
}

} // namespace
