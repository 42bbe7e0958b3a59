//===- RuntimeJitTest.cpp - JIT, work items, stages, kernel cache ---------===//
#include "RuntimeJitTest.h"
#include "RuntimeTestUtils.h"

#include "runtime/JitCompiler.h"
#include "runtime/KernelBuilder.h"

#include "llvm/Support/CommandLine.h"

#include "gtest/gtest.h"

#include <cstring>
#include <thread>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::errorOf;
using attn_test::ok;

namespace {

/// y[i] += x[i] + 1 for the work items [begin, end): an item run twice or
/// never shows up in y. x has a dynamic stride (the runtime passes the
/// caller's).
constexpr const char *kAccumulate = R"mlir(
func.func @attention(%x: memref<1000xf32, strided<[?], offset: ?>>,
                     %y: memref<1000xf32, strided<[?], offset: ?>>,
                     %begin: index, %end: index)
    attributes {llvm.emit_c_interface} {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.for %i = %begin to %end step %c1 {
    %a = memref.load %x[%i] : memref<1000xf32, strided<[?], offset: ?>>
    %b = memref.load %y[%i] : memref<1000xf32, strided<[?], offset: ?>>
    %c = arith.addf %a, %b : f32
    %d = arith.addf %c, %one : f32
    memref.store %d, %y[%i] : memref<1000xf32, strided<[?], offset: ?>>
  }
  return
}
func.func @attention_work_items() -> index
    attributes {llvm.emit_c_interface} {
  %n = arith.constant 1000 : index
  return %n : index
}
)mlir";

KernelSignature accumulateSignature() {
  KernelSignature sig;
  sig.args = {attn_test::vectorArg(ArgRole::Query, 1000, false, false),
              attn_test::vectorArg(ArgRole::Output, 1000, false, true)};
  return sig;
}

TEST(Jit, HandWrittenKernelRunsEveryItemOnce) {
  auto ctx = attn_test::jitTestContext();
  auto module = parseSourceString<ModuleOp>(kAccumulate, ctx.get());
  ASSERT_TRUE(module);
  Runtime runtime(RuntimeOptions{3});
  auto kernel = runtime.compileModule(*module, accumulateSignature(),
                                      attn_test::lowerWithUpstreamPasses);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ((*kernel)->workItems(), 1000);
  EXPECT_GT((*kernel)->compileStats().jitMs, 0.0);

  std::vector<float> x(2000), y(1000, 0.0f);
  for (int i = 0; i < 1000; ++i)
    x[2 * i] = float(i), x[2 * i + 1] = -1e9f; // odd slots must stay unread
  AttentionArgs args;
  args.query = BufferRef::contiguous(x.data(), DType::F32, {1000});
  args.query.strides = {2};
  args.output = BufferRef::contiguous(y.data(), DType::F32, {1000});
  ASSERT_TRUE(ok((*kernel)->run(args)));
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(y[i], float(i) + 1.0f) << "item " << i;
  // Again, on a one-thread pool: same ABI, no threads.
  ThreadPool one(1);
  ASSERT_TRUE(ok((*kernel)->run(args, one)));
  EXPECT_EQ(y[999], 2.0f * (999.0f + 1.0f));
}

TEST(Jit, MissingWorkItemsFunctionIsAnError) {
  std::string text = kAccumulate;
  text = text.substr(0, text.find("func.func @attention_work_items"));
  auto ctx = attn_test::jitTestContext();
  auto module = parseSourceString<ModuleOp>(text, ctx.get());
  ASSERT_TRUE(module);
  Runtime runtime;
  std::string e = errorOf(runtime.compileModule(
      *module, accumulateSignature(), attn_test::lowerWithUpstreamPasses));
  EXPECT_NE(e.find("cannot resolve attention_work_items"), std::string::npos)
      << e;
}

/// kAccumulate with staged-kernel exports appended (attn-parallel-to-runtime's
/// `_stages`, `_stage_end`, `_shared_bytes`), for the loader's checks.
std::string stagedText(int64_t stages, const char *stageEnd,
                       int64_t sharedBytes) {
  std::string text = kAccumulate;
  text += "func.func @attention_stages() -> index {\n  %n = arith.constant " +
          std::to_string(stages) + " : index\n  return %n : index\n}\n";
  if (stageEnd)
    text += std::string("func.func @attention_stage_end(%i: index) -> index "
                        "{\n  %n = arith.constant ") +
            stageEnd + " : index\n  return %n : index\n}\n";
  text += "func.func @attention_shared_bytes() -> index {\n  %n = "
          "arith.constant " +
          std::to_string(sharedBytes) + " : index\n  return %n : index\n}\n";
  return text;
}

