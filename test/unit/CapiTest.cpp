//===- CapiTest.cpp - the C API: numerics and every error path ------------===//
//
// Links libattn.so only (the C header, nothing of the C++ runtime), the way
// C programs and the Python package use it. Each error path checks the
// status code and that attn_last_error() names the culprit; numerics are
// checked against float64 loops written here.
//
//===----------------------------------------------------------------------===//
#include "CapiTestUtils.h"
#include "runtime/capi/attn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using attn_capi_test::lastError;
using attn_capi_test::randomVec;

/// float64 attention over [B, H, S, D] row-major buffers; GQA by
/// h / (Hq / Hkv); `lengths` (may be empty) limits the keys per batch row;
/// causal aligns query i with key i + (Skv - Sq) when `bottomRight`.
std::vector<double> reference(const std::vector<float> &q,
                              const std::vector<float> &k,
                              const std::vector<float> &v, int64_t b,
                              int64_t hq, int64_t hkv, int64_t sq, int64_t skv,
                              int64_t d, bool causal,
                              const std::vector<int32_t> &lengths) {
  std::vector<double> out(b * hq * sq * d);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        int64_t g = h / (hq / hkv), n = lengths.empty() ? skv : lengths[bi];
        const float *qr = &q[((bi * hq + h) * sq + i) * d];
        std::vector<double> p(n, -INFINITY);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          if (causal && j > i)
            continue;
          const float *kr = &k[((bi * hkv + g) * skv + j) * d];
          double dot = 0;
          for (int64_t x = 0; x < d; ++x)
            dot += double(qr[x]) * kr[x];
          mx = std::max(mx, p[j] = dot / std::sqrt(double(d)));
        }
        for (double &x : p)
          sum += x = std::exp(x - mx);
        for (int64_t x = 0; x < d; ++x) {
          double o = 0;
          for (int64_t j = 0; j < n; ++j)
            o += p[j] / sum * v[((bi * hkv + g) * skv + j) * d + x];
          out[((bi * hq + h) * sq + i) * d + x] = o;
        }
      }
  return out;
}

void expectClose(const std::vector<float> &got,
                 const std::vector<double> &ref) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < got.size(); ++i) // f32: 2e-5 + 2e-5 |ref|
    ASSERT_LE(std::fabs(got[i] - ref[i]), 2e-5 + 2e-5 * std::fabs(ref[i]))
        << "at " << i << ": " << got[i] << " vs " << ref[i];
}

class Capi : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_EQ(attn_runtime_create(2, &rt), ATTN_OK); }
  void TearDown() override { attn_runtime_destroy(rt); }
  attn_kernel *compile(const char *text) {
    attn_kernel *k = nullptr;
    EXPECT_EQ(attn_compile(rt, text, ATTN_TARGET_CPU, nullptr, &k), ATTN_OK)
        << lastError();
    return k;
  }
  attn_runtime *rt = nullptr;
};

/// A GQA kernel b1 hq4 hkv2 s33 d16 causal with its buffers.
struct GqaCall {
  int64_t qs[4] = {1, 4, 33, 16}, ks[4] = {1, 2, 33, 16};
  std::vector<float> q = randomVec(4 * 33 * 16, 1),
                     k = randomVec(2 * 33 * 16, 2),
                     v = randomVec(2 * 33 * 16, 3),
                     o = std::vector<float>(q.size(), NAN);
  attn_buffer qb{q.data(), ATTN_F32, 4, qs, nullptr, ATTN_HOST},
      kb{k.data(), ATTN_F32, 4, ks, nullptr, ATTN_HOST},
      vb{v.data(), ATTN_F32, 4, ks, nullptr, ATTN_HOST},
      ob{o.data(), ATTN_F32, 4, qs, nullptr, ATTN_HOST};
  attn_args args{&qb, &kb, &vb, &ob};
};
constexpr const char *kGqa = "gqa:b=1,hq=4,hkv=2,s=33,d=16,causal";

