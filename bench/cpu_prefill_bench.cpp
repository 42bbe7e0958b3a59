//===- cpu_prefill_bench.cpp - attn prefill vs sgemm and GEMM-softmax-GEMM ===//
//
// One run measures, on the same threads: two ceilings, attn's compiled
// kernel, and the attention a C++ user would write with OpenBLAS (per head:
// S = Q Kᵀ, mask, softmax, O = P V; heads spread over the threads, each
// sgemm single-threaded). The ceilings: OpenBLAS sgemm with the kernels of
// the CPU's vector ISA (the benchmark re-executes itself with the right
// OPENBLAS_CORETYPE when OpenBLAS picks older ones), and the machine's peak
// FMA rate (register-only FMA chains, no library). Prints one table, or
// JSON lines with --json (bench/benchschema.py); progress on stderr.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchJson.h"
#include "bench/BenchUtil.h"
#include "runtime/HostBuffers.h"
#include "runtime/Runtime.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cblas.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>
#include <vector>

using namespace mlir::attn;
namespace bench = attn::bench;

static llvm::cl::opt<unsigned> threads("bench-threads",
                                       llvm::cl::desc("threads (0: all)"),
                                       llvm::cl::init(0));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(7));
static llvm::cl::list<std::string>
    shapes("shape", llvm::cl::desc("spec shorthand (repeatable)"));
static llvm::cl::opt<bool> staticSizes(
    "static-sizes",
    llvm::cl::desc("kernels specialised to each shape (default: the kernel "
                   "of run-time batch and lengths)"),
    llvm::cl::init(false));
static llvm::cl::opt<bool> cpuTime(
    "cpu-time",
    llvm::cl::desc("time attn and the ceilings by the least process CPU "
                   "time of the runs (per thread) instead of the median wall "
                   "time (with --bench-threads=1: the kernels' own time, for "
                   "A/B on a shared machine)"),
    llvm::cl::init(false));
static llvm::cl::opt<bool>
    baseline("baseline",
             llvm::cl::desc("also time the OpenBLAS GEMM-softmax-GEMM "
                            "(and check attn against it)"),
             llvm::cl::init(true));
static llvm::cl::opt<int64_t>
    tileRows("tile-rows", llvm::cl::desc("query rows per work item"),
             llvm::cl::init(rt::CompileOptions().tileRows));
static llvm::cl::opt<int64_t>
    tileKv("tile-kv", llvm::cl::desc("keys per KV tile"),
           llvm::cl::init(rt::CompileOptions().tileKv));
static llvm::cl::opt<std::string> bf16Matmul(
    "bf16-matmul",
    llvm::cl::desc("bf16 Q·Kᵀ and P·V: auto (AMX where the CPU has it), amx "
                   "or fma (the f32 kernel's code)"),
    llvm::cl::init(rt::CompileOptions().bf16Matmul));
static llvm::cl::opt<bool> backward(
    "backward",
    llvm::cl::desc("also time each shape's backward (Runtime::compileBackward; "
                   "GFLOP/s counted as 2.5x the forward's flops, as "
                   "FlashAttention counts them)"),
    llvm::cl::init(false));
static llvm::cl::opt<bool>
    json("json",
         llvm::cl::desc("print JSON lines (bench/benchschema.py) instead of "
                        "a table"),
         llvm::cl::init(false));

namespace {

/// The straightforward OpenBLAS attention (BHSD, f32). Returns ms, timed
/// like attn's kernel (--cpu-time: least CPU time; else median wall).
double gemmSoftmaxGemm(const AttentionSpec &s, const float *q, const float *k,
                       const float *v, float *o, unsigned nThreads,
                       int repeats) {
  int64_t group = s.numHeads / s.numKvHeads, d = s.headDim,
          dv = s.effectiveValueDim();
  float scale = s.scale ? *s.scale : 1.0f / std::sqrt(float(d));
  bench::setBlasThreads(1);
  auto run = [&] {
    std::atomic<int64_t> next{0};
    auto worker = [&] {
      std::vector<float> scores(size_t(s.queryLen) * s.kvLen);
      for (int64_t bh; (bh = next.fetch_add(1)) < s.batch * s.numHeads;) {
        int64_t b = bh / s.numHeads, h = bh % s.numHeads;
        int64_t kvh = b * s.numKvHeads + h / group;
        const float *qh = q + bh * s.queryLen * d;
        const float *kh = k + kvh * s.kvLen * d;
        const float *vh = v + kvh * s.kvLen * dv;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.queryLen,
                    s.kvLen, d, scale, qh, d, kh, d, 0.0f, scores.data(),
                    s.kvLen);
        for (int64_t i = 0; i < s.queryLen; ++i) {
          float *row = scores.data() + i * s.kvLen;
          float mx = -std::numeric_limits<float>::infinity();
          for (int64_t j = 0; j < s.kvLen; ++j) {
            if (!s.mask.allows(i + s.mask.qOffset, j))
              row[j] = -std::numeric_limits<float>::infinity();
            mx = std::max(mx, row[j]);
          }
          float sum = 0;
          for (int64_t j = 0; j < s.kvLen; ++j)
            sum += row[j] = std::exp(row[j] - mx);
          for (int64_t j = 0; j < s.kvLen; ++j)
            row[j] /= sum;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.queryLen, dv,
                    s.kvLen, 1.0f, scores.data(), s.kvLen, vh, dv, 0.0f,
                    o + bh * s.queryLen * dv, dv);
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < nThreads; ++t)
      pool.emplace_back(worker);
    worker();
    for (auto &th : pool)
      th.join();
  };
  // Timed as attn's kernel is (--cpu-time or wall), so the two compare.
  return cpuTime ? bench::minCpuMs(run, repeats)
                 : bench::medianMs(run, repeats, 1);
}

} // namespace

