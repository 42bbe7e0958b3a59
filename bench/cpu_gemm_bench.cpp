//===- cpu_gemm_bench.cpp - attn-tile-matmul against OpenBLAS sgemm -------===//
//
// The matmuls around the attention (a layer's QKV and output projections)
// as the CPU pipeline compiles them (attn-tile-matmul work items of the
// vector micro-kernel, on the runtime's threads) next to OpenBLAS sgemm on
// the same shapes and threads, with OpenBLAS's best kernels for this CPU
// (bench/BenchUtil.h). B is an nn.Linear weight [N, K] by default (what a
// layer reads; --linear=false: [K, N]). Default shapes: 2048 rows of the
// QKV projection, and seed 004's layer (B 8, S 1024, E 768): QKV
// [8192, 768] x [768, 2304] and the output projection [8192, 768] x
// [768, 768]; `--shape=MxKxN` replaces them. Least process CPU time of
// --bench-reps runs, so a loaded machine still gives the kernels' own
// rate.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"

#include "passes/Passes.h"
#include "runtime/KernelBuilder.h"
#include "runtime/Runtime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"

#include <cblas.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::attn;
namespace rt = mlir::attn::rt;

static llvm::cl::list<std::string> shapes("shape",
                                          llvm::cl::desc("MxKxN (repeatable)"));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(5));
static llvm::cl::list<unsigned>
    threadCounts("bench-threads", llvm::cl::desc("thread counts (default 1,2)"),
                 llvm::cl::CommaSeparated);
static llvm::cl::opt<bool>
    linear("linear",
           llvm::cl::desc("B stored [N, K] (an nn.Linear weight, as a "
                          "layer's projections read it); false: [K, N]"),
           llvm::cl::init(true));
static llvm::cl::opt<bool>
    withBias("bias",
             llvm::cl::desc("C starts as a bias row (linalg.broadcast, as "
                            "a layer's projections) instead of 0"),
             llvm::cl::init(false));
static llvm::cl::opt<int64_t> rowBlock("row-block",
                                       llvm::cl::desc("attn-tile-matmul"),
                                       llvm::cl::init(128));
static llvm::cl::opt<int64_t> colBlock("col-block",
                                       llvm::cl::desc("attn-tile-matmul"),
                                       llvm::cl::init(192));
static llvm::cl::opt<int64_t> depthBlock("depth-block",
                                         llvm::cl::desc("attn-tile-matmul"),
                                         llvm::cl::init(1024));
static llvm::cl::opt<int64_t>
    sliver("sliver", llvm::cl::desc("attn-tile-matmul"), llvm::cl::init(48));
static llvm::cl::opt<int64_t> itemRows("item-rows",
                                       llvm::cl::desc("attn-tile-matmul"),
                                       llvm::cl::init(1024));
static llvm::cl::opt<int64_t> microRows("micro-rows",
                                        llvm::cl::desc("attn-vectorize-tiles"),
                                        llvm::cl::init(8));
static llvm::cl::opt<int64_t> microCols("micro-cols",
                                        llvm::cl::desc("attn-vectorize-tiles"),
                                        llvm::cl::init(3));

static llvm::cl::opt<int64_t> kUnroll("k-unroll",
                                      llvm::cl::desc("attn-vectorize-tiles"),
                                      llvm::cl::init(4));

