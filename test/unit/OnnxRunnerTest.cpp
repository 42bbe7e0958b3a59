//===- OnnxRunnerTest.cpp - attn-import-onnx's runner: failing kernels ----===//
//
// The model runner (tools/attn-import-onnx/ModelRunner.h) runs a model's
// attn.attention ops as the runtime's kernels, called back from the JIT-
// compiled model function. A kernel that the runtime refuses to compile,
// or that fails while the model runs, must come back as one llvm::Error
// naming the op and the ONNX node it came from (the importer gives every op
// its node's name as location), never a crash, and a failed run must leave
// the caller's outputs untouched; the next run starts afresh.
//
// The failing run is provoked without a fault-injection hook: a kv_lengths
// value past Skv is refused by the CPU kernel at run time (the runtime
// reads it from the buffer on each call), and head dim 8 is refused by the
// CUDA compile path (which runs without a GPU).
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"

#include "tools/attn-import-onnx/ModelRunner.h"

#include "runtime/KernelBuilder.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;
using attn_test::errorOf;
using attn_test::ok;

namespace {

/// Two attentions in a row, as ONNX nodes 'first' and 'second'; the second
/// reads its K/V lengths from the model's last input. Head dim `d`.
std::string twoAttentions(int d) {
  std::string q = "tensor<2x2x8x" + std::to_string(d) + "xf32>";
  std::string kv = "tensor<2x2x10x" + std::to_string(d) + "xf32>";
  return "func.func @main(%q: " + q + ", %k: " + kv + ", %v: " + kv +
         ", %len: tensor<2xi32>) -> " + q + " {\n" +
         "  %a = attn.attention %q, %k, %v : " + q + ", " + kv + ", " + kv +
         " -> " + q + " loc(\"first\")\n" +
         "  %b = attn.attention %a, %k, %v kv_lengths(%len : tensor<2xi32>) "
         ": " +
         q + ", " + kv + ", " + kv + " -> " + q + " loc(\"second\")\n" +
         "  return %b : " + q + "\n}\n";
}

struct Model {
  explicit Model(int d, rt::Target target = rt::Target::Cpu)
      : ctx([] {
          DialectRegistry registry;
          rt::registerRuntimeDialects(registry);
          return registry;
        }()) {
    module = parseSourceString<ModuleOp>(twoAttentions(d), &ctx);
    EXPECT_TRUE(module) << "the test model does not parse";
    options.target = target;
  }
  llvm::Expected<std::unique_ptr<CompiledModel>> compile() {
    return CompiledModel::compile(*module, options);
  }
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
  RunnerOptions options;
};

/// Buffers for the inputs of `model` (N(0, 1)-like fixed values, lengths
/// {3, len1}) and its output, filled with `sentinel` bytes.
struct Buffers {
  Buffers(const CompiledModel &model, int32_t len1, char sentinel) {
    for (const Port &p : model.inputs()) {
      ins.emplace_back(p.bytes());
      if (p.elem == Elem::F32) {
        auto *f = reinterpret_cast<float *>(ins.back().data());
        for (int64_t i = 0; i < p.numElements(); ++i)
          f[i] = std::sin(0.37f * float(i));
      }
    }
    int32_t lengths[2] = {3, len1};
    std::memcpy(ins.back().data(), lengths, sizeof lengths);
    out.assign(model.outputs()[0].bytes(), sentinel);
  }
  llvm::Error run(const CompiledModel &model, rt::ThreadPool &pool) {
    SmallVector<void *> inPtrs;
    for (auto &b : ins)
      inPtrs.push_back(b.data());
    return model.run(inPtrs, {out.data()}, pool);
  }
  std::vector<std::vector<char>> ins;
  std::vector<char> out;
};

TEST(OnnxRunnerErrors, KernelRunFailureNamesTheNodeAndWritesNoOutput) {
  Model m(16);
  auto model = m.compile();
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
  ASSERT_EQ((*model)->attentionOps(), 2);
  rt::ThreadPool pool(1);
  Buffers bad(**model, /*len1=*/11, /*sentinel=*/0x5a);
  EXPECT_EQ(errorOf(bad.run(**model, pool)),
            "attn.attention 1 at node 'second' (cpu): kv_lengths: value 11 at "
            "batch 1 is outside [0, Skv = 10]");
  EXPECT_EQ(bad.out, std::vector<char>(bad.out.size(), 0x5a))
      << "a failed run wrote the output";

  // The error does not stick: a valid run computes finite outputs, and a
  // failing run after it leaves them as they were.
  Buffers good(**model, /*len1=*/10, /*sentinel=*/0x5a);
  ASSERT_TRUE(ok(good.run(**model, pool)));
  const auto *f = reinterpret_cast<const float *>(good.out.data());
  for (size_t i = 0; i < good.out.size() / sizeof(float); ++i)
    ASSERT_TRUE(std::isfinite(f[i])) << "output element " << i;
  std::vector<char> before = good.out;
  int32_t lengths[2] = {-1, 10};
  std::memcpy(good.ins.back().data(), lengths, sizeof lengths);
  EXPECT_NE(errorOf(good.run(**model, pool))
                .find("attn.attention 1 at node 'second' (cpu): kv_lengths: "
                      "value -1 at batch 0"),
            std::string::npos);
  EXPECT_EQ(good.out, before);
}

TEST(OnnxRunnerErrors, KernelCompileFailureNamesTheNode) {
  // Head dims past 256 have no GPU kernel.
  Model m(264, rt::Target::Cuda);
  std::string e = errorOf(m.compile());
  EXPECT_EQ(e.rfind("attn.attention 0 at node 'first' (cuda): ", 0), 0u) << e;
  EXPECT_NE(e.find("head dim 264 is not supported on the GPU"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

// The same model compiles and runs on the CPU at head dim 8.
TEST(OnnxRunnerErrors, SameModelRunsOnTheCpu) {
  Model m(8);
  auto model = m.compile();
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
  rt::ThreadPool pool(2);
  Buffers good(**model, /*len1=*/7, /*sentinel=*/0);
  EXPECT_TRUE(ok(good.run(**model, pool)));
}

TEST(OnnxRunnerErrors, WrongBufferCountIsAnError) {
  Model m(16);
  auto model = m.compile();
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
  rt::ThreadPool pool(1);
  EXPECT_EQ(errorOf((*model)->run({}, {}, pool)),
            "the model takes 4 inputs and 1 outputs");
}

} // namespace
