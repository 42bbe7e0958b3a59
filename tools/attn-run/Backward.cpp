//===- Backward.cpp - attn-run --backward: the gradient kernel ------------===//
//
// Compiles the forward (with lse) and the backward of a shorthand spec (or
// of an MLIR forward that returns its lse), runs
// the forward on random inputs to get O and lse, then the backward with a
// random dO; --check compares dQ, dK, dV with the float64 backward
// reference, --bench times the backward alone (GFLOP/s counted as 2.5x the
// forward's flops, as FlashAttention counts them).
//
//===----------------------------------------------------------------------===//
#include "Backward.h"

#include "runtime/CheckBackward.h"
#include "runtime/HostBuffers.h"
#include "runtime/ReferenceBackward.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

int fail(int code, const llvm::Twine &message) {
  llvm::errs() << "attn-run: error: " << message << "\n";
  return code;
}

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

int attn_run::runBackward(const BackwardRequest &req) {
  AttentionSpec spec = req.spec;
  spec.returnLse = true;
  Runtime &runtime = req.runtime;
  bool mlir = !req.mlirText.empty();
  auto forward =
      mlir ? runtime.compileMlir(req.mlirText, Target::Cpu, req.options)
           : runtime.compile(spec, Target::Cpu, req.options);
  if (!forward)
    return fail(1, "forward: " + llvm::toString(forward.takeError()));
  if (!(*forward)->signature().has(ArgRole::Lse))
    return fail(2, "--backward: the attn.attention must return its lse (the "
                   "backward's input)");
  auto kernel =
      mlir ? runtime.compileBackwardMlir(req.mlirText, Target::Cpu, req.options)
           : runtime.compileBackward(spec, Target::Cpu, req.options);
  if (!kernel)
    return fail(1, llvm::toString(kernel.takeError()));
  const KernelSignature &sig = (*kernel)->signature();
  spec = sig.spec;
  FillOptions fill;
  fill.seed = req.seed;
  HostBuffers buffers(sig, fill);
  const AttentionArgs &args = buffers.args();
  if (llvm::Error e = (*forward)->run(forwardArgsOf(args)))
    return fail(1, "forward: " + llvm::toString(std::move(e)));

  const CompileStats &cs = (*kernel)->compileStats();
  double compileMs = cs.fromDisk ? cs.loadMs : cs.totalMs();
  llvm::json::Object json;
  json["spec"] = spec.key();
  json["backward"] = true;
  json["threads"] = int64_t(runtime.numThreads());
  json["work_items"] = (*kernel)->workItems();
  json["compile_ms"] = compileMs;
  json["seed"] = int64_t(req.seed);
  llvm::raw_ostream &out = llvm::outs();
  if (!req.json)
    out << "spec: " << spec.key()
        << " (backward)\ncompile: " << llvm::format("%.1f", compileMs)
        << " ms, " << (*kernel)->workItems() << " work items, "
        << runtime.numThreads() << " threads\n";
  if (llvm::Error e = (*kernel)->run(args))
    return fail(1, llvm::toString(std::move(e)));

  int status = 0;
  if (req.check) {
    auto ref = referenceAttentionBackward(sig, args);
    if (!ref)
      return fail(1, "--check: " + llvm::toString(ref.takeError()));
    double tol = gradientToleranceFor(dtypeOf(spec.dtype));
    // Gradients start as NaN: an element never written fails here. (The
    // buffers' stray-write check does not apply: the forward wrote the
    // backward's output and lse inputs.)
    GradientReport r = checkGradients(sig, args, *ref, tol);
    status = r.passed ? 0 : 1;
    json["check"] = llvm::json::Object{
        {"passed", r.passed},  {"dq_err", r.dqError},
        {"dk_err", r.dkError}, {"dv_err", r.dvError},
        {"tolerance", tol},    {"first_failure", r.firstFailure}};
    if (!req.json)
      out << "check: seed " << req.seed << ": " << r.summary() << " (tolerance "
          << llvm::format("%g", tol) << ")\n";
  }
  if (req.bench) {
    std::vector<double> times;
    for (uint64_t i = 0; i < req.warmup + std::max<uint64_t>(1, req.runs);
         ++i) {
      auto start = std::chrono::steady_clock::now();
      if (llvm::Error e = (*kernel)->run(args))
        return fail(1, llvm::toString(std::move(e)));
      if (i >= req.warmup)
        times.push_back(msSince(start));
    }
    std::sort(times.begin(), times.end());
    size_t n = times.size();
    double ms = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    double gflops = 2.5 * spec.flops() / (ms * 1e6);
    json["bench"] = llvm::json::Object{
        {"time_ms", ms}, {"gflops", gflops}, {"runs", int64_t(n)}};
    if (!req.json)
      out << "bench: " << llvm::format("%.3f", ms) << " ms (median of " << n
          << "), " << llvm::format("%.1f", gflops)
          << " GFLOP/s (2.5 x the forward's flops)\n";
  }
  if (req.json)
    out << llvm::formatv("{0:2}", llvm::json::Value(std::move(json))) << "\n";
  return status;
}
