//===- CapiRolesTest.cpp - the C API's version-3 roles --------------------===//
//
// attn_kernel_run_roles (buffers by attn_arg_role: sinks, the dropout
// state), attn_compile_backward and their error paths, through libattn.so
// only. Numerics against float64 loops written here; the dropout mask is
// the one stream of common/Philox.h (header-only), as the kernels use it.
//
//===----------------------------------------------------------------------===//
#include "CapiTestUtils.h"
#include "common/Philox.h"
#include "runtime/capi/attn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using attn_capi_test::lastError;
using attn_capi_test::randomVec;

/// MHA/GQA [1, H, S, D] f32, non-causal, with what version 3 adds.
struct Problem {
  int64_t hq = 4, hkv = 2, s = 19, d = 8;
  std::vector<double> sinks;     // [hq] logits; empty: none
  double dropout = 0;            // p
  uint64_t seed = 0, offset = 0; // the dropout state
};

/// Softmax weights P[h][i][j] (sinks in the denominator, no dropout) and
/// the output with dropout: o = sum_j keep * P v / (1 - p).
struct Forward {
  std::vector<double> p, out;
};

Forward forward(const Problem &pr, const std::vector<float> &q,
                const std::vector<float> &k, const std::vector<float> &v) {
  int64_t s = pr.s, d = pr.d;
  Forward f{std::vector<double>(pr.hq * s * s),
            std::vector<double>(pr.hq * s * d)};
  uint32_t threshold = mlir::attn::philox::dropThreshold(pr.dropout);
  for (int64_t h = 0; h < pr.hq; ++h)
    for (int64_t i = 0; i < s; ++i) {
      int64_t g = h / (pr.hq / pr.hkv);
      double *p = &f.p[(h * s + i) * s];
      double mx = pr.sinks.empty() ? -INFINITY : pr.sinks[h], sum = 0;
      for (int64_t j = 0; j < s; ++j) {
        double dot = 0;
        for (int64_t x = 0; x < d; ++x)
          dot += double(q[(h * s + i) * d + x]) * k[(g * s + j) * d + x];
        mx = std::max(mx, p[j] = dot / std::sqrt(double(d)));
      }
      for (int64_t j = 0; j < s; ++j)
        sum += p[j] = std::exp(p[j] - mx);
      if (!pr.sinks.empty())
        sum += std::exp(pr.sinks[h] - mx);
      for (int64_t j = 0; j < s; ++j) {
        p[j] /= sum;
        mlir::attn::philox::Element e;
        e.seed = pr.seed;
        e.offset = static_cast<uint32_t>(pr.offset);
        e.head = h;
        e.numHeads = pr.hq;
        e.query = i;
        e.key = j;
        double w = mlir::attn::philox::keep(e, threshold)
                       ? p[j] / (1 - pr.dropout)
                       : 0;
        for (int64_t x = 0; x < d; ++x)
          f.out[(h * s + i) * d + x] += w * v[(g * s + j) * d + x];
      }
    }
  return f;
}

void expectClose(const std::vector<float> &got, const std::vector<double> &ref,
                 double tol, const char *what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) // NaN fails the comparison
    ASSERT_TRUE(std::fabs(got[i] - ref[i]) <= tol + tol * std::fabs(ref[i]))
        << what << " at " << i << ": " << got[i] << " vs " << ref[i];
}

class CapiRoles : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_EQ(attn_runtime_create(2, &rt), ATTN_OK); }
  void TearDown() override { attn_runtime_destroy(rt); }
  attn_runtime *rt = nullptr;
};

/// f32 buffers of one call, indexed by role.
struct Call {
  explicit Call(const Problem &p)
      : qs{1, p.hq, p.s, p.d}, ks{1, p.hkv, p.s, p.d} {}
  attn_buffer *add(attn_arg_role role, void *data, attn_dtype dtype,
                   int32_t rank, const int64_t *shape) {
    slots[role] = {data, dtype, rank, shape, nullptr, ATTN_HOST};
    roles[role] = &slots[role];
    return &slots[role];
  }
  int64_t qs[4], ks[4];
  std::array<attn_buffer, ATTN_NUM_ARG_ROLES> slots{};
  std::array<const attn_buffer *, ATTN_NUM_ARG_ROLES> roles{};
};

