//===- attn-run.cpp - compile, run, check and time one attention ---------===//
//
//   attn-run [options] SPEC
//
// SPEC is an .mlir file holding one attn.attention in a function, or the
// shorthand `gqa:b=1,hq=32,hkv=8,s=1024,d=128,causal`. Exit codes: 0 fine,
// 1 compile/run failure or a failed --check, 2 bad command line or spec.
//
//===----------------------------------------------------------------------===//
#include "Backward.h"

#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/KernelBuilder.h"
#include "runtime/Reference.h"
#include "runtime/Runtime.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <unistd.h>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

const char *kUsage = R"(usage: attn-run [options] SPEC

SPEC is an .mlir file with one attn.attention in a function, or the
shorthand KIND:key=value,... (e.g. gqa:b=1,hq=32,hkv=8,s=1024,d=128,causal).

options:
  --target=cpu|cuda   where to run (default cpu); cuda compiles PTX with the
                      attn-to-nvvm pipeline, runs on device 0 (host buffers
                      staged through device copies; --bench times device
                      copies with CUDA events)
  --check             compare with the float64 reference; exit 1 past the
                      dtype's tolerance
  --seed=N            input seed (default: time-based, printed)
  --bench             time the kernel: warm up, then the median of --runs
  --runs=N            timed runs (default 10)
  --warmup=N          untimed runs before timing (default 2)
  --json              print one JSON object instead of text
  --threads=N         threads (default: all hardware threads)
  --tile-rows=N       query rows per work item (default 64)
  --tile-kv=N         keys per KV tile (default 64)
  --vector-width=N    f32 lanes per vector, 0: the host's (default 0)
  --dump-binary=FILE  (cuda) write the kernel's PTX (or cubin) to FILE
  --cpu=NAME          generate code for this LLVM CPU instead of the host
                      (e.g. x86-64-v3 for AVX2; native: the host); the host
                      must support it
  --backward          (cpu) the backward instead: the forward makes O and
                      lse, then dQ, dK, dV from a random dO; --check against
                      the float64 backward, --bench counts 2.5x the
                      forward's flops. An .mlir SPEC must return the lse;
                      its score_mod is differentiated at compile time
  --static-sizes      specialise the kernel to the spec's batch and
                      lengths; default: the kernel of run-time sizes that
                      serves every batch and length (Sq = 1 stays static;
                      cuda: not with sinks, dropout or MLIR input)
)";

struct Options {
  std::string spec;
  std::string target = "cpu";
  std::string cpu;
  std::string dumpBinary;
  bool check = false, bench = false, json = false, staticSizes = false,
       backward = false;
  std::optional<uint64_t> seed;
  uint64_t runs = 10, warmup = 2, threads = 0;
  int64_t tileRows = 64, tileKv = 64, vectorWidth = 0;
};

/// Parses argv; on error sets `error` to a one-line message naming the
/// option. llvm::cl is not used: its global registry already holds LLVM's
/// own options (e.g. --threads), which would collide.
std::optional<Options> parseOptions(int argc, char **argv, std::string &error) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (!arg.starts_with("-")) {
      if (!o.spec.empty()) {
        error = "more than one SPEC ('" + o.spec + "', '" + arg.str() + "')";
        return std::nullopt;
      }
      o.spec = arg.str();
      continue;
    }
    auto [name, value] = arg.ltrim('-').split('=');
    bool hasValue = arg.contains('=');
    auto number = [&](auto &field) {
      if (!hasValue || value.getAsInteger(10, field)) {
        error = "bad value '" + value.str() + "' for --" + name.str() +
                " (expected an integer)";
        return false;
      }
      return true;
    };
    auto flag = [&](bool &field) {
      if (hasValue) {
        error = "--" + name.str() + " takes no value";
        return false;
      }
      field = true;
      return true;
    };
    bool ok = true;
    if (name == "help" || name == "h") {
      llvm::outs() << kUsage;
      std::exit(0);
    } else if (name == "target") {
      o.target = value.str();
    } else if (name == "cpu") {
      // `native` (as in clang's -march=native) is the host: no override.
      o.cpu = value == "native" ? "" : value.str();
    } else if (name == "check") {
      ok = flag(o.check);
    } else if (name == "bench") {
      ok = flag(o.bench);
    } else if (name == "backward") {
      ok = flag(o.backward);
    } else if (name == "static-sizes") {
      ok = flag(o.staticSizes);
    } else if (name == "json") {
      ok = flag(o.json);
    } else if (name == "seed") {
      uint64_t seed;
      ok = number(seed);
      o.seed = seed;
    } else if (name == "runs") {
      ok = number(o.runs);
    } else if (name == "warmup") {
      ok = number(o.warmup);
    } else if (name == "dump-binary") {
      o.dumpBinary = value.str();
    } else if (name == "threads") {
      ok = number(o.threads);
    } else if (name == "tile-rows") {
      ok = number(o.tileRows);
    } else if (name == "tile-kv") {
      ok = number(o.tileKv);
    } else if (name == "vector-width") {
      ok = number(o.vectorWidth);
    } else {
      error = "unknown option '" + arg.str() + "' (see --help)";
      return std::nullopt;
    }
    if (!ok)
      return std::nullopt;
  }
  if (o.spec.empty()) {
    error = "no SPEC given (see --help)";
    return std::nullopt;
  }
  if (o.threads > 4096) {
    error = "bad value for --threads (at most 4096)";
    return std::nullopt;
  }
  return o;
}

