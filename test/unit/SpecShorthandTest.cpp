//===- SpecShorthandTest.cpp - `gqa:b=1,...` parsing ----------------------===//
#include "dialect/AttentionSpec.h"

#include "gtest/gtest.h"

using namespace mlir::attn;

namespace {

AttentionSpec parseOk(const char *text) {
  std::string error;
  auto spec = parseSpecShorthand(text, error);
  EXPECT_TRUE(spec.has_value()) << text << ": " << error;
  return spec.value_or(AttentionSpec());
}

std::string parseError(const char *text) {
  std::string error;
  auto spec = parseSpecShorthand(text, error);
  EXPECT_FALSE(spec.has_value()) << text;
  return error;
}

TEST(SpecShorthand, IssueExample) {
  AttentionSpec s =
      parseOk("gqa:b=1,hq=32,hkv=8,sq=1024,skv=1024,d=128,causal");
  EXPECT_EQ(s.batch, 1);
  EXPECT_EQ(s.numHeads, 32);
  EXPECT_EQ(s.numKvHeads, 8);
  EXPECT_EQ(s.queryLen, 1024);
  EXPECT_EQ(s.kvLen, 1024);
  EXPECT_EQ(s.headDim, 128);
  EXPECT_TRUE(s.mask.causal);
  EXPECT_EQ(s.dtype, ElementType::F32);
}

TEST(SpecShorthand, KindsFixHeads) {
  EXPECT_EQ(parseOk("mha:hq=12").numKvHeads, 12);
  EXPECT_EQ(parseOk("mqa:hq=12").numKvHeads, 1);
}

TEST(SpecShorthand, AllKeys) {
  AttentionSpec s =
      parseOk("gqa:b=2,hq=28,hkv=4,s=77,d=80,dv=64,dtype=bf16,layout=bshd,"
              "window=128:0,dilation=2,global=4,offset=3,scale=0.5,softcap=30,"
              "ragged,lse");
  EXPECT_EQ(s.queryLen, 77);
  EXPECT_EQ(s.kvLen, 77);
  EXPECT_EQ(s.valueDim, 64);
  EXPECT_EQ(s.dtype, ElementType::BF16);
  EXPECT_EQ(s.layout, mlir::attn::Layout::BSHD);
  EXPECT_EQ(s.mask.windowLeft, 128);
  EXPECT_EQ(s.mask.windowRight, 0);
  EXPECT_EQ(s.mask.dilation, 2);
  EXPECT_EQ(s.mask.globalTokens, 4);
  EXPECT_EQ(s.mask.qOffset, 3);
  EXPECT_FLOAT_EQ(*s.scale, 0.5f);
  EXPECT_FLOAT_EQ(*s.softcap, 30.0f);
  EXPECT_TRUE(s.withKvLengths);
  EXPECT_TRUE(s.returnLse);
}

TEST(SpecShorthand, KeyRoundTrips) {
  AttentionSpec s = parseOk("gqa:b=3,hq=8,hkv=2,sq=5,skv=9,d=64,dtype=f16,"
                            "causal,window=7:0,global=1,softcap=20");
  EXPECT_EQ(parseOk(s.key().c_str()), s);
}

TEST(SpecShorthand, ErrorsNameTheBadKey) {
  EXPECT_EQ(parseError("gqa:b=1,hq=32,hkv=8,d=12x"),
            "bad value '12x' for key 'd': expected an integer");
  EXPECT_EQ(parseError("gqa:hq=32,hkv=8,dtype=f8"),
            "bad value 'f8' for key 'dtype': expected f32, f16 or bf16");
  EXPECT_EQ(
      parseError("gqa:hq=32,hkv=8,heads=4").rfind("unknown key 'heads'", 0),
      0u);
  EXPECT_EQ(parseError("gqa:hq=32,hkv=8,window=4"),
            "bad value '4' for key 'window': expected L:R (integers, -1 for "
            "unbounded)");
  EXPECT_EQ(parseError("gqa:hq=32"), "key 'hkv' is required for gqa");
  EXPECT_EQ(parseError("mha:hq=32,hkv=8"), "key 'hkv': mha needs hkv == hq");
  EXPECT_EQ(parseError("gqa:hq=12,hkv=8"),
            "query heads (12) must be a multiple of kv heads (8)");
  EXPECT_EQ(parseError("flash:hq=1").rfind("unknown attention kind 'flash'", 0),
            0u);
  EXPECT_EQ(parseError("gqa:hq=8,hkv=8,causal=maybe"),
            "bad value 'maybe' for key 'causal': expected no value, "
            "true/false or 1/0");
}

} // namespace

namespace {
// Switches take no value or true/false/1/0; once any value switched them on.
TEST(SpecShorthand, SwitchesTakeBooleans) {
  AttentionSpec s = parseOk("mha:h=2,s=8,d=16,ragged=0,lse=false,causal=0");
  EXPECT_FALSE(s.withKvLengths);
  EXPECT_FALSE(s.returnLse);
  EXPECT_FALSE(s.mask.causal);
  s = parseOk("mha:h=2,s=8,d=16,ragged=1,lse=true,causal");
  EXPECT_TRUE(s.withKvLengths);
  EXPECT_TRUE(s.returnLse);
  EXPECT_TRUE(s.mask.causal);
  std::string e = parseError("mha:h=2,s=8,d=16,lse=no");
  EXPECT_EQ(e, "bad value 'no' for key 'lse': expected no value, true/false "
               "or 1/0");
}
} // namespace