TEST(Jit, StagedKernelRunsEveryItemOnce) {
  // Stages [0, 400) and [400, 1000), no shared scratch: two parallelFor
  // rounds over the one item numbering, each item once.
  std::string text = kAccumulate;
  text += R"mlir(
func.func @attention_stages() -> index {
  %n = arith.constant 2 : index
  return %n : index
}
func.func @attention_stage_end(%i: index) -> index {
  %c0 = arith.constant 0 : index
  %first = arith.constant 400 : index
  %all = arith.constant 1000 : index
  %is0 = arith.cmpi eq, %i, %c0 : index
  %n = arith.select %is0, %first, %all : index
  return %n : index
}
)mlir";
  auto ctx = attn_test::jitTestContext();
  auto module = parseSourceString<ModuleOp>(text, ctx.get());
  ASSERT_TRUE(module);
  Runtime runtime(RuntimeOptions{2});
  auto kernel = runtime.compileModule(*module, accumulateSignature(),
                                      attn_test::lowerWithUpstreamPasses);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  std::vector<float> x(1000, 1.0f), y(1000, 0.0f);
  AttentionArgs args;
  args.query = BufferRef::contiguous(x.data(), DType::F32, {1000});
  args.output = BufferRef::contiguous(y.data(), DType::F32, {1000});
  ASSERT_TRUE(ok((*kernel)->run(args)));
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(y[i], 2.0f) << "item " << i;
}

TEST(Jit, BadStageExportsAreErrors) {
  struct Case {
    int64_t stages;
    const char *end;
    int64_t shared;
    const char *message;
  };
  for (const Case &c :
       {Case{2, nullptr, 0, "has stages but no attention_stage_end"},
        Case{1, "1001", 0, "stage 0 ends at 1001 (items 0 to 1000)"},
        Case{1, "1000", -64, "asks for -64 shared scratch bytes"}}) {
    auto ctx = attn_test::jitTestContext();
    auto module = parseSourceString<ModuleOp>(
        stagedText(c.stages, c.end, c.shared), ctx.get());
    ASSERT_TRUE(module);
    Runtime runtime;
    std::string e = errorOf(runtime.compileModule(
        *module, accumulateSignature(), attn_test::lowerWithUpstreamPasses));
    EXPECT_NE(e.find(c.message), std::string::npos) << e;
  }
}

TEST(Jit, UnallocatableSharedScratchIsARunError) {
  // 2^60 bytes: the run fails before any call, and says why.
  auto ctx = attn_test::jitTestContext();
  auto module = parseSourceString<ModuleOp>(
      stagedText(1, "1000", int64_t(1) << 60), ctx.get());
  ASSERT_TRUE(module);
  Runtime runtime;
  auto kernel = runtime.compileModule(*module, accumulateSignature(),
                                      attn_test::lowerWithUpstreamPasses);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  std::vector<float> x(1000), y(1000);
  AttentionArgs args;
  args.query = BufferRef::contiguous(x.data(), DType::F32, {1000});
  args.output = BufferRef::contiguous(y.data(), DType::F32, {1000});
  std::string e = errorOf((*kernel)->run(args));
  EXPECT_NE(e.find("bytes of shared scratch"), std::string::npos) << e;
}

TEST(Jit, PassFailureIsAnError) {
  auto ctx = attn_test::jitTestContext();
  auto module = parseSourceString<ModuleOp>(kAccumulate, ctx.get());
  ASSERT_TRUE(module);
  Runtime runtime;
  // Leaves scf/memref ops that cannot be translated to LLVM IR.
  std::string e = errorOf(runtime.compileModule(*module, accumulateSignature(),
                                                [](OpPassManager &) {}));
  EXPECT_NE(e.find("JIT compilation failed"), std::string::npos) << e;
}

//===----------------------------------------------------------------------===//
// The kernel wrapper and its signature
//===----------------------------------------------------------------------===//

TEST(Jit, PostRaSchedulerIsOffUnlessGiven) {
  // The compile-latency cut (docs/performance.md): the runtime turns the
  // post-RA scheduler off once per process.
  initializeRuntimeOnce();
  auto &options = llvm::cl::getRegisteredOptions();
  auto it = options.find("post-RA-scheduler");
  ASSERT_NE(it, options.end()) << "LLVM no longer has the option";
  auto *opt = static_cast<llvm::cl::opt<bool> *>(it->second);
  EXPECT_GT(opt->getPosition(), 0u) << "the pass ignores an unset option";
  EXPECT_FALSE(opt->getValue());
}

