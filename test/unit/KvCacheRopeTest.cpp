//===- KvCacheRopeTest.cpp - rotary embedding on append and query --------===//
//
// attn.cache_append with a rotary embedding rotates each key by its
// position before it is written; attn.cache_attention rotates each query.
// Three caches step in lock step: the compiled kernels and the float64
// reference, both with RoPE, and an "explicit" cache (reference, no RoPE)
// fed keys the test rotated itself with the textbook formula. Then:
//   - the reference's rotated key pool equals the explicit one bit for bit,
//     and the compiled one within one unit of the dtype's rounding (the
//     kernel rotates in f32, the reference in double, before one rounding
//     to the cache's type): |got - want| <= 2^-(p-1) |want| + 2^-20 with
//     p = 24, 11, 8 for f32, f16, bf16; values equal bit for bit;
//   - compiled decode with rotated queries against the float64 attention
//     over those keys with queries the test rotated (in double, held as
//     f32): runtime/Check.h's tolerances (output normwise f32 2e-5, f16
//     2e-3, bf16 1.6e-2; lse 2e-5).
// Errors: every bad table or position names its operand and changes nothing.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include <cmath>

using namespace kv_test;
using mlir::attn::RopeStyle;

namespace {

/// cos/sin tables [maxPos, r/2] of RoPE with base theta (Llama: 10000).
struct Tables {
  HostTensor cos, sin;
  Tables(rt::DType t, int64_t maxPos, int64_t r, double theta = 10000.0)
      : cos(t, {maxPos, r / 2}), sin(t, {maxPos, r / 2}) {
    for (int64_t p = 0; p < maxPos; ++p)
      for (int64_t i = 0; i < r / 2; ++i) {
        double angle = p * std::pow(theta, -2.0 * i / r);
        cos.set(p * (r / 2) + i, std::cos(angle));
        sin.set(p * (r / 2) + i, std::sin(angle));
      }
  }
  kv::RotaryEmbedding rope(RopeStyle style) const {
    return {style, cos.ref, sin.ref};
  }
};

/// Rotates x[0:r] by position `pos`, the formula written out (not through
/// common/Rope.h): pairs (i, i + r/2) for NeoX, (2i, 2i + 1) interleaved.
void rotateExplicitly(std::vector<double> &x, int64_t pos, RopeStyle style,
                      int64_t r, const Tables &t) {
  std::vector<double> y = x;
  for (int64_t i = 0; i < r / 2; ++i) {
    int64_t a = style == RopeStyle::Interleaved ? 2 * i : i;
    int64_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + r / 2;
    double c = t.cos.at(pos * (r / 2) + i), s = t.sin.at(pos * (r / 2) + i);
    y[a] = x[a] * c - x[b] * s;
    y[b] = x[b] * c + x[a] * s;
  }
  x = y;
}

double unitRoundoff(rt::DType t) {
  switch (t) {
  case rt::DType::F16:
    return std::ldexp(1.0, -10);
  case rt::DType::BF16:
    return std::ldexp(1.0, -7);
  default:
    return std::ldexp(1.0, -23);
  }
}

struct RopeCase {
  const char *name;
  bool paged;
  PageLayout layout;
  ElementType dtype;
  int64_t hq, hkv, d, rotaryDim;
  RopeStyle style;
  bool f32Tables; ///< else tables in the cache's type
  int64_t sq;     ///< queries per decode step
};

void PrintTo(const RopeCase &c, std::ostream *os) { *os << c.name; }

class KvCacheRope : public ::testing::TestWithParam<RopeCase> {};

TEST_P(KvCacheRope, RotatedAppendAndQueryMatchExplicitRotation) {
  const RopeCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t n = 4, maxLen = 64, pageSize = 16;
  rt::DType t = dtypeOf(p.dtype);
  auto make = [&]() -> std::unique_ptr<kv::KvCache> {
    if (p.paged)
      return makePaged(n * maxLen / pageSize, pageSize, maxLen / pageSize, n,
                       p.hkv, p.d, p.d, p.dtype, p.layout);
    return makeContiguous(n, maxLen, p.hkv, p.d, p.d, p.dtype);
  };
  auto compiledCache = make(), referenceCache = make(), explicitCache = make();
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(get(compiledCache->addSequence()));
    ASSERT_EQ(get(referenceCache->addSequence()), ids.back());
    ASSERT_EQ(get(explicitCache->addSequence()), ids.back());
  }
  kv::KvStepper compiled(*compiledCache, sharedRuntime());
  kv::KvStepper reference = referenceStepper(*referenceCache);
  kv::KvStepper plain = referenceStepper(*explicitCache);
  Tables tables(p.f32Tables ? rt::DType::F32 : t, maxLen, p.rotaryDim);
  kv::RotaryEmbedding rope = tables.rope(p.style);
  kv::CacheAttentionOptions causal;
  causal.mask.causal = true;