namespace {

struct Gemm {
  int64_t m, k, n;
};

/// C = 0 (or the bias row), C += A·B (or A·Bᵀ with B [N, K]): the
/// pipeline makes its items.
std::string kernelText(Gemm g) {
  auto ty = [](int64_t r, int64_t c) {
    return "memref<" + std::to_string(r) + "x" + std::to_string(c) + "xf32>";
  };
  std::string a = ty(g.m, g.k), b = linear ? ty(g.n, g.k) : ty(g.k, g.n),
              c = ty(g.m, g.n);
  std::string maps =
      linear ? "indexing_maps = [affine_map<(m, n, k) -> (m, k)>, "
               "affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> "
               "(m, n)>] "
             : "";
  std::string bias = "memref<" + std::to_string(g.n) + "xf32>";
  std::string init =
      withBias ? "  linalg.broadcast ins(%bias : " + bias + ") outs(%c : " + c +
                     ") dimensions = [0]\n"
               : "  %zero = arith.constant 0.0 : f32\n  linalg.fill ins(%zero "
                 ": f32) outs(%c : " +
                     c + ")\n";
  return "func.func @attention(%a: " + a + ", %b: " + b + ", %bias: " + bias +
         ", %c: " + c + ") attributes {llvm.emit_c_interface} {\n" + init +
         "  linalg.matmul " + maps + "ins(%a, %b : " + a + ", " + b +
         ") outs(%c : " + c + ")\n  return\n}";
}

int run(const std::vector<Gemm> &gemms, const std::vector<unsigned> &threads) {
  DialectRegistry registry;
  rt::registerRuntimeDialects(registry);
  MLIRContext ctx(registry, MLIRContext::Threading::DISABLED);
  std::printf("%s\n", ::attn::bench::blasCoreReport().c_str());
  std::printf("least process CPU time of %d runs (all threads' CPU time; "
              "GFLOP/s = flops / (CPU time / threads)), then least wall "
              "time; B "
              "%s; attn-tile-matmul row-block %lld col-block %lld "
              "depth-block %lld sliver %lld item-rows %lld, micro-kernel "
              "%lld x %lld vectors, k-unroll %lld\n",
              int(reps), linear ? "[N, K] (nn.Linear)" : "[K, N]",
              (long long)rowBlock, (long long)colBlock, (long long)depthBlock,
              (long long)sliver, (long long)itemRows, (long long)microRows,
              (long long)microCols, (long long)kUnroll);
  std::printf("%-22s %3s %10s %9s %10s %9s %7s %9s\n", "M x K x N", "thr",
              "attn ms", "GFLOP/s", "sgemm ms", "GFLOP/s", "/sgemm", "maxdiff");
  for (Gemm g : gemms) {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    std::vector<float> a(g.m * g.k), b(g.k * g.n), c(g.m * g.n), ref(c.size());
    for (float &x : a)
      x = nd(rng);
    for (float &x : b)
      x = nd(rng);
    std::vector<float> biasRow(g.n, 0.0f); // zeros: the same C either way
    std::vector<int64_t> bShape = linear ? std::vector<int64_t>{g.n, g.k}
                                         : std::vector<int64_t>{g.k, g.n};
    for (unsigned t : threads) {
      auto module = parseSourceString<ModuleOp>(kernelText(g), &ctx);
      if (!module)
        return 1;
      rt::KernelSignature sig;
      sig.args = {
          {rt::ArgRole::Query, rt::DType::F32, {g.m, g.k}, true, false},
          {rt::ArgRole::Key,
           rt::DType::F32,
           {bShape[0], bShape[1]},
           true,
           false},
          {rt::ArgRole::Value, rt::DType::F32, {g.n}, true, false},
          {rt::ArgRole::Output, rt::DType::F32, {g.m, g.n}, true, true}};
      rt::Runtime runtime(rt::RuntimeOptions{t});
      ::attn::bench::setBlasThreads(t);
      auto kernel = runtime.compileModule(*module, sig, [](OpPassManager &pm) {
        OpPassManager &f = pm.nest<func::FuncOp>();
        f.addPass(createAttnTileMatmul({0, rowBlock, colBlock, depthBlock,
                                        sliver, itemRows,
                                        /*workItems=*/true}));
        f.addPass(createAttnVectorizeTiles(
            {hostVectorWidth(), microRows, /*amx=*/false, microCols, kUnroll}));
        pm.addPass(createAttnParallelToRuntime());
        pm.nest<func::FuncOp>().addPass(createConvertLinalgToLoopsPass());
        buildLowerToLLVMPipeline(pm);
      });
      if (!kernel) {
        std::fprintf(stderr, "%s\n",
                     llvm::toString(kernel.takeError()).c_str());
        return 1;
      }
      rt::AttentionArgs args;
      args.query =
          rt::BufferRef::contiguous(a.data(), rt::DType::F32, {g.m, g.k});
      args.key = rt::BufferRef::contiguous(b.data(), rt::DType::F32, bShape);
      args.value =
          rt::BufferRef::contiguous(biasRow.data(), rt::DType::F32, {g.n});
      args.output =
          rt::BufferRef::contiguous(c.data(), rt::DType::F32, {g.m, g.n});
      bool failed = false;
      auto attnRun = [&] { failed |= static_cast<bool>((*kernel)->run(args)); };
      auto blasRun = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans,
                    linear ? CblasTrans : CblasNoTrans, g.m, g.n, g.k, 1.0f,
                    a.data(), g.k, b.data(), linear ? g.k : g.n, 0.0f,
                    ref.data(), g.n);
      };
      double attnMs = ::attn::bench::minCpuMs(attnRun, reps);
      double blasMs = ::attn::bench::minCpuMs(blasRun, reps);
      double attnWall = ::attn::bench::minWallMs(attnRun, reps),
             blasWall = ::attn::bench::minWallMs(blasRun, reps);
      double maxDiff = failed ? NAN : 0;
      for (size_t i = 0; i < c.size(); ++i)
        maxDiff = std::max(maxDiff, double(std::fabs(c[i] - ref[i])));
      double flops = 2.0 * g.m * g.k * g.n;
      std::string name = std::to_string(g.m) + " x " + std::to_string(g.k) +
                         " x " + std::to_string(g.n);
      std::printf("%-22s %3u %10.2f %9.1f %10.2f %9.1f %7.2f %9.2e   wall "
                  "%.2f / %.2f ms = %.2f\n",
                  name.c_str(), t, attnMs, flops / attnMs / 1e6 * t, blasMs,
                  flops / blasMs / 1e6 * t, blasMs / attnMs, maxDiff, attnWall,
                  blasWall, blasWall / attnWall);
      std::fflush(stdout);
    }
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  ::attn::bench::useBestBlasCore(argv);
  llvm::cl::ParseCommandLineOptions(argc, argv, "attn-tile-matmul vs sgemm\n");
  std::vector<Gemm> gemms;
  for (const std::string &s : shapes) {
    Gemm g;
    if (std::sscanf(s.c_str(), "%ldx%ldx%ld", &g.m, &g.k, &g.n) != 3 ||
        g.m < 1 || g.k < 1 || g.n < 1) {
      std::fprintf(stderr, "attn-bench-cpu-gemm: bad --shape '%s' (MxKxN)\n",
                   s.c_str());
      return 2;
    }
    gemms.push_back(g);
  }
  if (gemms.empty())
    gemms = {{2048, 768, 2304}, {8192, 768, 2304}, {8192, 768, 768}};
  std::vector<unsigned> threads(threadCounts.begin(), threadCounts.end());
  if (threads.empty())
    threads = {1, 2};
  return run(gemms, threads);
}
