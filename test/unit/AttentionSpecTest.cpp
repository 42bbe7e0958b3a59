//===- AttentionSpecTest.cpp - the C++ builder API ------------------------===//
#include "dialect/AttentionSpec.h"
#include "dialect/AttnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

class AttentionSpecTest : public ::testing::Test {
protected:
  AttentionSpecTest() { ctx.loadDialect<AttnDialect, func::FuncDialect>(); }

  /// Builds `spec` into a fresh module, verifies it, returns its text.
  std::string build(const AttentionSpec &spec) {
    OpBuilder b(&ctx);
    module = ModuleOp::create(b.getUnknownLoc());
    b.setInsertionPointToEnd(module->getBody());
    auto func = buildAttentionFunc(b, b.getUnknownLoc(), spec, "attention");
    EXPECT_TRUE(succeeded(func));
    EXPECT_TRUE(succeeded(verify(*module)));
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return text;
  }

  AttentionOp onlyOp() {
    AttentionOp found;
    module->walk([&](AttentionOp op) { found = op; });
    return found;
  }

  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
};

TEST_F(AttentionSpecTest, GqaCausalBf16) {
  AttentionSpec spec;
  spec.batch = 2;
  spec.numHeads = 32;
  spec.numKvHeads = 8;
  spec.queryLen = 65;
  spec.kvLen = 1000;
  spec.headDim = 128;
  spec.dtype = ElementType::BF16;
  spec.mask.causal = true;
  spec.mask.qOffset = 935;
  std::string text = build(spec);
  EXPECT_NE(text.find("#attn.mask<causal = true, q_offset = 935>"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tensor<2x32x65x128xbf16>, tensor<2x8x1000x128xbf16>"),
            std::string::npos)
      << text;
  AttentionOp op = onlyOp();
  ASSERT_TRUE(op);
  EXPECT_FLOAT_EQ(op.getScaleOrDefault(), 1.0f / std::sqrt(128.0f));
}

TEST_F(AttentionSpecTest, BshdValueDimLseRagged) {
  AttentionSpec spec;
  spec.batch = 3;
  spec.numHeads = 7;
  spec.numKvHeads = 1;
  spec.queryLen = 9;
  spec.kvLen = 11;
  spec.headDim = 80;
  spec.valueDim = 64;
  spec.layout = Layout::BSHD;
  spec.withKvLengths = true;
  spec.returnLse = true;
  spec.scale = 0.5f;
  spec.softcap = 30.0f;
  build(spec);
  AttentionOp op = onlyOp();
  ASSERT_TRUE(op);
  EXPECT_EQ(op.getQuery().getType().getShape(),
            ArrayRef<int64_t>({3, 9, 7, 80}));
  EXPECT_EQ(op.getValue().getType().getShape(),
            ArrayRef<int64_t>({3, 11, 1, 64}));
  EXPECT_EQ(op.getOutput().getType().getShape(),
            ArrayRef<int64_t>({3, 9, 7, 64}));
  ASSERT_TRUE(op.getLse());
  EXPECT_EQ(op.getLse().getType().getShape(), ArrayRef<int64_t>({3, 7, 9}));
  EXPECT_TRUE(op.getKvLengths());
  EXPECT_FLOAT_EQ(op.getScaleOrDefault(), 0.5f);
  EXPECT_EQ(op.getLayoutOrDefault(), Layout::BSHD);
  EXPECT_FALSE(op.getMaskAttr()); // no mask given: no attribute
}

TEST_F(AttentionSpecTest, InvalidSpecIsALocatedErrorNotACrash) {
  AttentionSpec spec;
  spec.numHeads = 12;
  spec.numKvHeads = 8;
  std::string diag;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diag = d.str();
    return success();
  });
  OpBuilder b(&ctx);
  auto mod = ModuleOp::create(b.getUnknownLoc());
  b.setInsertionPointToEnd(mod.getBody());
  EXPECT_TRUE(failed(buildAttentionFunc(b, b.getUnknownLoc(), spec)));
  EXPECT_EQ(diag, "invalid attention spec: query heads (12) must be a "
                  "multiple of kv heads (8)");
  EXPECT_TRUE(mod.getBody()->empty()); // nothing half-built is left behind
  mod->erase();
}