  auto lengths = [&] { return intsOf(compiledCache->lengths()); };
  auto append = [&](int64_t snew, std::vector<int32_t> counts) {
    HostTensor k(t, {n, p.hkv, snew, p.d}), v(t, {n, p.hkv, snew, p.d});
    k.fillRandom(rng);
    v.fillRandom(rng);
    HostTensor rotated = k;
    std::vector<int32_t> before = lengths();
    std::vector<double> row(p.d);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t h = 0; h < p.hkv; ++h)
        for (int64_t r = 0; r < snew; ++r) {
          int64_t at = ((b * p.hkv + h) * snew + r) * p.d;
          for (int64_t c = 0; c < p.d; ++c)
            row[c] = k.at(at + c);
          // Rows past a sequence's count are not appended; the table may
          // not cover them.
          if (r < (counts.empty() ? snew : counts[b]))
            rotateExplicitly(row, before[b] + r, p.style, p.rotaryDim, tables);
          for (int64_t c = 0; c < p.d; ++c)
            rotated.set(at + c, row[c]);
        }
    ASSERT_TRUE(ok(compiled.appendStep(ids, k.ref, v.ref, counts, &rope)));
    ASSERT_TRUE(ok(reference.appendStep(ids, k.ref, v.ref, counts, &rope)));
    ASSERT_TRUE(ok(plain.appendStep(ids, rotated.ref, v.ref, counts)));
    CacheSnapshot got = CacheSnapshot::of(*compiledCache),
                  ref = CacheSnapshot::of(*referenceCache),
                  want = CacheSnapshot::of(*explicitCache);
    ASSERT_TRUE(ref == want) << "the reference's rotation differs from the "
                                "explicit one";
    ASSERT_EQ(got.values, want.values);
    ASSERT_EQ(got.lengths, want.lengths);
    const rt::BufferRef &pool = explicitCache->keyCache();
    rt::BufferRef gotPool = pool, wantPool = pool;
    gotPool.data = got.keys.data();
    wantPool.data = want.keys.data();
    double u = unitRoundoff(t);
    for (int64_t i = 0; i < pool.numElements(); ++i) {
      double g = rt::loadAsDouble(gotPool, i),
             w = rt::loadAsDouble(wantPool, i);
      ASSERT_LE(std::abs(g - w), u * std::abs(w) + std::ldexp(1.0, -20))
          << "key pool element " << i << ": " << g << " vs " << w;
    }
  };
  auto decode = [&] {
    HostTensor q(t, {n, p.hq, p.sq, p.d}),
        qRotated(rt::DType::F32, q.ref.shape);
    q.fillRandom(rng);
    std::vector<int32_t> len = lengths();
    std::vector<double> row(p.d);
    for (int64_t i = 0; i < n * p.hq * p.sq; ++i) {
      int64_t b = i / (p.hq * p.sq), qi = i % p.sq;
      for (int64_t c = 0; c < p.d; ++c)
        row[c] = q.at(i * p.d + c);
      if (len[b] > 0)
        rotateExplicitly(row, len[b] - p.sq + qi, p.style, p.rotaryDim, tables);
      for (int64_t c = 0; c < p.d; ++c)
        qRotated.set(i * p.d + c, row[c]);
    }
    HostTensor out(t, {n, p.hq, p.sq, p.d}),
        lse(rt::DType::F32, {n, p.hq, p.sq});
    out.fill(std::nan(""));
    lse.fill(std::nan(""));
    ASSERT_TRUE(ok(compiled.decodeStep(ids, q.ref, out.ref, causal, &lse.ref,
                                       nullptr, &rope)));
    // The keys of the compiled cache (checked against the explicit
    // rotation above), so that a key one rounding away from the explicit
    // one cannot move the lse past its tolerance.
    const kv::KvBatch *batch = get(compiledCache->prepareStep(ids, 0));
    ASSERT_NE(batch, nullptr);
    auto want = kv::referenceCacheAttention(batch->attentionOperands(),
                                            qRotated.ref, causal);
    ASSERT_TRUE(static_cast<bool>(want)) << llvm::toString(want.takeError());
    HostTensor wantOut(rt::DType::F32, out.ref.shape),
        wantLse(rt::DType::F32, lse.ref.shape);
    for (int64_t i = 0; i < wantOut.size(); ++i)
      wantOut.set(i, want->output[i]);
    for (int64_t i = 0; i < wantLse.size(); ++i)
      wantLse.set(i, want->lse[i]);
    expectCloseTo(out, wantOut, &lse, &wantLse, t);
  };

  // Ragged prefill chunks (a sequence of length 0 and one of length 1 with
  // single queries), then decode steps crossing page boundaries.
  if (p.sq == 1)
    append(20, {0, 1, 20, 17});
  else
    append(20, {int32_t(p.sq), int32_t(p.sq + 1), 20, 17});
  decode();
  append(20, {0, 3, 20, 20});
  decode();
  for (int step = 0; step < 3; ++step) {
    append(1, {});
    decode();
  }
  // One rotating append kernel and one rotating attention kernel.
  EXPECT_EQ(compiled.kernels().stats().compiles, 2);
}