namespace {

/// The --json lines of one shape (bench/benchschema.py): attn and, when it
/// ran, the OpenBLAS GEMM-softmax-GEMM.
void emitShapeJson(const std::string &text, const AttentionSpec &spec,
                   unsigned nThreads, double ms, double sgemm, double peak,
                   double compileMs, double baseMs, double maxDiff) {
  auto record = [&](const char *impl, double t) {
    return llvm::json::Object{
        {"impl", impl},
        {"case", text},
        {"kind", spec.queryLen == 1 ? "decode" : "prefill"},
        {"ms", t},
        {"shape", bench::shapeJson(spec)},
        {"flops", spec.flops()},
        {"gflops", spec.flops() / t / 1e6},
        {"threads", nThreads}};
  };
  double gflops = spec.flops() / ms / 1e6;
  llvm::json::Object ours = record("attn", ms);
  ours["of_sgemm"] = gflops / sgemm;
  ours["of_peak"] = gflops / peak;
  ours["compile_ms"] = compileMs;
  bench::emitJsonLine(std::move(ours));
  if (baseMs > 0) {
    llvm::json::Object base = record("gemm-softmax-gemm", baseMs);
    base["max_diff"] = maxDiff;
    bench::emitJsonLine(std::move(base));
  }
}

/// The --json lines of the machine and its two ceilings.
void emitCeilingsJson(unsigned nThreads, double sgemm, double peak) {
  const char *isa = bench::isaName(bench::cpuVectorIsa());
  bench::emitJsonLine({{"impl", "attn"},
                       {"case", "device"},
                       {"device", bench::cpuDeviceName(nThreads)},
                       {"threads", nThreads},
                       {"blas", bench::blasCoreReport()},
                       {"fma_isa", isa}});
  bench::emitJsonLine(
      {{"impl", "ceiling"},
       {"case", "ceiling_peak_fma"},
       {"kind", "ceiling"},
       {"label", llvm::formatv("peak FMA ({0}, registers only)", isa).str()},
       {"gflops", peak},
       {"threads", nThreads}});
  bench::emitJsonLine({{"impl", "ceiling"},
                       {"case", "ceiling_sgemm_2048"},
                       {"kind", "ceiling"},
                       {"label", "OpenBLAS sgemm 2048^3"},
                       {"gflops", sgemm},
                       {"threads", nThreads}});
}

/// Times the backward of `spec` (static sizes) on inputs whose O and lse
/// come from the forward; prints (or emits) one line. Returns false on a
/// failure.
bool benchBackward(const std::string &text, AttentionSpec spec,
                   const rt::CompileOptions &co, rt::Runtime &runtime,
                   unsigned nThreads, double sgemm, double peak) {
  spec.returnLse = true;
  auto forward = runtime.compile(spec, rt::Target::Cpu, co);
  auto kernel = runtime.compileBackward(spec, rt::Target::Cpu, co);
  if (!forward || !kernel) {
    llvm::errs() << text << " backward: "
                 << (forward ? llvm::toString(kernel.takeError())
                             : llvm::toString(forward.takeError()))
                 << "\n";
    return false;
  }
  rt::FillOptions fill;
  fill.seed = 42;
  rt::HostBuffers buffers((*kernel)->signature(), fill);
  const rt::AttentionArgs &args = buffers.args();
  llvm::Error runError = (*forward)->run(rt::forwardArgsOf(args));
  auto run = [&] {
    if (runError)
      return;
    if (llvm::Error e = (*kernel)->run(args))
      runError = std::move(e);
  };
  double ms = cpuTime ? bench::minCpuMs(run, reps) : bench::medianMs(run, reps);
  if (runError) {
    llvm::errs() << text << " backward: " << llvm::toString(std::move(runError))
                 << "\n";
    return false;
  }
  double gflops = 2.5 * spec.flops() / ms / 1e6;
  double compileMs = (*kernel)->compileStats().totalMs();
  if (json) {
    bench::emitJsonLine({{"impl", "attn"},
                         {"case", text + " backward"},
                         {"kind", "backward"},
                         {"ms", ms},
                         {"gflops", gflops},
                         {"of_sgemm", gflops / sgemm},
                         {"of_peak", gflops / peak},
                         {"compile_ms", compileMs},
                         {"threads", nThreads}});
    return true;
  }
  std::printf("%-44s %9.2f %9.1f %7.2f %7.2f %10s %8s %7.0fms\n",
              (text + " bwd").c_str(), ms, gflops, gflops / sgemm,
              gflops / peak, "-", "-", compileMs);
  return true;
}

} // namespace

