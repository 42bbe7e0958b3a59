//===- CapiKvCacheTest.cpp - the C API's KV caches ------------------------===//
//
// A paged and a contiguous cache through attn.h: ragged append + decode
// checked against a float64 loop over the appended rows, the statistics,
// and every error path (status, message, and the cache left unchanged).
//
//===----------------------------------------------------------------------===//
#include "CapiTestUtils.h"
#include "runtime/capi/attn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using attn_capi_test::lastError;
using attn_capi_test::randomVec;

constexpr int64_t kHq = 4, kHkv = 2, kD = 8, kPrompt = 6;

attn_kv_cache_config config(bool paged) {
  attn_kv_cache_config c{};
  c.kind = paged ? ATTN_KV_PAGED : ATTN_KV_CONTIGUOUS;
  c.max_sequences = 2;
  c.max_seq_len = 16;
  c.num_pages = 4;
  c.page_size = 4;
  c.max_pages_per_seq = 4;
  c.num_kv_heads = kHkv;
  c.head_dim = kD;
  c.dtype = ATTN_F32;
  return c;
}

class CapiKvCache : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override {
    ASSERT_EQ(attn_runtime_create(2, &rt), ATTN_OK);
    attn_kv_cache_config c = config(GetParam());
    ASSERT_EQ(attn_kv_cache_create(rt, &c, &cache), ATTN_OK) << lastError();
    ASSERT_EQ(attn_kv_cache_add_sequence(cache, &seqs[0]), ATTN_OK);
    ASSERT_EQ(attn_kv_cache_add_sequence(cache, &seqs[1]), ATTN_OK);
  }
  void TearDown() override {
    attn_kv_cache_destroy(cache);
    attn_runtime_destroy(rt);
  }
  /// Appends kPrompt rows (ragged: `lengths`) to both sequences.
  attn_status append(const int32_t *lengths, int64_t rows = kPrompt) {
    int64_t shape[4] = {2, kHkv, rows, kD};
    attn_buffer kb{k.data(), ATTN_F32, 4, shape, nullptr, ATTN_HOST},
        vb{v.data(), ATTN_F32, 4, shape, nullptr, ATTN_HOST};
    return attn_kv_cache_append(cache, seqs, 2, &kb, &vb, lengths);
  }
  int64_t length(int i) {
    int64_t n = -1;
    EXPECT_EQ(attn_kv_cache_length(cache, seqs[i], &n), ATTN_OK);
    return n;
  }

  attn_runtime *rt = nullptr;
  attn_kv_cache *cache = nullptr;
  attn_seq_id seqs[2];
  std::vector<float> k = randomVec(2 * kHkv * kPrompt * kD, 11),
                     v = randomVec(k.size(), 12);
};

TEST_P(CapiKvCache, RaggedAppendAndDecodeMatchReference) {
  const int32_t lengths[2] = {6, 3};
  ASSERT_EQ(append(lengths), ATTN_OK) << lastError();
  EXPECT_EQ(length(0), 6);
  EXPECT_EQ(length(1), 3);
  // Decode: one query per sequence, the last appended token's position.
  std::vector<float> q = randomVec(2 * kHq * kD, 13), o(q.size(), NAN),
                     lse(2 * kHq, NAN);
  int64_t qs[4] = {2, kHq, 1, kD}, ls[3] = {2, kHq, 1};
  attn_buffer qb{q.data(), ATTN_F32, 4, qs, nullptr, ATTN_HOST},
      ob{o.data(), ATTN_F32, 4, qs, nullptr, ATTN_HOST},
      lb{lse.data(), ATTN_F32, 3, ls, nullptr, ATTN_HOST};
  attn_decode_options opts;
  attn_decode_options_init(&opts);
  opts.causal = 1;
  opts.has_scale = 1;
  opts.scale = 0.3f;
  ASSERT_EQ(attn_kv_cache_attention(cache, seqs, 2, &qb, &ob, &lb, &opts),
            ATTN_OK)
      << lastError();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < kHq; ++h) {
      int64_t g = h / (kHq / kHkv), n = lengths[b];
      std::vector<double> p(n);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t x = 0; x < kD; ++x)
          dot += double(q[(b * kHq + h) * kD + x]) *
                 k[((b * kHkv + g) * kPrompt + j) * kD + x];
        mx = std::max(mx, p[j] = dot * double(0.3f));
      }
      for (double &x : p)
        sum += x = std::exp(x - mx);
      EXPECT_NEAR(lse[b * kHq + h], mx + std::log(sum), 2e-5);
      for (int64_t x = 0; x < kD; ++x) {
        double ref = 0;
        for (int64_t j = 0; j < n; ++j)
          ref += p[j] / sum * v[((b * kHkv + g) * kPrompt + j) * kD + x];
        EXPECT_NEAR(o[(b * kHq + h) * kD + x], ref,
                    2e-5 + 2e-5 * std::fabs(ref));
      }
    }

  attn_kv_cache_stats stats;
  ASSERT_EQ(attn_kv_cache_stats_get(cache, &stats), ATTN_OK);
  EXPECT_EQ(stats.num_sequences, 2);
  EXPECT_EQ(stats.max_sequences, 2);
  EXPECT_EQ(stats.max_sequence_length, 16);
  EXPECT_EQ(stats.memory, ATTN_HOST);
  if (GetParam()) {
    EXPECT_EQ(stats.num_pages, 4);
    EXPECT_EQ(stats.num_free_pages, 4 - 2 - 1); // ceil(6/4) + ceil(3/4)
    EXPECT_EQ(stats.key_pool_shape[0], 4);
  } else {
    EXPECT_EQ(stats.num_pages, 0);
    EXPECT_EQ(stats.key_pool_shape[2], 16);
  }
  // The pools hold what was appended (first row of sequence 0, head 0).
  int64_t poolElems = 1;
  for (int64_t d : stats.key_pool_shape)
    poolElems *= d;
  std::vector<float> keys(poolElems), values(poolElems);
  ASSERT_EQ(attn_kv_cache_read_pools(cache, keys.data(), values.data()),
            ATTN_OK);
  EXPECT_NE(std::find(keys.begin(), keys.end(), k[0]), keys.end());

  ASSERT_EQ(attn_kv_cache_truncate(cache, seqs[0], 2), ATTN_OK);
  EXPECT_EQ(length(0), 2);
  ASSERT_EQ(attn_kv_cache_free_sequence(cache, seqs[1]), ATTN_OK);
  ASSERT_EQ(attn_kv_cache_stats_get(cache, &stats), ATTN_OK);
  EXPECT_EQ(stats.num_sequences, 1);
}

