//===- compile_latency_bench.cpp - cold compile, disk hit, memory hit -----===//
//
// For each spec and target, in one process:
//   cold    a fresh Runtime on an empty cache directory compiles it
//           (after one untimed compile of another spec, so process-wide
//           initialisation is not counted; the first line reports it)
//   disk    a fresh Runtime on the same directory loads it
//   memory  the same Runtime asks again (median of 1000)
// with the cold compile split into build / passes / LLVM IR -O3 / codegen
// + link. Goals (issue 11): cold <= 300 ms CPU, <= 500 ms GPU; disk <= 5 ms;
// memory <= 10 us. Every figure is the median over --runs fresh
// directories.
//
//   attn-bench-compile-latency [--runs=3] [--target=cpu|cuda|both]
//                              [--spec=SHORTHAND]... [--json]
//
//===----------------------------------------------------------------------===//
#include "runtime/Runtime.h"

#include "dialect/AttentionSpec.h"
#include "llvm/IR/PassTimingInfo.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

llvm::cl::opt<int> runs("runs", llvm::cl::desc("fresh directories per spec"),
                        llvm::cl::init(3));
llvm::cl::opt<std::string> targetOpt("target",
                                     llvm::cl::desc("cpu, cuda or both"),
                                     llvm::cl::init("both"));
llvm::cl::list<std::string> specOpts("spec",
                                     llvm::cl::desc("attention shorthand"));
llvm::cl::opt<bool> json("json", llvm::cl::desc("one JSON object per line"));

const char *kDefaultSpecs[] = {
    "gqa:b=1,hq=32,hkv=8,s=1024,d=128,causal",
    "mha:b=8,h=12,s=1024,d=64,causal",
    "gqa:b=16,hq=32,hkv=8,sq=1,skv=4096,d=128,ragged",
    "gqa:b=1,hq=32,hkv=8,s=2048,d=128,dtype=bf16,causal",
};

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t)
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// CPU time of the calling thread (compiles run on it): on a shared
/// machine the wall time also counts other processes' turns.
double threadCpuMs() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

struct Row {
  double coldCpuMs, coldMs, diskMs, memoryUs, buildMs, lowerMs, optMs,
      codegenMs;
  size_t entryBytes;
};

std::string freshDir() {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("attn-compile-latency", dir))
    return "";
  return std::string(dir);
}

size_t dirBytes(const std::string &dir) {
  size_t total = 0;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    uint64_t size = 0;
    if (!llvm::sys::fs::file_size(it->path(), size))
      total += size;
  }
  return total;
}

bool measureIn(const std::string &dir, const AttentionSpec &spec,
               Target target, Row &row);

/// One measurement of `spec` on `target` in a fresh directory, removed
/// afterwards; false (with a message) on error.
bool measure(const AttentionSpec &spec, Target target, Row &row) {
  std::string dir = freshDir();
  bool ok = measureIn(dir, spec, target, row);
  (void)llvm::sys::fs::remove_directories(dir);
  return ok;
}