int fail(int code, const llvm::Twine &message) {
  llvm::errs() << "attn-run: error: " << message << "\n";
  return code;
}

/// Host bytes a run takes: the buffers (held once, with guards) and, with
/// --check, the float64 reference; nullopt on int64 overflow.
std::optional<int64_t> runBytes(const KernelSignature &sig, bool check) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t buffers = HostBuffers::bytesFor(sig, FillOptions{});
  int64_t reference = check ? referenceBytes(sig) : 0;
  int64_t total;
  if (buffers == kMax || reference == kMax ||
      __builtin_add_overflow(buffers, reference, &total))
    return std::nullopt;
  return total;
}

double physicalMemoryBytes() {
  return double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Spec {
  std::optional<AttentionSpec> shorthand;
  std::string mlirText;
  KernelSignature signature;
};

/// Parses SPEC; on failure prints the error and returns nullopt.
std::optional<Spec> loadSpec(llvm::StringRef arg) {
  Spec spec;
  bool isFile = arg.ends_with(".mlir") || !arg.contains(':');
  if (!isFile) {
    std::string error;
    spec.shorthand = parseSpecShorthand(arg, error);
    if (!spec.shorthand) {
      fail(2, "invalid spec: " + error);
      return std::nullopt;
    }
    spec.signature = signatureForSpec(*spec.shorthand);
    return spec;
  }
  auto file = llvm::MemoryBuffer::getFile(arg);
  if (!file) {
    fail(2, "cannot read '" + arg + "': " + file.getError().message() +
                " (SPEC is an .mlir file or KIND:key=value,...)");
    return std::nullopt;
  }
  spec.mlirText = (*file)->getBuffer().str();
  // Parse here too, so that a malformed file is a spec error (exit 2)
  // rather than a compile failure.
  mlir::DialectRegistry registry;
  registerRuntimeDialects(registry);
  mlir::MLIRContext ctx(registry, mlir::MLIRContext::Threading::DISABLED);
  ctx.printOpOnDiagnostic(false);
  auto km = buildKernelModule(&ctx, spec.mlirText);
  if (!km) {
    fail(2, "invalid spec '" + arg + "': " + llvm::toString(km.takeError()));
    return std::nullopt;
  }
  spec.signature = km->signature;
  return spec;
}

/// Refuses a spec attn-run cannot run here: run-time sizes, or buffers
/// (and the float64 reference) past 0.8 x the machine's memory. Returns 0,
/// or the exit code after printing why.
int checkRunnable(const Spec &spec, const Options &opts) {
  if (spec.signature.spec.hasDynamicSizes())
    return fail(2, "attn-run runs one call: give the batch and lengths "
                   "(b, sq, skv) as numbers; the kernel takes them at run "
                   "time anyway (--static-sizes: not)");
  std::optional<int64_t> bytes = runBytes(spec.signature, opts.check);
  if (!bytes || double(*bytes) > 0.8 * physicalMemoryBytes())
    return fail(2, std::string("the spec's buffers") +
                       (opts.check ? " and the float64 reference" : "") +
                       " need " +
                       (bytes ? std::to_string(*bytes >> 20) + " MiB"
                              : std::string("more than 2^63 bytes")) +
                       ", more than this machine can hold");
  return 0;
}

CompileOptions compileOptionsOf(const Options &opts) {
  CompileOptions options;
  options.tileRows = opts.tileRows;
  options.tileKv = opts.tileKv;
  options.vectorWidth = opts.vectorWidth;
  options.cpu = opts.cpu;
  options.runTimeSizes = !opts.staticSizes;
  return options;
}

llvm::Expected<KernelRef> compileKernel(Runtime &runtime, const Spec &spec,
                                        Target target, const Options &opts) {
  CompileOptions options = compileOptionsOf(opts);
  return spec.shorthand ? runtime.compile(*spec.shorthand, target, options)
                        : runtime.compileMlir(spec.mlirText, target, options);
}

/// What this process spent compiling: a disk cache hit reports its load
/// time.
double compileMsOf(const Kernel &kernel) {
  const CompileStats &cs = kernel.compileStats();
  return cs.fromDisk ? cs.loadMs : cs.totalMs();
}

/// The compile's JSON fields and (without --json) its text line.
void reportCompile(const Kernel &kernel, const Spec &spec, const Options &opts,
                   Target target, unsigned threads, uint64_t seed,
                   llvm::json::Object &json) {
  const CompileStats &cs = kernel.compileStats();
  std::string name = spec.shorthand ? spec.signature.spec.key() : opts.spec;
  double compileMs = compileMsOf(kernel);
  json["spec"] = name;
  json["target"] = stringifyTarget(target);
  json["threads"] = int64_t(threads);
  json["work_items"] = kernel.workItems();
  if (target == Target::Cuda)
    json["launches"] = kernel.gpuLaunchPlan();
  json["compile_ms"] = compileMs;
  json["disk_cache_hit"] = cs.fromDisk;
  json["seed"] = int64_t(seed);
  if (opts.json)
    return;
  llvm::raw_ostream &out = llvm::outs();
  out << "spec: " << name << "\ncompile: " << llvm::format("%.1f", compileMs)
      << (cs.fromDisk
              ? " ms (disk cache hit; compiled in " +
                    llvm::formatv("{0:f1}", cs.totalMs()).str() + " ms: "
              : std::string(" ms ("))
      << "build " << llvm::format("%.1f", cs.buildMs) << ", lower "
      << llvm::format("%.1f", cs.lowerMs) << ", jit "
      << llvm::format("%.1f", cs.jitMs) << "), "
      << (target == Target::Cuda
              ? kernel.gpuLaunchPlan() + " (PTX/cubin " +
                    std::to_string(kernel.gpuBinary().size()) + " bytes)\n"
              : std::to_string(kernel.workItems()) + " work items, " +
                    std::to_string(threads) + " threads\n");
  out.flush(); // the compile line, even if running fails
}

/// --check: the run's outputs (already computed in `buffers`) against the
/// float64 reference, and no write outside them. Returns whether they
/// passed, or why the reference could not be computed.
llvm::Expected<bool> runCheck(const Kernel &kernel, HostBuffers &buffers,
                              const Options &opts, uint64_t seed,
                              llvm::json::Object &json) {
  auto ref = referenceAttention(kernel.signature(), buffers.args());
  if (!ref)
    return ref.takeError();
  Tolerance tol = toleranceFor(dtypeOf(kernel.signature().spec.dtype));
  CheckReport report =
      checkAgainstReference(kernel.signature(), buffers.args(), *ref, tol);
  if (std::string stray = buffers.strayWrites(); !stray.empty()) {
    report.passed = false;
    report.firstFailure = stray;
  }
  json["check"] = llvm::json::Object{{"passed", report.passed},
                                     {"max_abs_err", report.maxAbsError},
                                     {"max_rel_err", report.maxRelError},
                                     {"lse_err", report.maxLseError},
                                     {"tolerance", tol.output},
                                     {"lse_tolerance", tol.lse},
                                     {"first_failure", report.firstFailure}};
  if (!opts.json)
    llvm::outs() << "check: seed " << seed << ": " << report.summary()
                 << " (tolerance " << llvm::format("%g", tol.output) << ", lse "
                 << llvm::format("%g", tol.lse) << ")\n";
  return report.passed;
}

/// Times --runs runs after --warmup: CUDA events on device copies of the
/// inputs (staging copies are not the kernel's time), wall time on the CPU.
llvm::Expected<std::vector<double>> timeRuns(const Kernel &kernel,
                                             HostBuffers &buffers,
                                             const Options &opts,
                                             Target target) {
  if (target == Target::Cuda)
    return kernel.timeOnDevice(
        buffers.args(), int(opts.warmup),
        int(std::max<uint64_t>(1, std::min<uint64_t>(opts.runs, 100000))));
  std::vector<double> times;
  for (uint64_t i = 0; i < opts.warmup; ++i)
    if (llvm::Error e = kernel.run(buffers.args()))
      return std::move(e);
  for (uint64_t i = 0; i < std::max<uint64_t>(1, opts.runs); ++i) {
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error e = kernel.run(buffers.args()))
      return std::move(e);
    times.push_back(std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count());
  }
  return times;
}