TEST(KernelBuilder, SignatureMatchesSpec) {
  auto ctx = attn_test::jitTestContext();
  AttentionSpec s;
  s.batch = 2;
  s.numHeads = 8;
  s.numKvHeads = 2;
  s.queryLen = 5;
  s.kvLen = 9;
  s.headDim = 80;
  s.valueDim = 64;
  s.dtype = ElementType::BF16;
  s.layout = Layout::BSHD;
  s.mask.causal = true;
  s.mask.qOffset = 4;
  s.softcap = 30.0f;
  s.withKvLengths = true;
  s.returnLse = true;
  auto km = buildKernelModule(ctx.get(), s);
  ASSERT_TRUE(static_cast<bool>(km)) << llvm::toString(km.takeError());
  KernelSignature want = signatureForSpec(s);
  const KernelSignature &got = km->signature;
  EXPECT_EQ(got.spec, s);
  ASSERT_EQ(got.args.size(), want.args.size());
  for (auto [g, w] : llvm::zip(got.args, want.args)) {
    EXPECT_EQ(g.role, w.role);
    EXPECT_EQ(g.dtype, w.dtype);
    EXPECT_EQ(g.shape, w.shape);
    EXPECT_EQ(g.unitInnerStride, w.unitInnerStride);
    EXPECT_EQ(g.isOutput, w.isOutput);
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  km->module->print(os);
  EXPECT_NE(text.find("llvm.emit_c_interface"), std::string::npos);
  EXPECT_NE(text.find("memref<2x9x2x80xbf16, strided<[?, ?, ?, 1], offset: "
                      "?>>"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("memref<2xi32, strided<[?], offset: ?>>"),
            std::string::npos);
  EXPECT_NE(text.find("memref<2x8x5xf32, strided<[?, ?, ?], offset: ?>>"),
            std::string::npos);
  EXPECT_NE(text.find("materialize_in_destination"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Kernel cache
//===----------------------------------------------------------------------===//

/// The in-memory cache alone: these tests count compiles, which a disk hit
/// from an earlier run (ATTN_CACHE_DIR unset outside ctest) would change.
RuntimeOptions memoryCacheOnly() {
  RuntimeOptions options;
  options.cacheDir = "off";
  return options;
}

AttentionSpec cacheSpec(int64_t kvLen) {
  AttentionSpec s;
  s.numHeads = 2;
  s.queryLen = 8;
  s.kvLen = kvLen;
  s.numKvHeads = 1;
  return s;
}

TEST(KernelCache, SameKeyCompilesOnce) {
  Runtime runtime(memoryCacheOnly());
  auto a = runtime.compile(cacheSpec(16));
  auto b = runtime.compile(cacheSpec(16));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->get(), b->get());
  Runtime::CacheStats st = runtime.cacheStats();
  EXPECT_EQ(st.compiles, 1);
  EXPECT_EQ(st.hits, 1);
  EXPECT_EQ(st.entries, 2) << "the kernel of run-time sizes and its view";
  EXPECT_GT((*a)->compileStats().totalMs(), 0.0);
}

TEST(KernelCache, ConcurrentRequestsCompileOnce) {
  Runtime runtime(memoryCacheOnly());
  std::vector<KernelRef> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto k = runtime.compile(cacheSpec(24));
      if (k)
        got[t] = *k;
      else
        llvm::consumeError(k.takeError());
    });
  for (std::thread &t : threads)
    t.join();
  for (const KernelRef &k : got) {
    ASSERT_TRUE(k);
    EXPECT_EQ(k.get(), got[0].get());
  }
  EXPECT_EQ(runtime.cacheStats().compiles, 1);
  EXPECT_EQ(runtime.cacheStats().hits, 3);
}

TEST(KernelCache, OptionsAndExactScaleAreKeyed) {
  Runtime runtime(memoryCacheOnly());
  CompileOptions small;
  small.tileKv = 16;
  AttentionSpec s1 = cacheSpec(16), s2 = cacheSpec(16);
  s1.scale = 0.1234567f;
  s2.scale = 0.1234568f; // same 6-digit text as s1
  auto a = runtime.compile(s1);
  auto b = runtime.compile(s1, Target::Cpu, small);
  auto c = runtime.compile(s2);
  ASSERT_TRUE(a && b && c);
  EXPECT_NE(a->get(), b->get());
  EXPECT_NE(a->get(), c->get());
  EXPECT_EQ(runtime.cacheStats().compiles, 3);
}

TEST(KernelCache, FailuresAreNotCached) {
  Runtime runtime(memoryCacheOnly());
  CompileOptions bad;
  bad.tileKv = 24;
  EXPECT_FALSE(
      errorOf(runtime.compile(cacheSpec(16), Target::Cpu, bad)).empty());
  EXPECT_FALSE(
      errorOf(runtime.compile(cacheSpec(16), Target::Cpu, bad)).empty());
  EXPECT_EQ(runtime.cacheStats().compiles, 2);
  EXPECT_EQ(runtime.cacheStats().entries, 0);
}

} // namespace