TEST_P(CapiKvCache, ErrorsChangeNothing) {
  const int32_t lengths[2] = {4, 2};
  ASSERT_EQ(append(lengths), ATTN_OK) << lastError();
  auto unchanged = [&] {
    EXPECT_EQ(length(0), 4);
    EXPECT_EQ(length(1), 2);
  };
  attn_seq_id extra, stale = seqs[1];
  EXPECT_FAILS(attn_kv_cache_add_sequence(cache, &extra), ATTN_ERROR_KV_CACHE,
               "attn_kv_cache_add_sequence");
  EXPECT_FAILS(attn_kv_cache_add_sequence(nullptr, &extra),
               ATTN_ERROR_INVALID_ARGUMENT, "cache is null");
  EXPECT_FAILS(attn_kv_cache_add_sequence(cache, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "out is null");
  const int32_t tooLong[2] = {7, 1};
  EXPECT_FAILS(append(tooLong), ATTN_ERROR_KV_CACHE, "attn_kv_cache_append");
  EXPECT_FAILS(attn_kv_cache_append(cache, seqs, 0, nullptr, nullptr, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "num_seqs 0");
  EXPECT_FAILS(
      attn_kv_cache_append(cache, nullptr, 2, nullptr, nullptr, nullptr),
      ATTN_ERROR_INVALID_ARGUMENT, "seqs is null");
  EXPECT_FAILS(attn_kv_cache_append(cache, seqs, 2, nullptr, nullptr, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "key: buffer is null");
  {
    int64_t shape[4] = {2, kHkv + 1, kPrompt, kD};
    attn_buffer kb{k.data(), ATTN_F32, 4, shape, nullptr, ATTN_HOST};
    EXPECT_FAILS(attn_kv_cache_append(cache, seqs, 2, &kb, &kb, nullptr),
                 ATTN_ERROR_KV_CACHE, "key");
  }
  if (GetParam()) // 4 pages, 2 used; 6 more rows each need 3
    EXPECT_FAILS(append(nullptr, kPrompt), ATTN_ERROR_KV_CACHE, "page");
  unchanged();

  std::vector<float> q(2 * kHq * kD), o(q.size());
  int64_t qs[4] = {2, kHq, 1, kD}, bad[4] = {2, kHq + 1, 1, kD};
  attn_buffer qb{q.data(), ATTN_F32, 4, qs, nullptr, ATTN_HOST},
      ob{o.data(), ATTN_F32, 4, qs, nullptr, ATTN_HOST},
      badq{q.data(), ATTN_F32, 4, bad, nullptr, ATTN_HOST};
  EXPECT_FAILS(
      attn_kv_cache_attention(cache, seqs, 2, &badq, &ob, nullptr, nullptr),
      ATTN_ERROR_KV_CACHE, "attn_kv_cache_attention");
  EXPECT_FAILS(
      attn_kv_cache_attention(cache, seqs, 2, nullptr, &ob, nullptr, nullptr),
      ATTN_ERROR_INVALID_ARGUMENT, "query: buffer is null");
  attn_decode_options opts;
  attn_decode_options_init(&opts);
  opts.dilation = 0;
  EXPECT_FAILS(
      attn_kv_cache_attention(cache, seqs, 2, &qb, &ob, nullptr, &opts),
      ATTN_ERROR_KV_CACHE, "dilation");
  int64_t ls[3] = {2, kHq, 2};
  std::vector<float> lse(4 * kHq);
  attn_buffer lb{lse.data(), ATTN_F32, 3, ls, nullptr, ATTN_HOST};
  EXPECT_FAILS(attn_kv_cache_attention(cache, seqs, 2, &qb, &ob, &lb, nullptr),
               ATTN_ERROR_KV_CACHE, "lse");

  int64_t n;
  EXPECT_FAILS(attn_kv_cache_truncate(cache, seqs[0], 9), ATTN_ERROR_KV_CACHE,
               "attn_kv_cache_truncate");
  ASSERT_EQ(attn_kv_cache_free_sequence(cache, stale), ATTN_OK);
  EXPECT_FAILS(attn_kv_cache_free_sequence(cache, stale), ATTN_ERROR_KV_CACHE,
               "sequence 1");
  EXPECT_FAILS(attn_kv_cache_length(cache, stale, &n), ATTN_ERROR_KV_CACHE,
               "sequence 1");
  attn_seq_id unknown{7, 0};
  EXPECT_FAILS(attn_kv_cache_length(cache, unknown, &n), ATTN_ERROR_KV_CACHE,
               "sequence 7");
  EXPECT_EQ(length(0), 4);
  attn_kv_cache_stats stats;
  EXPECT_FAILS(attn_kv_cache_stats_get(nullptr, &stats),
               ATTN_ERROR_INVALID_ARGUMENT, "cache is null");
  EXPECT_FAILS(attn_kv_cache_read_pools(cache, nullptr, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "keys is null");
}

INSTANTIATE_TEST_SUITE_P(Kinds, CapiKvCache, ::testing::Bool(),
                         [](const auto &info) {
                           return info.param ? "Paged" : "Contiguous";
                         });

TEST(CapiKvCacheErrors, CreateRejectsBadConfigs) {
  attn_runtime *rt;
  ASSERT_EQ(attn_runtime_create(1, &rt), ATTN_OK);
  attn_kv_cache *cache = reinterpret_cast<attn_kv_cache *>(rt);
  attn_kv_cache_config c = config(true);
  EXPECT_FAILS(attn_kv_cache_create(rt, &c, nullptr),
               ATTN_ERROR_INVALID_ARGUMENT, "out is null");
  EXPECT_FAILS(attn_kv_cache_create(nullptr, &c, &cache),
               ATTN_ERROR_INVALID_ARGUMENT, "runtime is null");
  EXPECT_EQ(cache, nullptr);
  EXPECT_FAILS(attn_kv_cache_create(rt, nullptr, &cache),
               ATTN_ERROR_INVALID_ARGUMENT, "config is null");
  attn_kv_cache_config bad = c;
  bad.dtype = ATTN_I32;
  EXPECT_FAILS(attn_kv_cache_create(rt, &bad, &cache),
               ATTN_ERROR_INVALID_ARGUMENT, "is not f32, f16 or bf16");
  bad = c;
  bad.kind = static_cast<attn_kv_kind>(5);
  EXPECT_FAILS(attn_kv_cache_create(rt, &bad, &cache),
               ATTN_ERROR_INVALID_ARGUMENT, "kind 5");
  bad = c;
  bad.memory = static_cast<attn_memory>(9);
  EXPECT_FAILS(attn_kv_cache_create(rt, &bad, &cache),
               ATTN_ERROR_INVALID_ARGUMENT, "memory 9");
  bad = c;
  bad.num_pages = 0;
  EXPECT_FAILS(attn_kv_cache_create(rt, &bad, &cache),
               ATTN_ERROR_INVALID_ARGUMENT, "num");
  bad = config(false);
  bad.max_seq_len = -3;
  EXPECT_FAILS(attn_kv_cache_create(rt, &bad, &cache),
               ATTN_ERROR_INVALID_ARGUMENT, "-3");
  int32_t gpu = 0;
  ASSERT_EQ(attn_cuda_available(&gpu), ATTN_OK);
  if (!gpu) {
    bad = c;
    bad.dtype = ATTN_BF16;
    bad.memory = ATTN_DEVICE;
    EXPECT_FAILS(attn_kv_cache_create(rt, &bad, &cache), ATTN_ERROR_NO_DEVICE,
                 "no CUDA device");
  }
  EXPECT_EQ(cache, nullptr);
  attn_runtime_destroy(rt);
}

} // namespace
