//===- cpu_additive_bench.cpp - additive attention vs an unfused baseline -===//
//
// Runtime::compileAdditive kernels against the way PyTorch runs seed 002's
// AdditiveAttention module: OpenBLAS sgemm for both projections, the
// [B, Sq, Skv, H] tensor tanh(Pq + Pk + bias) materialized, the score
// projection as one sgemv over it, a softmax over keys and the weighted sum
// of values as one sgemm per sequence. The baseline's elementwise work runs
// on the same threads as the kernel (split over sequences); its tanh is
// libm's. "gemm ms" is the baseline's sgemm/sgemv time alone (median
// wall time of 5 runs): what any unfused implementation pays before its
// elementwise steps. The kernel and the baseline are timed by the least
// process CPU time over the runs divided by the threads (bench::minCpuMs),
// which a machine shared with other jobs disturbs least.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "runtime/AdditiveKernel.h"
#include "runtime/Runtime.h"

#include "llvm/Support/CommandLine.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

using namespace mlir::attn;
namespace rt = mlir::attn::rt;
namespace bench = attn::bench;

static llvm::cl::opt<unsigned> threads("bench-threads",
                                       llvm::cl::desc("threads (0: all)"),
                                       llvm::cl::init(0));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(20));

namespace {

struct Shape {
  const char *name;
  int64_t b, sq, skv, h, d;
};

struct Problem {
  rt::AdditiveSpec spec;
  std::vector<float> q, k, v, wq, wk, ws, bias, out, weights;
  // Baseline scratch.
  std::vector<float> pq, pk, e, s, ref;
};

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

void fill(std::vector<float> &x, size_t n, double bound, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-bound, bound);
  x.resize(n);
  for (float &f : x)
    f = u(rng);
}

/// seed 002's forward, unfused, as PyTorch evaluates the module.
void baseline(Problem &p, unsigned nThreads, double *gemmMs) {
  const rt::AdditiveSpec &s = p.spec;
  int64_t b = s.batch, sq = s.queryLen, skv = s.kvLen, h = s.hidden,
          d = s.valueDim;
  auto t0 = std::chrono::steady_clock::now();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b * sq, h, s.queryDim, 1,
              p.q.data(), s.queryDim, p.wq.data(), s.queryDim, 0, p.pq.data(),
              h);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b * skv, h, s.keyDim, 1,
              p.k.data(), s.keyDim, p.wk.data(), s.keyDim, 0, p.pk.data(), h);
  double gemm = msSince(t0);
  auto elementwise = [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi)
      for (int64_t i = 0; i < sq; ++i)
        for (int64_t j = 0; j < skv; ++j) {
          const float *x = &p.pq[(bi * sq + i) * h];
          const float *y = &p.pk[(bi * skv + j) * h];
          float *out = &p.e[((bi * sq + i) * skv + j) * h];
          for (int64_t c = 0; c < h; ++c)
            out[c] = std::tanh(x[c] + y[c] + p.bias[c]);
        }
  };
  auto parallel = [&](auto fn) {
    std::vector<std::thread> pool;
    int64_t per = (b + nThreads - 1) / nThreads;
    for (unsigned t = 0; t < nThreads; ++t)
      pool.emplace_back(fn, std::min<int64_t>(b, t * per),
                        std::min<int64_t>(b, (t + 1) * per));
    for (auto &th : pool)
      th.join();
  };
  parallel(elementwise);
  t0 = std::chrono::steady_clock::now();
  cblas_sgemv(CblasRowMajor, CblasNoTrans, b * sq * skv, h, 1, p.e.data(), h,
              p.ws.data(), 1, 0, p.s.data(), 1);
  gemm += msSince(t0);
  parallel([&](int64_t b0, int64_t b1) {
    for (int64_t r = b0 * sq; r < b1 * sq; ++r) {
      float *row = &p.s[r * skv];
      float mx = *std::max_element(row, row + skv), sum = 0;
      for (int64_t j = 0; j < skv; ++j)
        sum += row[j] = std::exp(row[j] - mx);
      for (int64_t j = 0; j < skv; ++j)
        row[j] /= sum;
    }
  });
  t0 = std::chrono::steady_clock::now();
  for (int64_t bi = 0; bi < b; ++bi)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sq, d, skv, 1,
                &p.s[bi * sq * skv], skv, &p.v[bi * skv * d], d, 0,
                &p.ref[bi * sq * d], d);
  gemm += msSince(t0);
  if (gemmMs)
    *gemmMs = gemm;
}

} // namespace

