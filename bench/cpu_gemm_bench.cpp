//===- cpu_gemm_bench.cpp - attn-tile-matmul against OpenBLAS sgemm -------===//
//
// The matmuls around the attention (a layer's QKV and output projections)
// as the model pipeline compiles them (attn-tile-matmul blocks of the
// vector micro-kernel, one thread: the model function's own thread) next
// to OpenBLAS sgemm on the same shapes and one thread, with OpenBLAS's
// best kernels for this CPU (bench/BenchUtil.h). Default shapes: seed 004's
// layer (B 8, S 1024, E 768): QKV [8192, 768] x [768, 2304] and the
// output projection [8192, 768] x [768, 768]; `--shape=MxKxN` replaces
// them. Least CPU time of --bench-reps runs, so a loaded machine still
// gives the kernels' own rate.
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

#include <cmath>
#include <cstdio>
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
static llvm::cl::opt<int64_t> rowBlock("row-block",
                                       llvm::cl::desc("attn-tile-matmul"),
                                       llvm::cl::init(128));
static llvm::cl::opt<int64_t> colBlock("col-block",
                                       llvm::cl::desc("attn-tile-matmul"),
                                       llvm::cl::init(128));
static llvm::cl::opt<int64_t> depthBlock("depth-block",
                                         llvm::cl::desc("attn-tile-matmul"),
                                         llvm::cl::init(256));

namespace {

struct Gemm {
  int64_t m, k, n;
};

std::string kernelText(Gemm g) {
  auto ty = [](int64_t r, int64_t c) {
    return "memref<" + std::to_string(r) + "x" + std::to_string(c) + "xf32>";
  };
  std::string a = ty(g.m, g.k), b = ty(g.k, g.n), c = ty(g.m, g.n);
  return "func.func @attention(%a: " + a + ", %b: " + b + ", %c: " + c +
         R"(, %begin: index, %end: index) attributes {llvm.emit_c_interface} {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : )" +
         c + ")\n  linalg.matmul ins(%a, %b : " + a + ", " + b +
         ") outs(%c : " + c + R"()
  return
}
func.func @attention_work_items() -> index attributes {llvm.emit_c_interface} {
  %n = arith.constant 1 : index
  return %n : index
})";
}

int run(const std::vector<Gemm> &gemms) {
  DialectRegistry registry;
  rt::registerRuntimeDialects(registry);
  MLIRContext ctx(registry, MLIRContext::Threading::DISABLED);
  rt::Runtime runtime(rt::RuntimeOptions{1});
  ::attn::bench::setBlasThreads(1);
  std::printf("%s\n", ::attn::bench::blasCoreReport().c_str());
  std::printf("threads 1, least CPU time of %d runs; attn-tile-matmul "
              "row-block %lld col-block %lld depth-block %lld\n",
              int(reps), (long long)rowBlock, (long long)colBlock,
              (long long)depthBlock);
  std::printf("%-22s %10s %9s %10s %9s %7s %9s\n", "M x K x N", "attn ms",
              "GFLOP/s", "sgemm ms", "GFLOP/s", "/sgemm", "maxdiff");
  for (Gemm g : gemms) {
    auto module = parseSourceString<ModuleOp>(kernelText(g), &ctx);
    if (!module)
      return 1;
    rt::KernelSignature sig;
    sig.args = {{rt::ArgRole::Query, rt::DType::F32, {g.m, g.k}, true, false},
                {rt::ArgRole::Key, rt::DType::F32, {g.k, g.n}, true, false},
                {rt::ArgRole::Output, rt::DType::F32, {g.m, g.n}, true, true}};
    auto kernel = runtime.compileModule(*module, sig, [](OpPassManager &pm) {
      OpPassManager &f = pm.nest<func::FuncOp>();
      f.addPass(createAttnTileMatmul({0, rowBlock, colBlock, depthBlock}));
      f.addPass(createAttnVectorizeTiles({hostVectorWidth(), 8}));
      f.addPass(createConvertLinalgToLoopsPass());
      buildLowerToLLVMPipeline(pm);
    });
    if (!kernel) {
      std::fprintf(stderr, "%s\n", llvm::toString(kernel.takeError()).c_str());
      return 1;
    }
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    std::vector<float> a(g.m * g.k), b(g.k * g.n), c(g.m * g.n), ref(c.size());
    for (float &x : a)
      x = nd(rng);
    for (float &x : b)
      x = nd(rng);
    rt::AttentionArgs args;
    args.query =
        rt::BufferRef::contiguous(a.data(), rt::DType::F32, {g.m, g.k});
    args.key = rt::BufferRef::contiguous(b.data(), rt::DType::F32, {g.k, g.n});
    args.output =
        rt::BufferRef::contiguous(c.data(), rt::DType::F32, {g.m, g.n});
    bool failed = false;
    double attnMs = ::attn::bench::minCpuMs(
        [&] { failed |= static_cast<bool>((*kernel)->run(args)); }, reps);
    double blasMs = ::attn::bench::minCpuMs(
        [&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.m, g.n, g.k,
                      1.0f, a.data(), g.k, b.data(), g.n, 0.0f, ref.data(),
                      g.n);
        },
        reps);
    double maxDiff = failed ? NAN : 0;
    for (size_t i = 0; i < c.size(); ++i)
      maxDiff = std::max(maxDiff, double(std::fabs(c[i] - ref[i])));
    double flops = 2.0 * g.m * g.k * g.n;
    std::string name = std::to_string(g.m) + " x " + std::to_string(g.k) +
                       " x " + std::to_string(g.n);
    std::printf("%-22s %10.2f %9.1f %10.2f %9.1f %7.2f %9.2e\n", name.c_str(),
                attnMs, flops / attnMs / 1e6, blasMs, flops / blasMs / 1e6,
                blasMs / attnMs, maxDiff);
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
    gemms = {{8192, 768, 2304}, {8192, 768, 768}};
  return run(gemms);
}