TEST_F(CapiRoles, SinksAndDropoutMatchFloat64) {
  Problem pr;
  pr.sinks = {0.5, -1.25, 2.0, 0.0};
  pr.dropout = 0.25;
  pr.seed = 0x1234567890abcdefull;
  pr.offset = 7;
  attn_kernel *kernel = nullptr;
  ASSERT_EQ(attn_compile(rt, "gqa:b=1,hq=4,hkv=2,s=19,d=8,sinks,dropout=0.25",
                         ATTN_TARGET_CPU, nullptr, &kernel),
            ATTN_OK)
      << lastError();
  std::vector<float> q = randomVec(pr.hq * pr.s * pr.d, 1),
                     k = randomVec(pr.hkv * pr.s * pr.d, 2),
                     v = randomVec(k.size(), 3), o(q.size(), NAN),
                     sinks(pr.sinks.begin(), pr.sinks.end());
  int64_t state[2] = {static_cast<int64_t>(pr.seed),
                      static_cast<int64_t>(pr.offset)};
  int64_t hs[1] = {pr.hq}, two[1] = {2};
  Call c(pr);
  c.add(ATTN_ARG_QUERY, q.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_KEY, k.data(), ATTN_F32, 4, c.ks);
  c.add(ATTN_ARG_VALUE, v.data(), ATTN_F32, 4, c.ks);
  c.add(ATTN_ARG_OUTPUT, o.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_SINKS, sinks.data(), ATTN_F32, 1, hs);
  c.add(ATTN_ARG_DROPOUT_STATE, state, ATTN_I64, 1, two);
  ASSERT_EQ(attn_kernel_run_roles(kernel, c.roles.data(), ATTN_NUM_ARG_ROLES),
            ATTN_OK)
      << lastError();
  expectClose(o, forward(pr, q, k, v).out, 2e-5, "output"); // f32 tolerance

  // The same call through an array that ends at the last role it uses.
  std::vector<float> again(o.size(), NAN);
  c.add(ATTN_ARG_OUTPUT, again.data(), ATTN_F32, 4, c.qs);
  ASSERT_EQ(
      attn_kernel_run_roles(kernel, c.roles.data(), ATTN_ARG_DROPOUT_STATE + 1),
      ATTN_OK)
      << lastError();
  EXPECT_EQ(again, o);
  // Without the state (count stops before it) the kernel names it.
  EXPECT_FAILS(
      attn_kernel_run_roles(kernel, c.roles.data(), ATTN_ARG_DROPOUT_STATE),
      ATTN_ERROR_BUFFER, "dropout_state");
  // A different seed is a different mask.
  state[0] ^= 1;
  ASSERT_EQ(attn_kernel_run_roles(kernel, c.roles.data(), ATTN_NUM_ARG_ROLES),
            ATTN_OK);
  EXPECT_NE(again, o);
  attn_kernel_destroy(kernel);
}

/// float64 dQ, dK, dV of the non-causal problem (no sinks, no dropout).
std::array<std::vector<double>, 3> backward(const Problem &pr,
                                            const std::vector<float> &q,
                                            const std::vector<float> &k,
                                            const std::vector<float> &v,
                                            const std::vector<float> &dO) {
  int64_t s = pr.s, d = pr.d;
  Forward f = forward(pr, q, k, v);
  std::array<std::vector<double>, 3> g{std::vector<double>(q.size()),
                                       std::vector<double>(k.size()),
                                       std::vector<double>(v.size())};
  double scale = 1 / std::sqrt(double(d));
  for (int64_t h = 0; h < pr.hq; ++h)
    for (int64_t i = 0; i < s; ++i) {
      int64_t g0 = h / (pr.hq / pr.hkv), row = h * s + i;
      const double *p = &f.p[row * s];
      std::vector<double> dp(s);
      double rowD = 0;
      for (int64_t x = 0; x < d; ++x)
        rowD += dO[row * d + x] * f.out[row * d + x];
      for (int64_t j = 0; j < s; ++j) {
        for (int64_t x = 0; x < d; ++x) {
          dp[j] += dO[row * d + x] * double(v[(g0 * s + j) * d + x]);
          g[2][(g0 * s + j) * d + x] += p[j] * dO[row * d + x];
        }
      }
      for (int64_t j = 0; j < s; ++j) {
        double ds = p[j] * (dp[j] - rowD) * scale;
        for (int64_t x = 0; x < d; ++x) {
          g[0][row * d + x] += ds * k[(g0 * s + j) * d + x];
          g[1][(g0 * s + j) * d + x] += ds * q[row * d + x];
        }
      }
    }
  return g;
}

