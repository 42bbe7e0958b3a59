//===- cpu_layer_bench.cpp - a whole attention layer on the CPU -----------===//
//
// Seed 004's layer (MultiHeadAttentionAlt: B 8, S 1024, E 768, 12 heads,
// causal, f32, biases) as one compiled attn.multi_head_attention
// (Runtime::compileLayer) next to the same math unfused: OpenBLAS sgemm
// for the QKV projection (the weight read transposed, the bias as C's
// starting value), attn's attention kernel on strided Q/K/V views of the
// sgemm's output, sgemm for the output projection. Same threads for both
// (--num-threads, default 1), least process CPU time of --bench-reps runs, so
// a loaded machine still gives each kernel's own rate. Prints ms per
// layer and the max difference between the two outputs.
// PyTorch (nn.MultiheadAttention and an SDPA layer) is
// bench/cpu_layer_torch.py, run beside it where torch imports.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"

#include "runtime/Layer.h"

#include "llvm/Support/CommandLine.h"

#include <cblas.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

using namespace mlir::attn;
namespace rt = mlir::attn::rt;

static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(3));
static llvm::cl::opt<int> threads("num-threads",
                                  llvm::cl::desc("threads (runtime and BLAS)"),
                                  llvm::cl::init(1));
static llvm::cl::opt<int64_t> batch("b", llvm::cl::init(8));
static llvm::cl::opt<int64_t> seq("s", llvm::cl::init(1024));
static llvm::cl::opt<int64_t> embed("e", llvm::cl::init(768));
static llvm::cl::opt<int64_t> heads("h", llvm::cl::init(12));
static llvm::cl::opt<bool>
    biases("biases",
           llvm::cl::desc("the layer's QKV and output biases (false: the "
                          "layer without them; the unfused baseline keeps "
                          "them)"),
           llvm::cl::init(true));