TEST(AttentionSpecValidate, Rules) {
  AttentionSpec ok;
  EXPECT_EQ(ok.validate(), "");
  auto with = [](auto mutate) {
    AttentionSpec s;
    mutate(s);
    return s.validate();
  };
  // Zero sizes are valid (an empty output, or rows that see nothing).
  EXPECT_EQ(with([](AttentionSpec &s) { s.batch = 0; }), "");
  EXPECT_EQ(with([](AttentionSpec &s) { s.kvLen = 0; }), "");
  EXPECT_EQ(with([](AttentionSpec &s) { s.batch = -1; }),
            "batch must be in [0, 2147483647], got -1");
  EXPECT_EQ(with([](AttentionSpec &s) { s.numKvHeads = 0; }),
            "kv heads must be in [1, 2147483647], got 0");
  EXPECT_EQ(with([](AttentionSpec &s) { s.headDim = -1; }),
            "head dim must be in [1, 1024], got -1");
  EXPECT_EQ(with([](AttentionSpec &s) { s.headDim = 2048; }),
            "head dim must be in [1, 1024], got 2048");
  EXPECT_EQ(with([](AttentionSpec &s) { s.kvLen = int64_t(1) << 31; }),
            "kv length must be in [0, 2147483647], got 2147483648");
  EXPECT_EQ(with([](AttentionSpec &s) {
              s.numHeads = 512;
              s.numKvHeads = 1;
            }),
            "query heads per kv head must be in [0, 256], got 512");
  EXPECT_EQ(with([](AttentionSpec &s) {
              s.mask.qOffset = INT64_MAX;
              s.mask.causal = true;
            }),
            "mask offset + query length must be in [0, 2147483647], got "
            "9223372036854775807");
  EXPECT_EQ(with([](AttentionSpec &s) { s.mask.globalTokens = 1ll << 31; }),
            "mask parameters must be at most 2147483647, got 2147483648");
  EXPECT_EQ(with([](AttentionSpec &s) {
              s.batch = 1 << 20;
              s.numHeads = s.numKvHeads = 1 << 10;
              s.queryLen = s.kvLen = 1 << 10;
            }),
            "more than 1099511627776 elements in one tensor");
  EXPECT_EQ(with([](AttentionSpec &s) { s.scale = 1e30f; }),
            "scale must be nonzero with magnitude at most 65536");
  EXPECT_EQ(with([](AttentionSpec &s) { s.mask.dilation = 0; }),
            "dilation must be >= 1");
  EXPECT_EQ(with([](AttentionSpec &s) {
              s.mask.causal = true;
              s.mask.windowRight = 2;
            }),
            "a causal mask cannot have a look-ahead window (window right > 0)");
  EXPECT_EQ(with([](AttentionSpec &s) { s.softcap = 0.0f; }),
            "softcap must be finite and > 0");
  EXPECT_EQ(with([](AttentionSpec &s) { s.scale = INFINITY; }),
            "scale must be finite");
}

TEST(AttentionSpecFlops, CountsOnlyVisiblePairs) {
  AttentionSpec s;
  s.queryLen = s.kvLen = 4;
  s.headDim = 8;
  EXPECT_DOUBLE_EQ(s.flops(), 2.0 * 16 * 16);
  s.mask.causal = true; // 4 + 3 + 2 + 1 visible pairs
  EXPECT_DOUBLE_EQ(s.flops(), 2.0 * 10 * 16);
  s.mask.windowLeft = 1; // each row sees itself and one back: 1 + 2 + 2 + 2
  EXPECT_DOUBLE_EQ(s.flops(), 2.0 * 7 * 16);
}

TEST(AttentionSpecFlops, ClosedFormMatchesPairCount) {
  for (MaskSpec m :
       {MaskSpec{.causal = true, .qOffset = 5},
        MaskSpec{.windowLeft = 3, .windowRight = 2},
        MaskSpec{.causal = true, .windowLeft = 7, .dilation = 3},
        MaskSpec{
            .qOffset = 2, .windowLeft = 9, .windowRight = 4, .dilation = 2},
        MaskSpec{.causal = true, .windowLeft = 2, .globalTokens = 3}}) {
    AttentionSpec s;
    s.queryLen = 13;
    s.kvLen = 21;
    s.headDim = 4;
    s.mask = m;
    double pairs = 0;
    for (int64_t q = 0; q < s.queryLen; ++q)
      for (int64_t j = 0; j < s.kvLen; ++j)
        pairs += m.allows(q + m.qOffset, j);
    EXPECT_DOUBLE_EQ(s.flops(), 2.0 * pairs * 8);
  }
}

TEST(MaskSpec, Semantics) {
  MaskSpec causal{.causal = true};
  EXPECT_TRUE(causal.allows(5, 5));
  EXPECT_FALSE(causal.allows(5, 6));
  MaskSpec window{.windowLeft = 2, .windowRight = 1};
  EXPECT_TRUE(window.allows(10, 8));
  EXPECT_FALSE(window.allows(10, 7));
  EXPECT_TRUE(window.allows(10, 11));
  EXPECT_FALSE(window.allows(10, 12));
  MaskSpec dilated{.causal = true, .dilation = 3};
  EXPECT_TRUE(dilated.allows(9, 3));
  EXPECT_FALSE(dilated.allows(9, 4));
  MaskSpec global{.causal = true, .windowLeft = 1, .globalTokens = 2};
  EXPECT_TRUE(global.allows(100, 0));  // everyone sees the global tokens
  EXPECT_TRUE(global.allows(100, 99)); // and their window
  EXPECT_FALSE(global.allows(100, 50));
  EXPECT_FALSE(global.allows(0, 5)); // causal still forbids looking ahead
  MaskSpec globalBidir{.globalTokens = 2, .windowLeft = 0, .windowRight = 0};
  EXPECT_TRUE(globalBidir.allows(1, 50)); // a global query sees everything
}

} // namespace