TEST_F(CapiRoles, BackwardMatchesFloat64) {
  Problem pr; // GQA 2:1, S = 19: not a multiple of the tiles
  const char *spec = "gqa:b=1,hq=4,hkv=2,s=19,d=8,lse";
  attn_kernel *fwd = nullptr, *bwd = nullptr;
  ASSERT_EQ(attn_compile(rt, spec, ATTN_TARGET_CPU, nullptr, &fwd), ATTN_OK)
      << lastError();
  ASSERT_EQ(attn_compile_backward(rt, spec, ATTN_TARGET_CPU, nullptr, &bwd),
            ATTN_OK)
      << lastError();
  std::vector<float> q = randomVec(pr.hq * pr.s * pr.d, 11),
                     k = randomVec(pr.hkv * pr.s * pr.d, 12),
                     v = randomVec(k.size(), 13), dO = randomVec(q.size(), 14),
                     o(q.size(), NAN), lse(pr.hq * pr.s, NAN),
                     dq(q.size(), NAN), dk(k.size(), NAN), dv(v.size(), NAN);
  int64_t lseShape[3] = {1, pr.hq, pr.s};
  Call c(pr);
  c.add(ATTN_ARG_QUERY, q.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_KEY, k.data(), ATTN_F32, 4, c.ks);
  c.add(ATTN_ARG_VALUE, v.data(), ATTN_F32, 4, c.ks);
  c.add(ATTN_ARG_OUTPUT, o.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_LSE, lse.data(), ATTN_F32, 3, lseShape);
  ASSERT_EQ(attn_kernel_run_roles(fwd, c.roles.data(), ATTN_NUM_ARG_ROLES),
            ATTN_OK)
      << lastError();
  c.add(ATTN_ARG_GRAD_OUTPUT, dO.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_GRAD_QUERY, dq.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_GRAD_KEY, dk.data(), ATTN_F32, 4, c.ks);
  c.add(ATTN_ARG_GRAD_VALUE, dv.data(), ATTN_F32, 4, c.ks);
  int32_t n = 0;
  ASSERT_EQ(attn_kernel_num_args(bwd, &n), ATTN_OK);
  EXPECT_EQ(n, 9);
  attn_arg_info info;
  ASSERT_EQ(attn_kernel_arg(bwd, n - 1, &info), ATTN_OK);
  EXPECT_EQ(info.role, ATTN_ARG_GRAD_VALUE);
  EXPECT_EQ(info.is_output, 1);
  ASSERT_EQ(attn_kernel_run_roles(bwd, c.roles.data(), ATTN_NUM_ARG_ROLES),
            ATTN_OK)
      << lastError();
  auto ref = backward(pr, q, k, v, dO);
  // f32: the kernel starts from O rounded to f32 and its f32 lse.
  expectClose(dq, ref[0], 1e-4, "grad_query");
  expectClose(dk, ref[1], 1e-4, "grad_key");
  expectClose(dv, ref[2], 1e-4, "grad_value");
  attn_kernel_destroy(fwd);
  attn_kernel_destroy(bwd);
}

