//===- attn-import-onnx.cpp - ONNX model -> attn MLIR, or run it ----------===//
//
//   attn-import-onnx [options] MODEL.onnx
//
// Imports the model (static shapes) into a func on linalg/tensor/arith,
// runs attn-raise-attention (unless --no-raise) and prints the module, or
// with --run JIT-compiles it for the CPU and runs it on .npy inputs,
// optionally comparing with expected outputs; the raised attention runs as
// the runtime's kernels, on --threads CPU threads or (--target=cuda) on
// the GPU. Every failure is one line on stderr and a non-zero exit (1:
// model, run or check; 2: command line); -o and --output are written only
// on success (exit 0), and --run reads and checks every --input and
// --expect file before it runs anything.
//
//===----------------------------------------------------------------------===//
#include "tools/attn-import-onnx/Importer.h"
#include "tools/attn-import-onnx/ModelRunner.h"
#include "tools/attn-import-onnx/Npy.h"

#include "passes/Passes.h"
#include "runtime/Buffer.h"
#include "runtime/DiagnosticCapture.h"
#include "runtime/Errors.h"
#include "runtime/KernelBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <random>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {

const char *kUsage = R"(usage: attn-import-onnx [options] MODEL.onnx

Imports an ONNX model of static shapes into MLIR (func + linalg/tensor/
arith, weights as dense constants), raises naive attention to
attn.attention, and prints the module.

options:
  -o FILE            write the MLIR to FILE (default: stdout; not with --run)
  --no-raise         skip attn-raise-attention (print or run the naive graph
                     through upstream lowering)
  --run              JIT-compile the model for the CPU and run it
  --input=FILE.npy   an input for --run, one per graph input in order
                     (default: seeded N(0, 1) floats, false/0 otherwise)
  --output=PREFIX    write the outputs to PREFIX.out<i>.npy (only when the
                     run succeeds and every --expect passes)
  --expect=FILE.npy  compare output <i> (i-th --expect) with FILE; exit 1
                     past |out - ref| <= atol + rtol |ref| (NaN fails)
  --atol=X --rtol=Y  tolerances (default 1e-5 and 1e-4: f32; with
                     --target=cuda 2e-2 and 2e-2: f16/bf16 attention)
  --bench            time calls: --warmup=N (2) untimed, then the median of
                     --runs=N (10)
  --threads=N        threads of the attention kernels (default 1; the rest
                     of the graph runs on one thread)
  --target=cpu|cuda  where the raised attention runs (cuda: attn's GPU
                     kernels, the rest of the graph on the CPU, buffers
                     copied to the device and back; see docs/onnx.md)
  --gpu-dtype=f16|bf16  (cuda) the attention's element type for f32
                     models (default f16)
  --gpu-format=isa|bin  (cuda) PTX (default) or cubin through ptxas
  --gpu-chip=sm_XX   (cuda) NVVM chip (default: the runtime's choice)
  --dump-binary=PREFIX  (cuda) write attention i's PTX/cubin to
                     PREFIX.<i>.ptx (.cubin) before running
  --tile-rows=N --tile-kv=N   attn-to-cpu tile sizes (default 64)
)";

struct Options {
  std::string model, out = "-", outputPrefix, target = "cpu";
  std::string gpuDtype = "f16", gpuFormat = "isa", gpuChip, dumpBinary;
  std::vector<std::string> inputs, expects;
  bool raise = true, run = false, bench = false, tolGiven = false;
  double atol = 1e-5, rtol = 1e-4;
  int64_t runs = 10, warmup = 2, tileRows = 64, tileKv = 64, threads = 1;
};