TEST_F(Capi, CompileRunMatchesReferenceAndCaches) {
  attn_kernel *kernel = compile(kGqa);
  ASSERT_NE(kernel, nullptr);
  GqaCall c;
  ASSERT_EQ(attn_kernel_run(kernel, &c.args), ATTN_OK) << lastError();
  EXPECT_EQ(lastError(), "");
  expectClose(c.o, reference(c.q, c.k, c.v, 1, 4, 2, 33, 33, 16, true, {}));

  int32_t n = 0;
  ASSERT_EQ(attn_kernel_num_args(kernel, &n), ATTN_OK);
  ASSERT_EQ(n, 4);
  attn_arg_info info;
  ASSERT_EQ(attn_kernel_arg(kernel, 3, &info), ATTN_OK);
  EXPECT_EQ(info.role, ATTN_ARG_OUTPUT);
  EXPECT_EQ(info.is_output, 1);
  EXPECT_EQ(info.rank, 4);
  EXPECT_EQ(info.shape[2], 33);
  attn_target target;
  ASSERT_EQ(attn_kernel_target(kernel, &target), ATTN_OK);
  EXPECT_EQ(target, ATTN_TARGET_CPU);
  double ms = 0;
  ASSERT_EQ(attn_kernel_compile_ms(kernel, &ms), ATTN_OK);
  EXPECT_GT(ms, 0);

  attn_kernel *again = compile(kGqa);
  attn_cache_stats stats;
  ASSERT_EQ(attn_runtime_cache_stats(rt, &stats), ATTN_OK);
  EXPECT_EQ(stats.compiles, 1);
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.entries, 2); // the kernel of run-time sizes and its view
  attn_kernel_destroy(again);
  ASSERT_EQ(attn_runtime_clear_cache(rt), ATTN_OK);
  ASSERT_EQ(attn_runtime_cache_stats(rt, &stats), ATTN_OK);
  EXPECT_EQ(stats.entries, 0);
  // A kernel outlives the cache entry (and the runtime's cache clearing).
  ASSERT_EQ(attn_kernel_run(kernel, &c.args), ATTN_OK) << lastError();
  attn_kernel_destroy(kernel);
  int32_t threads = 0;
  ASSERT_EQ(attn_runtime_num_threads(rt, &threads), ATTN_OK);
  EXPECT_EQ(threads, 2);
}

TEST_F(Capi, StridedBuffersAndMlirText) {
  // q, k, v as views of one [B, S, 3, H, D] projection (strides in
  // elements), MHA h2 s9 d8: what a fused qkv Linear produces.
  const int64_t h = 2, s = 9, d = 8;
  std::vector<float> qkv = randomVec(s * 3 * h * d, 7), o(h * s * d, NAN);
  int64_t shape[4] = {1, h, s, d},
          strides[4] = {s * 3 * h * d, d, 3 * h * d, 1};
  attn_buffer qb{qkv.data(), ATTN_F32, 4, shape, strides, ATTN_HOST},
      kb{qkv.data() + h * d, ATTN_F32, 4, shape, strides, ATTN_HOST},
      vb{qkv.data() + 2 * h * d, ATTN_F32, 4, shape, strides, ATTN_HOST},
      ob{o.data(), ATTN_F32, 4, shape, nullptr, ATTN_HOST};
  attn_args args{&qb, &kb, &vb, &ob};
  const char *mlir = R"(
func.func @f(%q: tensor<1x2x9x8xf32>, %k: tensor<1x2x9x8xf32>,
             %v: tensor<1x2x9x8xf32>) -> tensor<1x2x9x8xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x2x9x8xf32>, tensor<1x2x9x8xf32>,
       tensor<1x2x9x8xf32> -> tensor<1x2x9x8xf32>
  return %o : tensor<1x2x9x8xf32>
})";
  attn_kernel *kernel = compile(mlir);
  ASSERT_NE(kernel, nullptr);
  ASSERT_EQ(attn_kernel_run(kernel, &args), ATTN_OK) << lastError();
  std::vector<float> q(h * s * d), k(q.size()), v(q.size());
  for (int64_t hi = 0; hi < h; ++hi)
    for (int64_t si = 0; si < s; ++si)
      for (int64_t x = 0; x < d; ++x) {
        int64_t src = si * 3 * h * d + hi * d + x, dst = (hi * s + si) * d + x;
        q[dst] = qkv[src];
        k[dst] = qkv[src + h * d];
        v[dst] = qkv[src + 2 * h * d];
      }
  expectClose(o, reference(q, k, v, 1, h, h, s, s, d, false, {}));
  attn_kernel_destroy(kernel);
}

TEST(CapiErrors, StatusNamesAndVersion) {
  EXPECT_EQ(attn_api_version(), ATTN_C_API_VERSION);
  EXPECT_STREQ(attn_status_name(ATTN_OK), "ok");
  EXPECT_STREQ(attn_status_name(ATTN_ERROR_NO_DEVICE), "no device");
  EXPECT_STREQ(attn_status_name(static_cast<attn_status>(99)),
               "unknown status");
}

