//===- KvCacheReferenceTest.cpp - the float64 cache-op reference ----------===//
//
// cache_append must put every row where the block table says and nowhere
// else; cache_attention over a paged cache must equal plain attention
// (runtime/Reference.h) over the same K/V laid out contiguously, with each
// sequence's queries at its end.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/KernelSignature.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace kv_test;

namespace {

/// The K and V rows of every sequence as the test wrote them: the truth
/// both cache kinds are compared with. [seq][pos][h][c].
struct Mirror {
  int64_t hkv, d, dv;
  std::vector<std::vector<double>> k, v; // per sequence, [pos][h][c] flat

  /// Records rows [0, n[b]) of key/value [B, Hkv, S, *] for seqs[b].
  void append(llvm::ArrayRef<int> seqs, const HostTensor &key,
              const HostTensor &value, llvm::ArrayRef<int32_t> n) {
    int64_t s = key.ref.shape[2];
    for (size_t b = 0; b < seqs.size(); ++b)
      for (int64_t r = 0; r < n[b]; ++r)
        for (int64_t h = 0; h < hkv; ++h) {
          for (int64_t c = 0; c < d; ++c)
            k[seqs[b]].push_back(key.at(((b * hkv + h) * s + r) * d + c));
          for (int64_t c = 0; c < dv; ++c)
            v[seqs[b]].push_back(value.at(((b * hkv + h) * s + r) * dv + c));
        }
  }
  double key(int seq, int64_t pos, int64_t h, int64_t c) const {
    return k[seq][(pos * hkv + h) * d + c];
  }
  double val(int seq, int64_t pos, int64_t h, int64_t c) const {
    return v[seq][(pos * hkv + h) * dv + c];
  }
  int64_t length(int seq) const {
    return static_cast<int64_t>(k[seq].size()) / (hkv * d);
  }
};

/// Reads (pos, h, c) of a sequence straight out of the cache buffers.
double cachedKey(kv::KvCache &c, SeqId id, int64_t pos, int64_t h, int64_t ch) {
  rt::BufferRef kc = c.keyCache();
  auto st = kc.effectiveStrides();
  if (auto *p = llvm::dyn_cast<kv::PagedKvCache>(&c)) {
    int32_t page = cantFail(p->pagesOf(id))[pos / p->pageSize()];
    if (p->pageLayout() == PageLayout::HND) // [P, Hkv, page_size, D]
      return rt::loadAsDouble(kc, page * st[0] + h * st[1] +
                                      (pos % p->pageSize()) * st[2] + ch);
    return rt::loadAsDouble(kc, page * st[0] + (pos % p->pageSize()) * st[1] +
                                    h * st[2] + ch);
  }
  return rt::loadAsDouble(kc, id.slot * st[0] + h * st[1] + pos * st[2] + ch);
}

double cachedValue(kv::KvCache &c, SeqId id, int64_t pos, int64_t h,
                   int64_t ch) {
  rt::BufferRef vc = c.valueCache();
  auto st = vc.effectiveStrides();
  if (auto *p = llvm::dyn_cast<kv::PagedKvCache>(&c)) {
    int32_t page = cantFail(p->pagesOf(id))[pos / p->pageSize()];
    if (p->pageLayout() == PageLayout::HND) // [P, Hkv, page_size, D]
      return rt::loadAsDouble(vc, page * st[0] + h * st[1] +
                                      (pos % p->pageSize()) * st[2] + ch);
    return rt::loadAsDouble(vc, page * st[0] + (pos % p->pageSize()) * st[1] +
                                    h * st[2] + ch);
  }
  return rt::loadAsDouble(vc, id.slot * st[0] + h * st[1] + pos * st[2] + ch);
}

void expectCacheMatches(kv::KvCache &c, llvm::ArrayRef<SeqId> ids,
                        const Mirror &m) {
  for (size_t s = 0; s < ids.size(); ++s) {
    ASSERT_EQ(get(c.length(ids[s])), m.length(s)) << "sequence " << s;
    for (int64_t pos = 0; pos < m.length(s); ++pos)
      for (int64_t h = 0; h < m.hkv; ++h) {
        for (int64_t ch = 0; ch < m.d; ++ch)
          ASSERT_EQ(cachedKey(c, ids[s], pos, h, ch), m.key(s, pos, h, ch))
              << "key of sequence " << s << " at " << pos << ", head " << h;
        for (int64_t ch = 0; ch < m.dv; ++ch)
          ASSERT_EQ(cachedValue(c, ids[s], pos, h, ch), m.val(s, pos, h, ch))
              << "value of sequence " << s << " at " << pos;
      }
  }
}

struct AppendCase {
  bool paged;
  int64_t pageSize; ///< paged only
  ElementType dtype;
  PageLayout layout = PageLayout::NHD;
};

/// Short names in test listings (gtest prints unknown params as bytes).
void PrintTo(const AppendCase &c, std::ostream *os) {
  *os << (c.paged ? "paged, page size " + std::to_string(c.pageSize)
                  : std::string("contiguous"))
      << ", " << mlir::attn::stringifyElementType(c.dtype) << ", "
      << mlir::attn::stringifyPageLayout(c.layout).str();
}

class KvCacheAppend : public ::testing::TestWithParam<AppendCase> {};

/// Ragged appends, crossing page boundaries, into 4 sequences; after every
/// step each sequence holds exactly its rows (so a write to one sequence
/// never touches another's).
TEST_P(KvCacheAppend, RowsLandWhereTheCacheSays) {
  AppendCase p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t hkv = 2, d = 8, dv = 5, maxLen = 48;
  std::unique_ptr<kv::KvCache> c;
  if (p.paged)
    c = makePaged(4 * maxLen / p.pageSize, p.pageSize, maxLen / p.pageSize, 4,
                  hkv, d, dv, p.dtype, p.layout);
  else
    c = makeContiguous(4, maxLen, hkv, d, dv, p.dtype);
  std::vector<SeqId> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(get(c->addSequence()));
  Mirror m{hkv, d, dv, std::vector<std::vector<double>>(4),
           std::vector<std::vector<double>>(4)};
  kv::KvStepper steps = referenceStepper(*c);
  rt::DType t = dtypeOf(p.dtype);

  // Step shapes: prefill chunks of different lengths, then decode steps
  // for a subset of sequences.
  struct Step {
    std::vector<int> seqs;
    int64_t snew;
    std::vector<int32_t> n;
  };
  std::vector<Step> plan = {
      {{0, 1, 2, 3}, 17, {17, 1, 0, 16}},
      {{0, 1, 2, 3}, 1, {1, 1, 1, 1}},
      {{1, 2}, 15, {15, 14}},
      {{0, 1, 2, 3}, 1, {}},
      {{2, 3}, 9, {9, 9}},
      {{0, 1, 2, 3}, 1, {1, 0, 1, 1}},
  };
  for (const Step &step : plan) {
    int64_t n = step.seqs.size();
    HostTensor k(t, {n, hkv, step.snew, d}), v(t, {n, hkv, step.snew, dv});
    k.fillRandom(rng);
    v.fillRandom(rng);
    std::vector<SeqId> batch;
    for (int s : step.seqs)
      batch.push_back(ids[s]);
    // A contiguous cache needs consecutive slots: every step here is.
    ASSERT_TRUE(ok(steps.appendStep(batch, k.ref, v.ref, step.n)));
    std::vector<int32_t> counts = step.n;
    if (counts.empty())
      counts.assign(n, static_cast<int32_t>(step.snew));
    m.append(step.seqs, k, v, counts);
    expectCacheMatches(*c, ids, m);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Caches, KvCacheAppend,
    ::testing::Values(AppendCase{true, 16, ElementType::F32},
                      AppendCase{true, 1, ElementType::F32},
                      AppendCase{true, 4, ElementType::BF16},
                      AppendCase{false, 0, ElementType::F32},
                      AppendCase{false, 0, ElementType::F16},
                      AppendCase{true, 16, ElementType::F32, PageLayout::HND},
                      AppendCase{true, 1, ElementType::F16, PageLayout::HND},
                      AppendCase{true, 4, ElementType::BF16, PageLayout::HND}),
    [](const auto &info) {
      const AppendCase &p = info.param;
      return (p.paged ? "Paged" + std::to_string(p.pageSize) : "Contiguous") +
             std::string("_") + mlir::attn::stringifyElementType(p.dtype) +
             (p.layout == PageLayout::HND ? "_hnd" : "");
    });

TEST(KvCacheReference, AppendConvertsToTheCacheType) {
  // The raw op converts (the step API insists on matching types).
  auto c = makePaged(2, 4, 2, 1, 1, 2, 2, ElementType::BF16);
  SeqId s = get(c->addSequence());
  const kv::KvBatch *b = get(c->prepareStep({s}, 1));
  HostTensor k(rt::DType::F32, {1, 1, 1, 2}), v(rt::DType::F32, {1, 1, 1, 2});
  k.set(0, 1.00390625); // 1 + 2^-8: a tie in bf16, rounds to even (1.0)
  k.set(1, 3.0);
  v.set(0, -0.5);
  v.set(1, 1.01171875); // 1 + 3·2^-8: a tie, rounds up to 1 + 2^-6
  ASSERT_TRUE(ok(kv::referenceCacheAppend(b->appendOperands(), k.ref, v.ref)));
  EXPECT_EQ(cachedKey(*c, s, 0, 0, 0), 1.0);
  EXPECT_EQ(cachedKey(*c, s, 0, 0, 1), 3.0);
  EXPECT_EQ(cachedValue(*c, s, 0, 0, 0), -0.5);
  EXPECT_EQ(cachedValue(*c, s, 0, 0, 1), 1.015625);
}

//===----------------------------------------------------------------------===//
// Decode against the plain attention reference
//===----------------------------------------------------------------------===//

/// runtime/Reference over one sequence's rows laid out contiguously, its
/// Sq queries at the end (q_offset = length - Sq).
rt::ReferenceResult plainAttention(const Mirror &m, int seq,
                                   const HostTensor &query, int64_t b,
                                   const kv::CacheAttentionOptions &o) {
  int64_t hq = query.ref.shape[1], sq = query.ref.shape[2];
  int64_t len = m.length(seq);
  mlir::attn::AttentionSpec spec;
  spec.numHeads = hq;
  spec.numKvHeads = m.hkv;
  spec.queryLen = sq;
  spec.kvLen = len;
  spec.headDim = m.d;
  spec.valueDim = m.dv;
  spec.mask = o.mask;
  spec.mask.qOffset = len - sq;
  spec.scale = o.scale;
  spec.softcap = o.softcap;
  HostTensor q(rt::DType::F32, {1, hq, sq, m.d}),
      k(rt::DType::F32, {1, m.hkv, len, m.d}),
      v(rt::DType::F32, {1, m.hkv, len, m.dv}),
      out(rt::DType::F32, {1, hq, sq, m.dv});
  for (int64_t i = 0; i < q.size(); ++i)
    q.set(i, query.at(b * q.size() + i));
  for (int64_t h = 0; h < m.hkv; ++h)
    for (int64_t pos = 0; pos < len; ++pos) {
      for (int64_t c = 0; c < m.d; ++c)
        k.set((h * len + pos) * m.d + c, m.key(seq, pos, h, c));
      for (int64_t c = 0; c < m.dv; ++c)
        v.set((h * len + pos) * m.dv + c, m.val(seq, pos, h, c));
    }
  rt::AttentionArgs args;
  args.query = q.ref;
  args.key = k.ref;
  args.value = v.ref;
  args.output = out.ref;
  return cantFail(rt::referenceAttention(rt::signatureForSpec(spec), args, 1));
}

struct DecodeCase {
  const char *name;
  int64_t hq, hkv, sq;
  kv::CacheAttentionOptions options;
  PageLayout layout = PageLayout::NHD;
};

void PrintTo(const DecodeCase &c, std::ostream *os) { *os << c.name; }

class KvCacheDecodeReference : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(KvCacheDecodeReference, PagedEqualsContiguousAttention) {
  const DecodeCase &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t d = 16, dv = 12;
  // Ragged lengths: empty, one token, exactly a page, across pages.
  std::vector<int32_t> lengths = {0, 1, 16, 37, 5, 64};
  if (p.sq > 1)
    lengths = {0, 3, 16, 37, 5, 64}; // the queries are within the sequence
  int64_t n = lengths.size();
  auto paged =
      makePaged(64, 16, 4, n, p.hkv, d, dv, ElementType::F32, p.layout);
  auto contiguous = makeContiguous(n, 64, p.hkv, d, dv);
  std::vector<SeqId> pIds, cIds;
  for (int64_t i = 0; i < n; ++i) {
    pIds.push_back(get(paged->addSequence()));
    cIds.push_back(get(contiguous->addSequence()));
  }
  // Interleave growth so that each sequence's pages are scattered.
  Mirror m{p.hkv, d, dv, std::vector<std::vector<double>>(n),
           std::vector<std::vector<double>>(n)};
  kv::KvStepper pSteps = referenceStepper(*paged),
                cSteps = referenceStepper(*contiguous);
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  for (int64_t chunk = 0; chunk < 64; chunk += 8) {
    std::vector<int32_t> counts(n);
    for (int64_t i = 0; i < n; ++i)
      counts[i] = std::clamp<int32_t>(lengths[i] - chunk, 0, 8);
    HostTensor k(rt::DType::F32, {n, p.hkv, 8, d}),
        v(rt::DType::F32, {n, p.hkv, 8, dv});
    k.fillRandom(rng);
    v.fillRandom(rng);
    ASSERT_TRUE(ok(pSteps.appendStep(pIds, k.ref, v.ref, counts)));
    ASSERT_TRUE(ok(cSteps.appendStep(cIds, k.ref, v.ref, counts)));
    m.append(all, k, v, counts);
  }
  auto pages = get(paged->pagesOf(pIds[3]));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_NE(pages[1], pages[0] + 1) << "pages should be scattered";

  HostTensor q(rt::DType::F32, {n, p.hq, p.sq, d});
  q.fillRandom(rng);
  const kv::KvBatch *pb = get(paged->prepareStep(pIds));
  auto fromPaged = get(
      kv::referenceCacheAttention(pb->attentionOperands(), q.ref, p.options));
  const kv::KvBatch *cb = get(contiguous->prepareStep(cIds));
  auto fromContiguous = get(
      kv::referenceCacheAttention(cb->attentionOperands(), q.ref, p.options));
  ASSERT_EQ(fromPaged.output.size(), size_t(n * p.hq * p.sq * dv));
  EXPECT_EQ(fromPaged.output, fromContiguous.output)
      << "same rows, same order: bit-identical";
  EXPECT_EQ(fromPaged.lse, fromContiguous.lse);

  for (int64_t b = 0; b < n; ++b) {
    SCOPED_TRACE("sequence " + std::to_string(b) + " of length " +
                 std::to_string(lengths[b]));
    int64_t rows = p.hq * p.sq;
    if (lengths[b] == 0) {
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_EQ(fromPaged.lse[b * rows + r],
                  -std::numeric_limits<double>::infinity());
        for (int64_t c = 0; c < dv; ++c)
          EXPECT_EQ(fromPaged.output[(b * rows + r) * dv + c], 0.0);
      }
      continue;
    }
    rt::ReferenceResult plain = plainAttention(m, b, q, b, p.options);
    for (int64_t r = 0; r < rows; ++r) {
      double want = plain.lse[r], got = fromPaged.lse[b * rows + r];
      if (std::isinf(want))
        EXPECT_EQ(got, want) << "row " << r;
      else
        EXPECT_NEAR(got, want, 1e-12) << "row " << r;
      for (int64_t c = 0; c < dv; ++c)
        EXPECT_NEAR(fromPaged.output[(b * rows + r) * dv + c],
                    plain.output[r * dv + c], 1e-12)
            << "row " << r << ", channel " << c;
    }
  }
}

kv::CacheAttentionOptions causal(int64_t windowLeft = -1) {
  kv::CacheAttentionOptions o;
  o.mask.causal = true;
  o.mask.windowLeft = windowLeft;
  return o;
}

kv::CacheAttentionOptions softcapped() {
  kv::CacheAttentionOptions o = causal();
  o.softcap = 5.0f;
  o.scale = 0.3f;
  return o;
}

kv::CacheAttentionOptions globalDilated() {
  kv::CacheAttentionOptions o = causal();
  o.mask.dilation = 3;
  o.mask.globalTokens = 2;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Masks, KvCacheDecodeReference,
    ::testing::Values(
        DecodeCase{"GqaDecodeNoMask", 8, 2, 1, {}},
        DecodeCase{"GqaDecodeCausal", 8, 2, 1, causal()},
        DecodeCase{"MqaDecodeWindow", 4, 1, 1, causal(6)},
        DecodeCase{"MhaChunkCausal", 2, 2, 3, causal()},
        DecodeCase{"GqaChunkWindow", 6, 3, 3, causal(4)},
        DecodeCase{"GqaChunkSoftcap", 4, 2, 3, softcapped()},
        DecodeCase{"GqaChunkGlobalDilated", 4, 2, 3, globalDilated()},
        DecodeCase{"HndGqaDecodeCausal", 8, 2, 1, causal(), PageLayout::HND},
        DecodeCase{"HndGqaChunkWindow", 6, 3, 3, causal(4), PageLayout::HND}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