constexpr auto NHD = PageLayout::NHD, HND = PageLayout::HND;
constexpr auto NeoX = RopeStyle::NeoX, Inter = RopeStyle::Interleaved;

INSTANTIATE_TEST_SUITE_P(
    Forms, KvCacheRope,
    ::testing::Values(RopeCase{"NeoxPagedNhdGqa4F32", true, NHD,
                               ElementType::F32, 8, 2, 64, 64, NeoX, true, 1},
                      RopeCase{"InterleavedPagedHndGqa4Bf16", true, HND,
                               ElementType::BF16, 8, 2, 64, 64, Inter, true, 1},
                      RopeCase{"NeoxPartialHead40Gqa7F16", true, NHD,
                               ElementType::F16, 7, 1, 40, 24, NeoX, false, 1},
                      RopeCase{"InterleavedPartialHead96HndBf16", true, HND,
                               ElementType::BF16, 7, 1, 96, 48, Inter, false,
                               1},
                      RopeCase{"NeoxContiguousMhaHead96ChunkF32", false, NHD,
                               ElementType::F32, 2, 2, 96, 96, NeoX, true, 3},
                      RopeCase{"InterleavedContiguousGqa4Head40F16", false, NHD,
                               ElementType::F16, 8, 2, 40, 40, Inter, true, 1},
                      RopeCase{"NeoxPagedHndChunkBf16Tables", true, HND,
                               ElementType::BF16, 8, 2, 64, 32, NeoX, false,
                               4}),
    [](const ::testing::TestParamInfo<RopeCase> &i) { return i.param.name; });

/// Appends `rows` rows of zeros to `ids` through `steps` without RoPE.
void fill(kv::KvStepper &steps, const std::vector<SeqId> &ids, int64_t hkv,
          int64_t d, int64_t rows) {
  HostTensor k(rt::DType::F32,
               {static_cast<int64_t>(ids.size()), hkv, rows, d});
  ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, k.ref)));
}

TEST(KvCacheRopeErrors, BadTablesFailNamingThemAndChangeNothing) {
  auto cache = makePaged(8, 16, 4, 2, 2, 32);
  std::vector<SeqId> ids = {get(cache->addSequence()),
                            get(cache->addSequence())};
  kv::KvStepper steps(*cache, sharedRuntime());
  fill(steps, ids, 2, 32, 5);
  HostTensor k(rt::DType::F32, {2, 2, 1, 32}), q(rt::DType::F32, {2, 4, 1, 32});
  HostTensor out = q;
  Tables good(rt::DType::F32, 16, 32), wide(rt::DType::F32, 16, 40),
      f16(rt::DType::F16, 16, 32), short8(rt::DType::F32, 8, 32);
  HostTensor rank1(rt::DType::F32, {16}), odd(rt::DType::F32, {16, 0});
  auto withSin = [&](const rt::BufferRef &cos, const rt::BufferRef &sin) {
    return kv::RotaryEmbedding{RopeStyle::NeoX, cos, sin};
  };
  struct Bad {
    kv::RotaryEmbedding rope;
    const char *message;
  };
  rt::BufferRef noData = good.cos.ref;
  noData.data = nullptr;
  rt::BufferRef strided = good.sin.ref;
  strided.strides = {32, 2};
  std::vector<Bad> bad = {
      {withSin(rank1.ref, good.sin.ref),
       "rotary_cos must have rank 2 [max_pos, rotary_dim / 2], got shape [16]"},
      {withSin(odd.ref, odd.ref), "rotary_cos has 0 columns: rotary_dim 0 must "
                                  "be in [2, 32] (the key head dim)"},
      {wide.rope(RopeStyle::NeoX),
       "rotary_cos has 20 columns: rotary_dim 40 must be in [2, 32]"},
      {f16.rope(RopeStyle::NeoX),
       "rotary_cos has element type f16, expected f32 or the key's f32"},
      {withSin(good.cos.ref, short8.sin.ref),
       "rotary_sin has shape [8, 16], expected [16, 16]"},
      {withSin(good.cos.ref, f16.sin.ref),
       "rotary_sin has element type f16, expected f32"},
      {withSin(noData, good.sin.ref), "rotary_cos has no data"},
      {withSin(good.cos.ref, strided), "rotary_sin has innermost stride 2"},
  };
  for (const Bad &b : bad) {
    SCOPED_TRACE(b.message);
    expectFailsUnchanged(*cache, b.message, [&] {
      return steps.appendStep(ids, k.ref, k.ref, {}, &b.rope);
    });
    // The query side runs the same checks ("query" for "key").
    std::string m = b.message;
    if (size_t at = m.find("key"); at != std::string::npos)
      m.replace(at, 3, "query");
    expectFailsUnchanged(*cache, m, [&] {
      return steps.decodeStep(ids, q.ref, out.ref, {}, nullptr, nullptr,
                              &b.rope);
    });
  }
}