int main(int argc, char **argv) {
  bench::useBestBlasCore(argv);
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "attn CPU additive attention benchmark\n");
  unsigned nThreads = threads ? threads : std::thread::hardware_concurrency();
  bench::setBlasThreads(int(nThreads));
  rt::RuntimeOptions ro;
  ro.numThreads = nThreads;
  ro.cacheDir = "off";
  rt::Runtime runtime(ro);
  std::printf("threads %u; %s\n", nThreads, bench::blasCoreReport().c_str());
  std::printf("%-34s %9s %9s %11s %9s %8s %9s\n", "shape", "attn ms", "GFLOP/s",
              "unfused ms", "gemm ms", "speedup", "maxdiff");
  // Seed 002: hidden_dim everywhere; one decoder state per sequence (the
  // module's use) and all decoder steps at once (teacher forcing).
  const Shape shapes[] = {
      {"decoder step b64 sq1 skv256 h256", 64, 1, 256, 256, 256},
      {"all steps b8 sq64 skv256 h256", 8, 64, 256, 256, 256}};
  for (const Shape &sh : shapes) {
    Problem p;
    rt::AdditiveSpec &s = p.spec;
    s.batch = sh.b;
    s.queryLen = sh.sq;
    s.kvLen = sh.skv;
    s.hidden = sh.h;
    s.queryDim = s.keyDim = s.valueDim = sh.d;
    s.withBias = true;
    auto kernel = runtime.compileAdditive(s);
    if (!kernel) {
      std::fprintf(stderr, "%s\n", llvm::toString(kernel.takeError()).c_str());
      return 1;
    }
    std::mt19937 rng(42);
    double lin = 1.0 / std::sqrt(double(sh.d));
    fill(p.q, sh.b * sh.sq * sh.d, 1.0, rng);
    fill(p.k, sh.b * sh.skv * sh.d, 1.0, rng);
    fill(p.v, sh.b * sh.skv * sh.d, 1.0, rng);
    fill(p.wq, sh.h * sh.d, lin, rng);
    fill(p.wk, sh.h * sh.d, lin, rng);
    fill(p.ws, sh.h, 1.0 / std::sqrt(double(sh.h)), rng);
    fill(p.bias, sh.h, 0.1, rng);
    p.out.assign(sh.b * sh.sq * sh.d, 0);
    p.pq.resize(sh.b * sh.sq * sh.h);
    p.pk.resize(sh.b * sh.skv * sh.h);
    p.e.resize(sh.b * sh.sq * sh.skv * sh.h);
    p.s.resize(sh.b * sh.sq * sh.skv);
    p.ref.resize(sh.b * sh.sq * sh.d);
    rt::AttentionArgs args;
    auto ref = [](std::vector<float> &x, llvm::ArrayRef<int64_t> shape) {
      return rt::BufferRef::contiguous(x.data(), rt::DType::F32, shape);
    };
    args.query = ref(p.q, {sh.b, sh.sq, sh.d});
    args.key = ref(p.k, {sh.b, sh.skv, sh.d});
    args.value = ref(p.v, {sh.b, sh.skv, sh.d});
    args.queryWeight = ref(p.wq, {sh.h, sh.d});
    args.keyWeight = ref(p.wk, {sh.h, sh.d});
    args.scoreWeight = ref(p.ws, {1, sh.h});
    args.bias = ref(p.bias, {sh.h});
    args.output = ref(p.out, {sh.b, sh.sq, sh.d});
    int status = 0;
    double ms = bench::minCpuMs(
                    [&] {
                      if (llvm::Error e = (*kernel)->run(args)) {
                        std::fprintf(stderr, "%s\n",
                                     llvm::toString(std::move(e)).c_str());
                        status = 1;
                      }
                    },
                    reps) /
                nThreads;
    if (status)
      return status;
    double gemmMs = 0;
    double unfused =
        bench::minCpuMs([&] { baseline(p, nThreads, nullptr); }, reps) /
        nThreads;
    std::vector<double> gemms;
    for (int r = 0; r < 5; ++r) {
      baseline(p, nThreads, &gemmMs);
      gemms.push_back(gemmMs);
    }
    std::sort(gemms.begin(), gemms.end());
    double maxdiff = 0;
    for (size_t i = 0; i < p.out.size(); ++i)
      maxdiff = std::max(maxdiff, double(std::fabs(p.out[i] - p.ref[i])));
    std::printf("%-34s %9.3f %9.1f %11.3f %9.3f %7.2fx %9.2g\n", sh.name, ms,
                s.flops() / ms * 1e-6, unfused, gemms[2], unfused / ms,
                maxdiff);
  }
  return 0;
}