int main(int argc, char **argv) {
  bench::useBestBlasCore(argv);
  llvm::cl::ParseCommandLineOptions(argc, argv, "attn CPU prefill benchmark\n");
  unsigned nThreads = threads ? threads : std::thread::hardware_concurrency();
  std::vector<std::string> specs(shapes.begin(), shapes.end());
  if (specs.empty())
    specs = {"mha:b=8,hq=12,s=1024,d=64,causal",
             "gqa:b=1,hq=32,hkv=8,s=4096,d=128,causal"};

  bench::Progress progress(int(specs.size()) + 1);
  progress.next("ceilings (OpenBLAS sgemm, peak FMA)");
  double sgemm = bench::sgemmGflops(2048, nThreads, cpuTime);
  double peak = bench::fmaPeakGflops(nThreads, cpuTime);
  rt::RuntimeOptions ro;
  ro.numThreads = nThreads;
  rt::Runtime runtime(ro);
  if (json) {
    emitCeilingsJson(nThreads, sgemm, peak);
  } else {
    std::printf("threads %u; %s\n", nThreads, bench::blasCoreReport().c_str());
    std::printf("ceilings: OpenBLAS sgemm 2048^3 %.1f GFLOP/s; peak FMA "
                "(%s, registers only) %.1f GFLOP/s\n",
                sgemm, bench::isaName(bench::cpuVectorIsa()), peak);
    std::printf("%-44s %9s %9s %7s %7s %10s %8s %8s %8s\n", "shape", "attn ms",
                "GFLOP/s", "/sgemm", "/peak", "gemm-sm ms", "speedup",
                "compile", "maxdiff");
  }
  int status = 0;
  for (const std::string &text : specs) {
    progress.next(text);
    std::string error;
    auto spec = parseSpecShorthand(text, error);
    if (!spec) {
      llvm::errs() << "bad shape '" << text << "': " << error << "\n";
      return 2;
    }
    rt::CompileOptions co;
    co.tileRows = tileRows;
    co.tileKv = tileKv;
    co.runTimeSizes = !staticSizes;
    co.bf16Matmul = bf16Matmul;
    auto kernel = runtime.compile(*spec, rt::Target::Cpu, co);
    if (!kernel) {
      llvm::errs() << text << ": " << llvm::toString(kernel.takeError())
                   << "\n";
      return 1;
    }
    rt::FillOptions fill;
    fill.seed = 42;
    rt::HostBuffers buffers((*kernel)->signature(), fill);
    const rt::AttentionArgs &args = buffers.args();
    llvm::Error runError = llvm::Error::success();
    auto run = [&] {
      if (llvm::Error e = (*kernel)->run(args))
        runError = std::move(e);
    };
    double ms =
        cpuTime ? bench::minCpuMs(run, reps) : bench::medianMs(run, reps);
    if (runError) {
      llvm::errs() << text << ": " << llvm::toString(std::move(runError))
                   << "\n";
      return 1;
    }
    double gflops = spec->flops() / ms / 1e6;

    double baseMs = -1, maxDiff = 0;
    bool plain = spec->dtype == ElementType::F32 &&
                 spec->layout == Layout::BHSD && !spec->softcap &&
                 !spec->withKvLengths;
    if (plain && baseline) {
      std::vector<float> base(args.output.numElements());
      baseMs = gemmSoftmaxGemm(*spec, static_cast<float *>(args.query.data),
                               static_cast<float *>(args.key.data),
                               static_cast<float *>(args.value.data),
                               base.data(), nThreads, 3);
      auto *ours = static_cast<float *>(args.output.data);
      for (size_t i = 0; i < base.size(); ++i)
        maxDiff = std::max<double>(maxDiff, std::fabs(base[i] - ours[i]));
      if (!(maxDiff < 1e-3))
        status = 1; // the two must agree; NaN fails too
    }
    double compileMs = (*kernel)->compileStats().totalMs();
    if (json)
      emitShapeJson(text, *spec, nThreads, ms, sgemm, peak, compileMs, baseMs,
                    maxDiff);
    else
      std::printf("%-44s %9.2f %9.1f %7.2f %7.2f %10.2f %8.2f %7.0fms %8.1e\n",
                  text.c_str(), ms, gflops, gflops / sgemm, gflops / peak,
                  baseMs, baseMs > 0 ? baseMs / ms : 0.0, compileMs, maxDiff);
    if (backward &&
        !benchBackward(text, *spec, co, runtime, nThreads, sgemm, peak))
      return 1;
  }
  return status;
}