std::optional<Options> parseOptions(int argc, char **argv, std::string &err) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "-o") {
      if (++i == argc) {
        err = "-o needs a file";
        return std::nullopt;
      }
      o.out = argv[i];
      continue;
    }
    if (!arg.starts_with("-")) {
      if (!o.model.empty()) {
        err = "more than one model ('" + o.model + "', '" + arg.str() + "')";
        return std::nullopt;
      }
      o.model = arg.str();
      continue;
    }
    auto [name, value] = arg.ltrim('-').split('=');
    bool has = arg.contains('=');
    // Every bad value: "bad value 'V' for --NAME (what it takes)".
    auto bad = [&](const std::string &takes) {
      err = "bad value '" + value.str() + "' for --" + name.str() + " (" +
            takes + ")";
      return false;
    };
    auto num = [&](int64_t &f, int64_t lo, int64_t hi) {
      if (!has || value.getAsInteger(10, f) || f < lo || f > hi)
        return bad(std::to_string(lo) + " to " + std::to_string(hi));
      return true;
    };
    auto real = [&](double &f) {
      o.tolGiven = true;
      if (!has || value.getAsDouble(f) || !(f >= 0) || std::isinf(f))
        return bad("a number >= 0");
      return true;
    };
    auto oneOf = [&](std::string &f,
                     std::initializer_list<llvm::StringRef> values) {
      if (!has || !llvm::is_contained(values, value))
        return bad(llvm::join(values, " or "));
      f = value.str();
      return true;
    };
    auto file = [&](std::string &f) {
      if (!has || value.empty())
        return bad("a file name");
      f = value.str();
      return true;
    };
    bool ok = true;
    if (name == "help" || name == "h") {
      llvm::outs() << kUsage;
      std::exit(0);
    } else if (name == "no-raise" && !has) {
      o.raise = false;
    } else if (name == "run" && !has) {
      o.run = true;
    } else if (name == "bench" && !has) {
      o.bench = o.run = true;
    } else if (name == "input") {
      ok = file(o.inputs.emplace_back());
    } else if (name == "expect") {
      ok = file(o.expects.emplace_back());
    } else if (name == "output") {
      ok = file(o.outputPrefix);
    } else if (name == "dump-binary") {
      ok = file(o.dumpBinary);
    } else if (name == "target") {
      ok = oneOf(o.target, {"cpu", "cuda"});
    } else if (name == "gpu-dtype") {
      ok = oneOf(o.gpuDtype, {"f16", "bf16"});
    } else if (name == "gpu-format") {
      ok = oneOf(o.gpuFormat, {"isa", "bin"});
    } else if (name == "gpu-chip") {
      ok = has && value.starts_with("sm_") ? (o.gpuChip = value.str(), true)
                                           : bad("sm_XX");
    } else if (name == "atol") {
      ok = real(o.atol);
    } else if (name == "rtol") {
      ok = real(o.rtol);
    } else if (name == "threads") {
      ok = num(o.threads, 1, 1024);
    } else if (name == "runs") {
      ok = num(o.runs, 1, 1000000);
    } else if (name == "warmup") {
      ok = num(o.warmup, 0, 1000000);
    } else if (name == "tile-rows") {
      ok = num(o.tileRows, 1, 4096);
    } else if (name == "tile-kv") {
      ok = num(o.tileKv, 1, 4096);
    } else {
      err = "unknown option '" + arg.str() + "' (see --help)";
      return std::nullopt;
    }
    if (!ok)
      return std::nullopt;
  }
  if (o.model.empty()) {
    err = "no model given (see --help)";
    return std::nullopt;
  }
  if ((!o.inputs.empty() || !o.expects.empty() || !o.outputPrefix.empty() ||
       !o.dumpBinary.empty()) &&
      !o.run) {
    err = "--input, --expect, --output and --dump-binary need --run";
    return std::nullopt;
  }
  // --run prints no module, so a -o file would silently stay unwritten.
  if (o.run && o.out != "-") {
    err = "-o writes the printed module, which --run does not print; write "
          "a run's outputs with --output=PREFIX";
    return std::nullopt;
  }
  if (!o.dumpBinary.empty() && o.target != "cuda") {
    err = "--dump-binary needs --target=cuda";
    return std::nullopt;
  }
  // The GPU kernels are f16/bf16: an f32 model's attention is rounded.
  if (o.target == "cuda" && !o.tolGiven)
    o.atol = o.rtol = 2e-2;
  return o;
}