namespace {

std::vector<float> randomVector(size_t n, float scale, std::mt19937 &rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (float &x : v)
    x = scale * nd(rng);
  return v;
}

/// y[M, N] = x[M, K] · w[N, K]ᵀ + bias (OpenBLAS, nn.Linear layout).
void linear(const float *x, const std::vector<float> &w,
            const std::vector<float> &bias, float *y, int64_t m, int64_t k,
            int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    std::copy(bias.begin(), bias.end(), y + i * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k,
              w.data(), k, 1.0f, y, n);
}

int run() {
  int64_t b = batch, s = seq, e = embed, h = heads, d = e / h;
  rt::Runtime runtime(rt::RuntimeOptions{unsigned(threads)});
  ::attn::bench::setBlasThreads(threads);
  std::printf("%s\n", ::attn::bench::blasCoreReport().c_str());
  std::printf("layer b%lld s%lld E%lld h%lld (D %lld), causal, f32, biases; "
              "threads %d, least process CPU time (all threads) of %d "
              "runs, then least wall time\n",
              (long long)b, (long long)s, (long long)e, (long long)h,
              (long long)d, int(threads), int(reps));

  rt::LayerSpec spec;
  spec.attention.batch = b;
  spec.attention.numHeads = spec.attention.numKvHeads = h;
  spec.attention.queryLen = spec.attention.kvLen = s;
  spec.attention.headDim = d;
  spec.attention.mask.causal = true;
  spec.embed = e;
  spec.withQkvBias = spec.withOutBias = biases;
  std::mt19937 rng(1);
  float ws = 1.0f / std::sqrt(float(e));
  std::vector<float> x = randomVector(b * s * e, 1.0f, rng);
  std::vector<float> wqkv = randomVector(3 * e * e, ws, rng),
                     bqkv = randomVector(3 * e, 0.1f, rng),
                     wo = randomVector(e * e, ws, rng),
                     bo = randomVector(e, 0.1f, rng);
  using rt::BufferRef;
  using rt::DType;
  rt::LayerWeights weights;
  weights.qkvWeight =
      BufferRef::contiguous(wqkv.data(), DType::F32, {3 * e, e});
  if (biases)
    weights.qkvBias = BufferRef::contiguous(bqkv.data(), DType::F32, {3 * e});
  weights.outWeight = BufferRef::contiguous(wo.data(), DType::F32, {e, e});
  if (biases)
    weights.outBias = BufferRef::contiguous(bo.data(), DType::F32, {e});
  auto layer = runtime.compileLayer(spec, weights);
  if (!layer) {
    std::fprintf(stderr, "%s\n", llvm::toString(layer.takeError()).c_str());
    return 1;
  }
  std::vector<float> out(b * s * e), ref(b * s * e);
  rt::AttentionArgs args;
  args.query = BufferRef::contiguous(x.data(), DType::F32, {b, s, e});
  args.output = BufferRef::contiguous(out.data(), DType::F32, {b, s, e});
  bool failed = false;
  auto layerRun = [&] {
    if (llvm::Error err = (*layer)->run(args)) {
      std::fprintf(stderr, "%s\n", llvm::toString(std::move(err)).c_str());
      failed = true;
    }
  };
  double layerMs = ::attn::bench::minCpuMs(layerRun, reps);
  double layerWall = ::attn::bench::minWallMs(layerRun, reps);

  // Unfused: sgemm, attention on strided views of its output, sgemm.
  AttentionSpec attn = spec.attention;
  attn.layout = Layout::BSHD;
  auto kernel = runtime.compile(attn);
  if (!kernel) {
    std::fprintf(stderr, "%s\n", llvm::toString(kernel.takeError()).c_str());
    return 1;
  }
  std::vector<float> qkv(b * s * 3 * e), a(b * s * e);
  rt::AttentionArgs aargs;
  auto view = [&](int64_t col) {
    BufferRef r =
        BufferRef::contiguous(qkv.data() + col, DType::F32, {b, s, h, d});
    r.strides = {s * 3 * e, 3 * e, d, 1};
    return r;
  };
  aargs.query = view(0);
  aargs.key = view(e);
  aargs.value = view(2 * e);
  aargs.output = BufferRef::contiguous(a.data(), DType::F32, {b, s, h, d});
  double qkvMs = 0, attnMs = 0, outMs = 0;
  auto unfusedRun = [&] {
    linear(x.data(), wqkv, bqkv, qkv.data(), b * s, e, 3 * e);
    failed |= static_cast<bool>((*kernel)->run(aargs));
    linear(a.data(), wo, bo, ref.data(), b * s, e, e);
  };
  double unfusedMs = ::attn::bench::minCpuMs(unfusedRun, reps);
  double unfusedWall = ::attn::bench::minWallMs(unfusedRun, reps);
  qkvMs = ::attn::bench::minCpuMs(
      [&] { linear(x.data(), wqkv, bqkv, qkv.data(), b * s, e, 3 * e); }, reps);
  attnMs = ::attn::bench::minCpuMs(
      [&] { failed |= static_cast<bool>((*kernel)->run(aargs)); }, reps);
  outMs = ::attn::bench::minCpuMs(
      [&] { linear(a.data(), wo, bo, ref.data(), b * s, e, e); }, reps);
  double maxDiff = failed ? NAN : 0;
  for (size_t i = 0; i < out.size(); ++i)
    maxDiff = std::max(maxDiff, double(std::fabs(out[i] - ref[i])));
  std::printf("%-44s %9.1f ms CPU %9.1f ms wall\n",
              "attn.multi_head_attention (compileLayer)", layerMs, layerWall);
  std::printf("%-44s %9.1f ms CPU %9.1f ms wall  (CPU: QKV sgemm %.1f, "
              "attention %.1f, out sgemm %.1f)\n",
              "unfused: OpenBLAS sgemm + attn attention", unfusedMs,
              unfusedWall, qkvMs, attnMs, outMs);
  std::printf("unfused / layer %.2f CPU, %.2f wall; max |layer - unfused| "
              "%.2e\n",
              unfusedMs / layerMs, unfusedWall / layerWall, maxDiff);
  return failed ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  ::attn::bench::useBestBlasCore(argv);
  llvm::cl::ParseCommandLineOptions(argc, argv, "attention layer bench\n");
  if (embed % heads != 0 || batch < 1 || seq < 1) {
    std::fprintf(stderr, "attn-bench-cpu-layer: E must be a multiple of h\n");
    return 2;
  }
  return run();
}