TEST_F(CapiRoles, Errors) {
  attn_kernel *kernel = nullptr;
  ASSERT_EQ(attn_compile(rt, "mha:b=1,h=2,s=5,d=8", ATTN_TARGET_CPU, nullptr,
                         &kernel),
            ATTN_OK);
  Problem pr;
  const attn_buffer *none[ATTN_NUM_ARG_ROLES] = {};
  EXPECT_FAILS(attn_kernel_run_roles(nullptr, none, 1),
               ATTN_ERROR_INVALID_ARGUMENT, "kernel is null");
  EXPECT_FAILS(attn_kernel_run_roles(kernel, nullptr, 4),
               ATTN_ERROR_INVALID_ARGUMENT, "buffers is null");
  EXPECT_FAILS(attn_kernel_run_roles(kernel, none, -1),
               ATTN_ERROR_INVALID_ARGUMENT, "count -1 is outside [0, 19]");
  EXPECT_FAILS(attn_kernel_run_roles(kernel, none, ATTN_NUM_ARG_ROLES + 1),
               ATTN_ERROR_INVALID_ARGUMENT, "count 20");
  EXPECT_FAILS(attn_kernel_run_roles(kernel, none, 0), ATTN_ERROR_BUFFER,
               "query");
  EXPECT_FAILS(attn_kernel_enqueue_roles(kernel, none, 0, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "enqueue needs a CUDA kernel");
  // A bad buffer is named by its role, and nothing is written.
  std::vector<float> q(2 * 5 * 8), o(q.size(), NAN);
  int64_t shape[4] = {1, 2, 5, 8};
  Call c(pr);
  c.add(ATTN_ARG_QUERY, q.data(), ATTN_F32, 4, shape);
  c.add(ATTN_ARG_KEY, q.data(), ATTN_F32, 4, shape);
  c.add(ATTN_ARG_VALUE, q.data(), ATTN_F32, 4, shape);
  c.add(ATTN_ARG_OUTPUT, o.data(), ATTN_F32, 4, shape);
  c.add(ATTN_ARG_GRAD_KEY, o.data(), static_cast<attn_dtype>(9), 4, shape);
  EXPECT_FAILS(attn_kernel_run_roles(kernel, c.roles.data(), 17),
               ATTN_ERROR_INVALID_ARGUMENT, "grad_key: dtype 9");
  c.roles[ATTN_ARG_GRAD_KEY] = nullptr;
  int64_t two[1] = {2}, state[2] = {1, 2};
  c.add(ATTN_ARG_DROPOUT_STATE, state, ATTN_I64, 1, two);
  EXPECT_FAILS(attn_kernel_run_roles(kernel, c.roles.data(), 17),
               ATTN_ERROR_BUFFER, "dropout_state");
  for (float x : o)
    ASSERT_TRUE(std::isnan(x));
  attn_kernel_destroy(kernel);

  attn_kernel *bwd = nullptr;
  EXPECT_FAILS(attn_compile_backward(rt, "mha:b=1,h=2,s=5,d=8", ATTN_TARGET_CPU,
                                     nullptr, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT,
               "attn_compile_backward: out is null");
  EXPECT_FAILS(attn_compile_backward(nullptr, "mha:b=1,h=2,s=5,d=8",
                                     ATTN_TARGET_CPU, nullptr, &bwd),
               ATTN_ERROR_INVALID_ARGUMENT, "runtime is null");
  EXPECT_FAILS(attn_compile_backward(rt, "func.func @f() { return }",
                                     ATTN_TARGET_CPU, nullptr, &bwd),
               ATTN_ERROR_COMPILE, "takes the shorthand");
  EXPECT_FAILS(attn_compile_backward(rt, "mha:b=1,h=2,s=5,d=8,bogus",
                                     ATTN_TARGET_CPU, nullptr, &bwd),
               ATTN_ERROR_COMPILE, "bogus");
  EXPECT_FAILS(attn_compile_backward(rt, "mha:b=1,h=2,s=5,d=8",
                                     static_cast<attn_target>(4), nullptr,
                                     &bwd),
               ATTN_ERROR_INVALID_ARGUMENT, "target 4 is not a valid value");
  attn_compile_options bad{};
  bad.tile_kv = -1;
  EXPECT_FAILS(attn_compile_backward(rt, "mha:b=1,h=2,s=5,d=8", ATTN_TARGET_CPU,
                                     &bad, &bwd),
               ATTN_ERROR_INVALID_ARGUMENT, "sizes must be >= 0");
  EXPECT_EQ(bwd, nullptr);
}

} // namespace

namespace {

/// Block-sparse masks by role: the kernel reports its two list buffers
/// under their C API roles, runs over the listed blocks only (float64 loop
/// here), and a list that is not ascending fails naming kv_indices.
TEST_F(CapiRoles, BlockMaskByRole) {
  attn_kernel *kernel = nullptr;
  ASSERT_EQ(attn_compile(rt, "mha:b=1,hq=2,s=40,d=8,blocks=16:16",
                         ATTN_TARGET_CPU, nullptr, &kernel),
            ATTN_OK)
      << lastError();
  attn_arg_info info;
  std::vector<attn_arg_role> roles;
  for (int32_t i = 0; attn_kernel_arg(kernel, i, &info) == ATTN_OK; ++i)
    roles.push_back(info.role);
  EXPECT_NE(std::find(roles.begin(), roles.end(), ATTN_ARG_KV_NUM_BLOCKS),
            roles.end());
  EXPECT_NE(std::find(roles.begin(), roles.end(), ATTN_ARG_KV_INDICES),
            roles.end());
  Problem pr;
  pr.hq = pr.hkv = 2;
  pr.s = 40;
  std::vector<float> q = randomVec(pr.hq * pr.s * pr.d, 4),
                     k = randomVec(q.size(), 5), v = randomVec(q.size(), 6),
                     o(q.size(), NAN);
  // Query block 0 sees KV block 2, block 1 nothing, block 2 blocks 0, 1.
  int32_t num[3] = {1, 0, 2}, idx[9] = {2, -1, -1, -1, -1, -1, 0, 1, -1};
  int64_t numShape[3] = {1, 1, 3}, idxShape[4] = {1, 1, 3, 3};
  Call c(pr);
  c.add(ATTN_ARG_QUERY, q.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_KEY, k.data(), ATTN_F32, 4, c.ks);
  c.add(ATTN_ARG_VALUE, v.data(), ATTN_F32, 4, c.ks);
  c.add(ATTN_ARG_OUTPUT, o.data(), ATTN_F32, 4, c.qs);
  c.add(ATTN_ARG_KV_NUM_BLOCKS, num, ATTN_I32, 3, numShape);
  c.add(ATTN_ARG_KV_INDICES, idx, ATTN_I32, 4, idxShape);
  ASSERT_EQ(attn_kernel_run_roles(kernel, c.roles.data(), ATTN_NUM_ARG_ROLES),
            ATTN_OK)
      << lastError();
  std::vector<double> ref(o.size(), 0);
  for (int64_t h = 0; h < pr.hq; ++h)
    for (int64_t i = 0; i < pr.s; ++i) {
      // The keys query i's block lists: [32, 40), none, [0, 32).
      int64_t lo = i < 16 ? 32 : 0, hi = i < 16 ? 40 : i < 32 ? 0 : 32;
      std::vector<double> p(pr.s, 0);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = lo; j < hi; ++j) {
        double dot = 0;
        for (int64_t x = 0; x < pr.d; ++x)
          dot += double(q[(h * pr.s + i) * pr.d + x]) *
                 k[(h * pr.s + j) * pr.d + x];
        mx = std::max(mx, p[j] = dot / std::sqrt(double(pr.d)));
      }
      for (int64_t j = lo; j < hi; ++j)
        sum += p[j] = std::exp(p[j] - mx);
      for (int64_t j = lo; j < hi; ++j)
        for (int64_t x = 0; x < pr.d; ++x)
          ref[(h * pr.s + i) * pr.d + x] +=
              p[j] / sum * v[(h * pr.s + j) * pr.d + x];
    }
  expectClose(o, ref, 2e-5, "output"); // f32; query block 1 exactly 0
  idx[7] = 0;                          // block 2 lists 0, 0: not ascending
  EXPECT_FAILS(
      attn_kernel_run_roles(kernel, c.roles.data(), ATTN_NUM_ARG_ROLES),
      ATTN_ERROR_BUFFER, "kv_indices: value 0 at [0, 0, 2, 1]");
  attn_kernel_destroy(kernel);
}

} // namespace