bool measureIn(const std::string &dir, const AttentionSpec &spec,
               Target target, Row &row) {
  RuntimeOptions options(1);
  options.cacheDir = dir;
  auto start = std::chrono::steady_clock::now();
  double cpuStart = threadCpuMs();
  Runtime cold(options);
  auto k = cold.compile(spec, target);
  row.coldMs = msSince(start);
  row.coldCpuMs = threadCpuMs() - cpuStart;
  if (!k) {
    llvm::errs() << spec.key() << ": " << llvm::toString(k.takeError()) << "\n";
    return false;
  }
  const CompileStats &s = (*k)->compileStats();
  row.buildMs = s.buildMs;
  row.lowerMs = s.lowerMs;
  row.optMs = s.optMs;
  row.codegenMs = s.jitMs - s.optMs;
  row.entryBytes = dirBytes(dir);
  start = std::chrono::steady_clock::now();
  Runtime warm(options);
  auto loaded = warm.compile(spec, target);
  row.diskMs = msSince(start);
  if (!loaded || warm.cacheStats().diskHits != 1) {
    llvm::errs() << spec.key() << ": no disk hit\n";
    if (!loaded)
      llvm::consumeError(loaded.takeError());
    return false;
  }
  std::vector<double> hits;
  for (int i = 0; i < 1000; ++i) {
    auto t = std::chrono::steady_clock::now();
    auto again = warm.compile(spec, target);
    hits.push_back(msSince(t) * 1000);
    if (!again) {
      llvm::consumeError(again.takeError());
      return false;
    }
  }
  row.memoryUs = median(hits);
  return true;
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "attn compile latency: cold, disk, memory");
  std::vector<std::string> specs(specOpts.begin(), specOpts.end());
  if (specs.empty())
    specs.assign(std::begin(kDefaultSpecs), std::end(kDefaultSpecs));
  std::vector<Target> targets;
  if (targetOpt == "cpu" || targetOpt == "both")
    targets.push_back(Target::Cpu);
  if (targetOpt == "cuda" || targetOpt == "both")
    targets.push_back(Target::Cuda);

  // Process-wide initialisation (LLVM targets, dialect registry): the first
  // compile of a process pays it once.
  {
    std::string err;
    AttentionSpec warmup = *parseSpecShorthand("mha:b=1,h=1,s=8,d=64", err);
    RuntimeOptions options(1);
    options.cacheDir = "off";
    Runtime runtime(options);
    auto start = std::chrono::steady_clock::now();
    auto k = runtime.compile(warmup);
    if (!k) {
      llvm::errs() << llvm::toString(k.takeError()) << "\n";
      return 1;
    }
    if (!json)
      llvm::outs() << "first compile in the process (mha s=8, cpu): "
                   << llvm::format("%.1f", msSince(start)) << " ms\n";
  }
  if (!json)
    llvm::outs() << llvm::format(
        "%-6s %-52s %9s %8s %8s %9s | %6s %7s %7s %8s %9s\n", "target", "spec",
        "cold ms", "cold cpu", "disk ms", "memory us", "build", "passes",
        "llvm-O3", "codegen", "entry KB");
  bool failed = false;
  for (Target target : targets)
    for (const std::string &text : specs) {
      std::string err;
      auto spec = parseSpecShorthand(text, err);
      if (!spec) {
        llvm::errs() << text << ": " << err << "\n";
        return 2;
      }
      // The GPU kernels take f16/bf16: an f32 spec runs as bf16 there.
      if (target == Target::Cuda && spec->dtype == ElementType::F32)
        spec->dtype = ElementType::BF16;
      std::vector<Row> rows;
      for (int i = 0; i < runs; ++i) {
        Row r;
        if (!measure(*spec, target, r)) {
          failed = true;
          break;
        }
        rows.push_back(r);
      }
      if (rows.empty())
        continue;
      auto med = [&](double Row::*f) {
        std::vector<double> v;
        for (const Row &r : rows)
          v.push_back(r.*f);
        return median(v);
      };
      const char *tgt = target == Target::Cuda ? "cuda" : "cpu";
      std::string shown = target == Target::Cuda ? spec->key() : text;
      if (json) {
        llvm::json::Object o{{"target", tgt},
                             {"spec", shown},
                             {"cold_ms", med(&Row::coldMs)},
                             {"cold_cpu_ms", med(&Row::coldCpuMs)},
                             {"disk_ms", med(&Row::diskMs)},
                             {"memory_us", med(&Row::memoryUs)},
                             {"build_ms", med(&Row::buildMs)},
                             {"passes_ms", med(&Row::lowerMs)},
                             {"llvm_opt_ms", med(&Row::optMs)},
                             {"codegen_ms", med(&Row::codegenMs)},
                             {"entry_bytes", int64_t(rows[0].entryBytes)}};
        llvm::outs() << llvm::json::Value(std::move(o)) << "\n";
      } else {
        llvm::outs() << llvm::format(
            "%-6s %-52s %9.1f %8.1f %8.2f %9.2f | %6.1f %7.1f %7.1f %8.1f "
            "%9.1f\n",
            tgt, shown.c_str(), med(&Row::coldMs), med(&Row::coldCpuMs),
            med(&Row::diskMs), med(&Row::memoryUs), med(&Row::buildMs),
            med(&Row::lowerMs), med(&Row::optMs), med(&Row::codegenMs),
            rows[0].entryBytes / 1024.0);
      }
      llvm::outs().flush();
    }
  // --time-passes (an LLVM option): the per-pass report of the compiles.
  llvm::reportAndResetTimings(&llvm::errs());
  return failed ? 1 : 0;
}