/// Prints `e` on stderr as one line ("attn-import-onnx: ..."; a message
/// of several lines, such as joined errors, is folded); returns 1.
int fail(llvm::Error e) {
  std::string msg = llvm::toString(std::move(e));
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  llvm::outs().flush();
  llvm::errs() << "attn-import-onnx: " << msg << "\n";
  return 1;
}

/// The buffer of input `port`: from its .npy file, or seeded values.
llvm::Expected<std::vector<char>>
inputData(const Port &port, const std::string *file, std::mt19937_64 &rng) {
  std::vector<char> bytes(port.bytes(), 0);
  if (!file) {
    if (port.elem == Elem::F32) {
      std::normal_distribution<float> dist(0.0f, 1.0f);
      auto *p = reinterpret_cast<float *>(bytes.data());
      for (int64_t i = 0; i < port.numElements(); ++i)
        p[i] = dist(rng);
    }
    return bytes;
  }
  auto npy = readNpy(*file);
  if (!npy)
    return npy.takeError();
  if (npy->descr != port.npyDescr() ||
      llvm::ArrayRef<int64_t>(npy->shape) != llvm::ArrayRef(port.shape))
    return rt::makeError(
        llvm::formatv("input '{0}': {1} is {2} {3}, the model takes {4} {5}",
                      port.name, *file, rt::shapeString(npy->shape), npy->descr,
                      rt::shapeString(port.shape), port.npyDescr())
            .str());
  return std::move(npy->bytes);
}

/// The reference for output `port` (f32) from the .npy at `file`.
llvm::Expected<NpyArray> expectedOutput(const Port &port,
                                        const std::string &file) {
  auto ref = readNpy(file);
  if (!ref)
    return ref.takeError();
  if (port.elem != Elem::F32 || ref->descr != "<f4" ||
      llvm::ArrayRef<int64_t>(ref->shape) != llvm::ArrayRef(port.shape))
    return rt::makeError(
        llvm::formatv("output '{0}': {1} is {2} {3}, the model computes {4} "
                      "{5} (f32 outputs are compared)",
                      port.name, file, rt::shapeString(ref->shape), ref->descr,
                      rt::shapeString(port.shape), port.npyDescr())
            .str());
  return std::move(*ref);
}

/// What --run reads (inputs, references), all checked against the model
/// before anything runs or is written.
struct RunFiles {
  std::vector<std::vector<char>> inputs;
  std::vector<NpyArray> expects;
};

llvm::Expected<RunFiles> readRunFiles(const CompiledModel &model,
                                      const Options &o) {
  const auto &ins = model.inputs();
  const auto &outs = model.outputs();
  if (!o.inputs.empty() && o.inputs.size() != ins.size())
    return rt::makeError(llvm::formatv("{0} --input files for {1} graph inputs",
                                       o.inputs.size(), ins.size())
                             .str());
  if (o.expects.size() > outs.size())
    return rt::makeError(
        llvm::formatv("{0} --expect files for {1} graph outputs",
                      o.expects.size(), outs.size())
            .str());
  RunFiles files;
  std::mt19937_64 rng(42);
  for (auto [i, port] : llvm::enumerate(ins)) {
    auto d = inputData(port, o.inputs.empty() ? nullptr : &o.inputs[i], rng);
    if (!d)
      return d.takeError();
    files.inputs.push_back(std::move(*d));
  }
  for (auto [i, file] : llvm::enumerate(o.expects)) {
    auto ref = expectedOutput(outs[i], file);
    if (!ref)
      return ref.takeError();
    files.expects.push_back(std::move(*ref));
  }
  return files;
}