TEST(KvCacheRopeErrors, PositionsPastTheTableFailAndChangeNothing) {
  for (bool compiledBackend : {true, false}) {
    SCOPED_TRACE(compiledBackend ? "compiled" : "reference");
    auto cache = makeContiguous(2, 32, 2, 16);
    std::vector<SeqId> ids = {get(cache->addSequence()),
                              get(cache->addSequence())};
    kv::StepOptions options;
    if (!compiledBackend)
      options.backend = kv::StepBackend::Reference;
    kv::KvStepper steps(*cache, sharedRuntime(), options);
    Tables tables(rt::DType::F32, 8, 16);
    kv::RotaryEmbedding rope = tables.rope(RopeStyle::Interleaved);
    HostTensor k(rt::DType::F32, {2, 2, 6, 16});
    ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, k.ref, {6, 2}, &rope)));
    // Sequence 0 would reach position 8 (6 + 3 - 1) in an 8-row table.
    HostTensor k3(rt::DType::F32, {2, 2, 3, 16});
    expectFailsUnchanged(
        *cache,
        "appendStep: key positions of sequence 0 reach 8 but "
        "rotary_cos holds 8 positions",
        [&] { return steps.appendStep(ids, k3.ref, k3.ref, {}, &rope); });
    // Four queries at the end of a 2-token sequence start at -2.
    HostTensor q4(rt::DType::F32, {2, 2, 4, 16}), out4 = q4;
    expectFailsUnchanged(
        *cache, "decodeStep: query positions of sequence 1 start at -2", [&] {
          return steps.decodeStep(ids, q4.ref, out4.ref, {}, nullptr, nullptr,
                                  &rope);
        });
    // Without the table row for position 6, a decode at length 7 fails.
    ASSERT_TRUE(ok(steps.appendStep(ids, k.ref, k.ref, {1, 0})));
    HostTensor q(rt::DType::F32, {2, 2, 1, 16}), out = q;
    expectFailsUnchanged(
        *cache,
        "decodeStep: query positions of sequence 0 reach 6 but "
        "rotary_cos holds 6 positions",
        [&] {
          Tables six(rt::DType::F32, 6, 16);
          kv::RotaryEmbedding r = six.rope(RopeStyle::NeoX);
          return steps.decodeStep(ids, q.ref, out.ref, {}, nullptr, nullptr,
                                  &r);
        });
  }
}

/// The reference functions check the same things on raw operands and write
/// nothing on error.
TEST(KvCacheRopeErrors, ReferenceAppendPastTheTableWritesNothing) {
  auto cache = makeContiguous(1, 16, 1, 8);
  SeqId id = get(cache->addSequence());
  const kv::KvBatch *b = get(cache->prepareStep({id}, 5));
  ASSERT_NE(b, nullptr);
  Tables tables(rt::DType::F32, 4, 8);
  kv::RotaryEmbedding rope = tables.rope(RopeStyle::NeoX);
  HostTensor k(rt::DType::F32, {1, 1, 5, 8});
  k.fill(1.0);
  std::vector<uint8_t> before = bytesOf(cache->keyCache());
  std::string msg = errorOf(kv::referenceCacheAppend(b->appendOperands(), k.ref,
                                                     k.ref, nullptr, &rope));
  EXPECT_NE(msg.find("cache_append: key positions of sequence 0 reach 4 but "
                     "rotary_cos holds 4 positions"),
            std::string::npos)
      << msg;
  EXPECT_EQ(bytesOf(cache->keyCache()), before);
}

} // namespace