/// --bench: the median time, GFLOP/s and GB/s. Returns the exit code.
int runBench(const Kernel &kernel, HostBuffers &buffers, const Options &opts,
             Target target, llvm::json::Object &json) {
  auto times = timeRuns(kernel, buffers, opts, target);
  if (!times)
    return fail(1, llvm::toString(times.takeError()));
  double ms = median(*times);
  double gflops = kernel.signature().spec.flops() / (ms * 1e6);
  double gbps = double(buffers.qkvoBytes()) / (ms * 1e6);
  json["bench"] = llvm::json::Object{{"time_ms", ms},
                                     {"gflops", gflops},
                                     {"gbytes_per_s", gbps},
                                     {"runs", int64_t(times->size())}};
  if (!opts.json)
    llvm::outs() << "bench: " << llvm::format("%.3f", ms) << " ms (median of "
                 << times->size() << "), " << llvm::format("%.1f", gflops)
                 << " GFLOP/s, " << llvm::format("%.2f", gbps)
                 << " GB/s (q+k+v+out), compile "
                 << llvm::format("%.1f", compileMsOf(kernel)) << " ms\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string usageError;
  std::optional<Options> opts = parseOptions(argc, argv, usageError);
  if (!opts)
    return fail(2, usageError);
  std::optional<Target> target = parseTarget(opts->target);
  if (!target)
    return fail(2, "bad value '" + opts->target +
                       "' for --target (expected cpu or cuda)");
  std::optional<Spec> spec = loadSpec(opts->spec);
  if (!spec)
    return 2;
  if (int code = checkRunnable(*spec, *opts))
    return code;

  RuntimeOptions runtimeOptions;
  runtimeOptions.numThreads = static_cast<unsigned>(opts->threads);
  Runtime runtime(runtimeOptions);
  uint64_t seed =
      opts->seed
          ? *opts->seed
          : static_cast<uint64_t>(
                std::chrono::system_clock::now().time_since_epoch().count());
  if (opts->backward) {
    if (*target != Target::Cpu)
      return fail(2, "--backward runs on the cpu target only");
    return attn_run::runBackward(
        {spec->shorthand ? *spec->shorthand : spec->signature.spec,
         spec->mlirText, compileOptionsOf(*opts), runtime, seed, opts->check,
         opts->bench, opts->json, opts->runs, opts->warmup});
  }
  llvm::Expected<KernelRef> kernel =
      compileKernel(runtime, *spec, *target, *opts);
  if (!kernel)
    return fail(1, llvm::toString(kernel.takeError()));
  if (!opts->dumpBinary.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream file(opts->dumpBinary, ec);
    if (ec)
      return fail(2,
                  "cannot write '" + opts->dumpBinary + "': " + ec.message());
    file << (*kernel)->gpuBinary();
  }

  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers((*kernel)->signature(), fill);
  llvm::json::Object json;
  reportCompile(**kernel, *spec, *opts, *target, runtime.numThreads(), seed,
                json);
  if (llvm::Error e = (*kernel)->run(buffers.args()))
    return fail(1, llvm::toString(std::move(e)));
  int status = 0;
  if (opts->check) {
    llvm::Expected<bool> passed =
        runCheck(**kernel, buffers, *opts, seed, json);
    if (!passed)
      return fail(1, "--check: " + llvm::toString(passed.takeError()));
    status = *passed ? 0 : 1;
  }
  if (opts->bench)
    if (int code = runBench(**kernel, buffers, *opts, *target, json))
      return code;
  if (opts->json)
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(json)))
                 << "\n";
  return status;
}