/// Compares output `port` with `ref` (f32, same shape); prints one line.
bool compare(const Port &port, const std::vector<char> &got,
             const NpyArray &ref, const Options &o) {
  auto *a = reinterpret_cast<const float *>(got.data());
  auto *r = reinterpret_cast<const float *>(ref.bytes.data());
  double worst = 0;
  int64_t bad = 0, n = port.numElements();
  for (int64_t i = 0; i < n; ++i) {
    double err = std::fabs(double(a[i]) - double(r[i]));
    if (!(err <= o.atol + o.rtol * std::fabs(double(r[i])))) // NaN fails
      ++bad;
    worst = std::isnan(err) ? err : std::max(worst, err);
  }
  llvm::outs() << llvm::formatv(
      "output '{0}' {1}: max abs error {2:e} (tolerance {3:e} + {4:e} |ref|), "
      "{5} of {6} elements outside: {7}\n",
      port.name, rt::shapeString(port.shape), worst, o.atol, o.rtol, bad, n,
      bad ? "FAIL" : "ok");
  return bad == 0;
}

/// Writes output i to PREFIX.out<i>.npy: all of them or (on an error) none.
llvm::Error writeOutputs(const std::vector<Port> &outs,
                         const std::vector<std::vector<char>> &data,
                         const std::string &prefix) {
  std::vector<std::unique_ptr<llvm::ToolOutputFile>> files;
  for (auto [i, port] : llvm::enumerate(outs)) {
    std::string path = prefix + ".out" + std::to_string(i) + ".npy";
    std::error_code ec;
    files.push_back(std::make_unique<llvm::ToolOutputFile>(
        path, ec, llvm::sys::fs::OF_None));
    if (ec)
      return rt::makeError("cannot write '" + path + "': " + ec.message());
    writeNpy(files.back()->os(),
             NpyArray{port.npyDescr(), port.shape, data[i]});
    files.back()->os().flush();
    if (files.back()->os().has_error())
      return rt::makeError("cannot write '" + path + "'");
  }
  for (auto &f : files)
    f->keep();
  return llvm::Error::success();
}

/// --target=cuda: prints each attention's launch plan, writes its binary
/// (--dump-binary) and loads it on the device, where a machine without one
/// fails with "no CUDA device: ..." after everything up to PTX was done.
llvm::Error reportGpu(const CompiledModel &model, const Options &o) {
  const AttentionCallouts *calls = model.callouts();
  int64_t n = calls ? calls->numOps() : 0;
  for (int64_t i = 0; i < n; ++i) {
    const rt::Kernel &k = calls->kernel(i);
    llvm::outs() << llvm::formatv(
        "attention {0} (cuda): {1} ({2} bytes of {3})\n", i, k.gpuLaunchPlan(),
        k.gpuBinary().size(), o.gpuFormat == "bin" ? "cubin" : "PTX");
    llvm::outs().flush(); // before any error on stderr
    if (o.dumpBinary.empty())
      continue;
    std::string path = o.dumpBinary + "." + std::to_string(i) +
                       (o.gpuFormat == "bin" ? ".cubin" : ".ptx");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return rt::makeError("cannot write '" + path + "': " + ec.message());
    os << k.gpuBinary();
  }
  if (n == 0)
    llvm::outs() << "no attn.attention was raised: the model runs on the CPU\n";
  llvm::outs().flush();
  return calls ? calls->load() : llvm::Error::success();
}

