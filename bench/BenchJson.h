//===- BenchJson.h - the benchmarks' JSON lines and progress ----*- C++ -*-===//
//
// The JSON-lines schema every benchmark prints with --json (described in
// bench/benchschema.py, which bench/plot.py reads): one object per
// measurement with "impl", "case", "kind", "ms", "shape" (the case's
// parameters, from which plot.py derives FLOPs and bytes), "flops" and
// "bytes". And the progress lines long runs print on stderr (stdout stays
// the table or the JSON other tools parse).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_BENCH_BENCHJSON_H
#define ATTN_BENCH_BENCHJSON_H

#include "dialect/AttentionSpec.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <fstream>
#include <string>

namespace attn::bench {

/// The "shape" object of a case: the parameters benchschema.work() needs.
inline llvm::json::Object shapeJson(const mlir::attn::AttentionSpec &s) {
  return llvm::json::Object{
      {"b", s.batch},
      {"hq", s.numHeads},
      {"hkv", s.numKvHeads},
      {"sq", s.queryLen},
      {"skv", s.kvLen},
      {"d", s.headDim},
      {"dv", s.effectiveValueDim()},
      {"dtype", mlir::attn::stringifyElementType(s.dtype)},
      {"causal", s.mask.causal},
      {"q_offset", s.mask.qOffset},
      {"window_left", s.mask.windowLeft},
      {"window_right", s.mask.windowRight}};
}

/// Prints one JSON line on stdout, flushed (a run cut short keeps its
/// finished lines).
inline void emitJsonLine(llvm::json::Object o) {
  llvm::outs() << llvm::json::Value(std::move(o)) << "\n";
  llvm::outs().flush();
}
inline void emitJsonLine(std::initializer_list<llvm::json::Object::KV> kvs) {
  emitJsonLine(llvm::json::Object(kvs));
}

/// The CPU's model name from /proc/cpuinfo ("" when unknown).
inline std::string cpuModelName() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 2);
    }
  return "";
}

/// "AMD EPYC, 2 threads": the "device" of the CPU benchmarks' JSON.
inline std::string cpuDeviceName(unsigned threads) {
  return cpuModelName() + ", " + std::to_string(threads) +
         (threads == 1 ? " thread" : " threads");
}

/// "[n/N] what (elapsed 12.3 s)" on stderr before each case of a long run.
class Progress {
public:
  explicit Progress(int total)
      : total(total), start(std::chrono::steady_clock::now()) {}
  void next(llvm::StringRef what) {
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    llvm::errs() << llvm::format("[%d/%d] ", ++done, total) << what
                 << llvm::format(" (elapsed %.1f s)\n", s);
    llvm::errs().flush();
  }

private:
  int total, done = 0;
  std::chrono::steady_clock::time_point start;
};

} // namespace attn::bench

#endif