TEST(CapiErrors, RuntimeArguments) {
  attn_runtime *rt = nullptr;
  EXPECT_FAILS(attn_runtime_create(0, nullptr), ATTN_ERROR_INVALID_ARGUMENT,
               "out is null");
  EXPECT_FAILS(attn_runtime_create(-1, &rt), ATTN_ERROR_INVALID_ARGUMENT,
               "num_threads -1");
  EXPECT_EQ(rt, nullptr);
  int32_t n;
  attn_cache_stats stats;
  EXPECT_FAILS(attn_runtime_num_threads(nullptr, &n),
               ATTN_ERROR_INVALID_ARGUMENT, "runtime is null");
  EXPECT_FAILS(attn_runtime_cache_stats(nullptr, &stats),
               ATTN_ERROR_INVALID_ARGUMENT, "runtime is null");
  EXPECT_FAILS(attn_runtime_clear_cache(nullptr), ATTN_ERROR_INVALID_ARGUMENT,
               "runtime is null");
  EXPECT_FAILS(attn_cuda_available(nullptr), ATTN_ERROR_INVALID_ARGUMENT,
               "out is null");
  attn_runtime_destroy(nullptr); // a no-op, like free(NULL)
}

TEST_F(Capi, CompileErrors) {
  attn_kernel *k = reinterpret_cast<attn_kernel *>(this);
  EXPECT_FAILS(attn_compile(rt, kGqa, ATTN_TARGET_CPU, nullptr, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "out is null");
  EXPECT_FAILS(attn_compile(nullptr, kGqa, ATTN_TARGET_CPU, nullptr, &k),
               ATTN_ERROR_INVALID_ARGUMENT, "runtime is null");
  EXPECT_EQ(k, nullptr); // cleared on failure
  EXPECT_FAILS(attn_compile(rt, nullptr, ATTN_TARGET_CPU, nullptr, &k),
               ATTN_ERROR_INVALID_ARGUMENT, "text is null");
  EXPECT_FAILS(attn_compile(rt, kGqa, static_cast<attn_target>(7), nullptr, &k),
               ATTN_ERROR_INVALID_ARGUMENT, "target 7");
  attn_compile_options bad{};
  bad.tile_rows = -4;
  EXPECT_FAILS(attn_compile(rt, kGqa, ATTN_TARGET_CPU, &bad, &k),
               ATTN_ERROR_INVALID_ARGUMENT, ">= 0");
  EXPECT_FAILS(attn_compile(rt, "gqa:b=1,hq=4,hkv=2,s=33,d=16,bogus=1",
                            ATTN_TARGET_CPU, nullptr, &k),
               ATTN_ERROR_COMPILE, "bogus");
  EXPECT_FAILS(attn_compile(rt, "gqa:b=1,hq=3,hkv=2,s=8,d=16", ATTN_TARGET_CPU,
                            nullptr, &k),
               ATTN_ERROR_COMPILE, "attn_compile:");
  EXPECT_FAILS(
      attn_compile(rt, "func.func @f( {", ATTN_TARGET_CPU, nullptr, &k),
      ATTN_ERROR_COMPILE, "attn_compile:");
  EXPECT_EQ(k, nullptr);
}

TEST_F(Capi, KernelQueryErrors) {
  attn_kernel *kernel = compile(kGqa);
  int32_t n;
  attn_arg_info info;
  attn_target target;
  double ms;
  EXPECT_FAILS(attn_kernel_num_args(nullptr, &n), ATTN_ERROR_INVALID_ARGUMENT,
               "kernel is null");
  EXPECT_FAILS(attn_kernel_num_args(kernel, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "out is null");
  EXPECT_FAILS(attn_kernel_arg(kernel, 4, &info), ATTN_ERROR_INVALID_ARGUMENT,
               "index 4 is outside [0, 4)");
  EXPECT_FAILS(attn_kernel_arg(kernel, -1, &info), ATTN_ERROR_INVALID_ARGUMENT,
               "index -1");
  EXPECT_FAILS(attn_kernel_target(nullptr, &target),
               ATTN_ERROR_INVALID_ARGUMENT, "kernel is null");
  EXPECT_FAILS(attn_kernel_compile_ms(nullptr, &ms),
               ATTN_ERROR_INVALID_ARGUMENT, "kernel is null");
  attn_kernel_destroy(kernel);
}

TEST_F(Capi, RunErrorsNameTheBuffer) {
  attn_kernel *kernel = compile(kGqa);
  GqaCall c;
  EXPECT_FAILS(attn_kernel_run(nullptr, &c.args), ATTN_ERROR_INVALID_ARGUMENT,
               "kernel is null");
  EXPECT_FAILS(attn_kernel_run(kernel, nullptr), ATTN_ERROR_INVALID_ARGUMENT,
               "args is null");
  auto expectRun = [&](GqaCall &call, attn_status status, const char *text) {
    EXPECT_FAILS(attn_kernel_run(kernel, &call.args), status, text);
    for (float x : call.o) // nothing was written
      ASSERT_TRUE(std::isnan(x));
  };
  {
    GqaCall bad;
    bad.args.value = nullptr;
    expectRun(bad, ATTN_ERROR_INVALID_ARGUMENT, "value: buffer is null");
  }
  {
    GqaCall bad;
    bad.kb.dtype = static_cast<attn_dtype>(42);
    expectRun(bad, ATTN_ERROR_INVALID_ARGUMENT, "key: dtype 42");
  }
  {
    GqaCall bad;
    bad.qb.rank = 9;
    expectRun(bad, ATTN_ERROR_INVALID_ARGUMENT, "query: rank 9");
  }
  {
    GqaCall bad;
    bad.qb.shape = nullptr;
    expectRun(bad, ATTN_ERROR_INVALID_ARGUMENT, "query: shape is null");
  }
  {
    GqaCall bad;
    bad.vb.memory = static_cast<attn_memory>(3);
    expectRun(bad, ATTN_ERROR_INVALID_ARGUMENT, "value: memory 3");
  }
  {
    GqaCall bad;
    int64_t neg[4] = {1, 2, -33, 16};
    bad.kb.shape = neg;
    expectRun(bad, ATTN_ERROR_INVALID_ARGUMENT, "key: negative dimension");
  }
  {
    GqaCall bad;
    int64_t wrong[4] = {1, 2, 32, 16};
    bad.kb.shape = wrong;
    expectRun(bad, ATTN_ERROR_BUFFER, "key");
  }
  {
    GqaCall bad;
    bad.vb.dtype = ATTN_F16;
    expectRun(bad, ATTN_ERROR_BUFFER, "value");
  }
  {
    GqaCall bad;
    int64_t strides[4] = {2 * 33 * 16 * 2, 33 * 16 * 2, 16 * 2, 2};
    bad.kb.strides = strides;
    expectRun(bad, ATTN_ERROR_BUFFER, "key");
  }
  {
    GqaCall bad;
    bad.qb.data = nullptr;
    expectRun(bad, ATTN_ERROR_BUFFER, "query");
  }
  {
    GqaCall bad;
    bad.ob.memory = ATTN_DEVICE;
    expectRun(bad, ATTN_ERROR_BUFFER, "output");
  }
  {
    GqaCall bad;
    std::vector<int32_t> lengths(1, 5);
    int64_t one = 1;
    attn_buffer lb{lengths.data(), ATTN_I32, 1, &one, nullptr, ATTN_HOST};
    bad.args.kv_lengths = &lb;
    expectRun(bad, ATTN_ERROR_BUFFER, "kv_lengths");
  }
  EXPECT_FAILS(attn_kernel_enqueue(kernel, &c.args, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "needs a CUDA kernel");
  // The last error is per call: a success clears it.
  ASSERT_EQ(attn_kernel_run(kernel, &c.args), ATTN_OK);
  EXPECT_EQ(lastError(), "");
  attn_kernel_destroy(kernel);
}

TEST_F(Capi, CudaWithoutDeviceIsNoDevice) {
  int32_t available = -1;
  ASSERT_EQ(attn_cuda_available(&available), ATTN_OK);
  if (available)
    GTEST_SKIP() << "a CUDA device is present";
  EXPECT_NE(lastError().find("no CUDA device"), std::string::npos);
  // Compiling for CUDA needs no GPU; running does.
  attn_kernel *kernel = nullptr;
  ASSERT_EQ(attn_compile(rt, "gqa:b=1,hq=4,hkv=2,s=64,d=64,dtype=f16",
                         ATTN_TARGET_CUDA, nullptr, &kernel),
            ATTN_OK)
      << lastError();
  std::vector<uint16_t> q(4 * 64 * 64), k(2 * 64 * 64), v(k.size()),
      o(q.size());
  int64_t qs[4] = {1, 4, 64, 64}, ks[4] = {1, 2, 64, 64};
  attn_buffer qb{q.data(), ATTN_F16, 4, qs, nullptr, ATTN_HOST},
      kb{k.data(), ATTN_F16, 4, ks, nullptr, ATTN_HOST},
      vb{v.data(), ATTN_F16, 4, ks, nullptr, ATTN_HOST},
      ob{o.data(), ATTN_F16, 4, qs, nullptr, ATTN_HOST};
  attn_args args{&qb, &kb, &vb, &ob};
  EXPECT_FAILS(attn_kernel_run(kernel, &args), ATTN_ERROR_NO_DEVICE,
               "no CUDA device");
  attn_kernel_destroy(kernel);
}

} // namespace