/// --bench: `o.warmup` untimed calls, then the median of `o.runs`.
llvm::Error bench(const CompiledModel &model, llvm::ArrayRef<void *> ins,
                  llvm::ArrayRef<void *> outs, rt::ThreadPool &pool,
                  const Options &o) {
  // Wall and process CPU time: on a shared machine the CPU time is the
  // figure to compare (the model runs on this one thread).
  std::vector<double> wall, cpu;
  for (int64_t r = 0; r < o.warmup + o.runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    std::clock_t c0 = std::clock();
    if (llvm::Error e = model.run(ins, outs, pool))
      return e;
    double c = 1e3 * double(std::clock() - c0) / CLOCKS_PER_SEC;
    double t = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
    if (r >= o.warmup)
      wall.push_back(t), cpu.push_back(c);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  llvm::outs() << llvm::formatv(
      "time per call: {0:f4} ms median of {1} (min {2:f4}), CPU time "
      "{3:f4} ms median, {4} thread{5}\n",
      wall[wall.size() / 2], wall.size(), wall.front(), cpu[cpu.size() / 2],
      o.threads, o.threads > 1 ? "s" : "");
  return llvm::Error::success();
}

/// --run: compile, read and check the files, run (and time), compare, and
/// write the outputs only when everything passed.
int runModel(ModuleOp module, const Options &o) {
  RunnerOptions ro;
  ro.raise = o.raise;
  ro.tileRows = o.tileRows;
  ro.tileKv = o.tileKv;
  ro.threads = static_cast<unsigned>(o.threads);
  ro.target = o.target == "cuda" ? rt::Target::Cuda : rt::Target::Cpu;
  ro.gpuBf16 = o.gpuDtype == "bf16";
  ro.gpuChip = o.gpuChip;
  ro.gpuFormat = o.gpuFormat;
  auto model = CompiledModel::compile(module, ro);
  if (!model)
    return fail(model.takeError());
  auto files = readRunFiles(**model, o);
  if (!files)
    return fail(files.takeError());
  if (ro.target == rt::Target::Cuda)
    if (llvm::Error e = reportGpu(**model, o))
      return fail(std::move(e));
  const auto &outs = (*model)->outputs();
  std::vector<std::vector<char>> outData;
  for (const Port &port : outs)
    outData.emplace_back(port.bytes(), 0);
  SmallVector<void *> inPtrs, outPtrs;
  for (auto &d : files->inputs)
    inPtrs.push_back(d.data());
  for (auto &d : outData)
    outPtrs.push_back(d.data());
  rt::ThreadPool pool(1);
  if (llvm::Error e = (*model)->run(inPtrs, outPtrs, pool))
    return fail(std::move(e));
  llvm::outs() << llvm::formatv(
      "{0}: {1} attn.attention, compiled in {2:f1} ms ({3}{4})\n", o.model,
      (*model)->attentionOps(), (*model)->compileMs(),
      o.raise ? "raised" : "not raised: upstream loops",
      !o.raise             ? ""
      : o.target == "cuda" ? ", attention on the GPU (" + o.gpuDtype + ")"
                           : llvm::formatv(", attention on {0} thread{1}",
                                           o.threads, o.threads > 1 ? "s" : "")
                                 .str());
  if (o.bench)
    if (llvm::Error e = bench(**model, inPtrs, outPtrs, pool, o))
      return fail(std::move(e));
  bool allOk = true;
  for (auto [i, ref] : llvm::enumerate(files->expects))
    allOk &= compare(outs[i], outData[i], ref, o);
  if (!allOk)
    return 1;
  if (!o.outputPrefix.empty())
    if (llvm::Error e = writeOutputs(outs, outData, o.outputPrefix))
      return fail(std::move(e));
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  std::string err;
  std::optional<Options> o = parseOptions(argc, argv, err);
  if (!o) {
    llvm::errs() << "attn-import-onnx: " << err << "\n";
    return 2;
  }
  auto model = loadModel(o->model);
  if (!model)
    return fail(model.takeError());
  DialectRegistry registry;
  rt::registerRuntimeDialects(registry);
  MLIRContext ctx(registry);
  auto module = importModel(ctx, *model);
  if (!module)
    return fail(module.takeError());
  if (o->run)
    return runModel(**module, *o);
  if (o->raise) {
    rt::DiagnosticCapture diags(&ctx);
    PassManager pm(&ctx);
    pm.addNestedPass<func::FuncOp>(createAttnRaiseAttention());
    if (failed(pm.run(**module)))
      return fail(diags.takeError("attn-raise-attention failed"));
  }
  std::error_code ec;
  llvm::ToolOutputFile out(o->out, ec, llvm::sys::fs::OF_None);
  if (ec)
    return fail(
        rt::makeError("cannot write '" + o->out + "': " + ec.message()));
  (*module)->print(out.os());
  out.os() << "\n";
  out.keep();
  return 0;
}
