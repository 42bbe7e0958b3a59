//===- ConvertUptrainTest.cpp - MHA -> GQA checkpoint conversion ----------===//
//
// A small MHA layer made in the test, converted to G groups: the converted
// layer's attention must equal (float64 reference) the original layer's
// attention with each K/V head replaced by the mean of its group, for f32,
// f16 and bf16 weights; G = H is the identity; every error is reported.
//
//===----------------------------------------------------------------------===//

#include "runtime/convert/Uptrain.h"
#include "test/unit/RuntimeTestUtils.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace mlir::attn;
using attn_test::errorOf;

namespace {

struct Layer {
  int64_t e, hq, h, d;
  st::DType dtype;
  std::string prefix = "model.layers.0.self_attn.";
};

st::Tensor randomTensor(const std::string &name, st::DType dtype,
                        std::vector<int64_t> shape, std::mt19937_64 &rng) {
  st::Tensor t{name, dtype, shape, {}};
  t.data.resize(t.numElements() * st::dtypeBytes(dtype));
  std::normal_distribution<double> dist(0.0, 0.5);
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.set(i, dist(rng));
  return t;
}

/// q/k/v projections with biases plus an unrelated tensor.
st::File makeCheckpoint(const Layer &l, std::mt19937_64 &rng) {
  st::File f;
  f.metadata["format"] = "pt";
  auto add = [&](const std::string &n, std::vector<int64_t> s) {
    f.tensors.push_back(randomTensor(l.prefix + n, l.dtype, s, rng));
  };
  add("q_proj.weight", {l.hq * l.d, l.e});
  add("k_proj.weight", {l.h * l.d, l.e});
  add("v_proj.weight", {l.h * l.d, l.e});
  add("q_proj.bias", {l.hq * l.d});
  add("k_proj.bias", {l.h * l.d});
  add("v_proj.bias", {l.h * l.d});
  add("o_proj.weight", {l.e, l.hq * l.d});
  return f;
}

/// y[s, r] = W[r, :] . x[s, :] + b[r] in float64; [S, rows].
std::vector<double> project(const st::Tensor &w, const st::Tensor &b,
                            const std::vector<double> &x, int64_t s) {
  int64_t rows = w.shape[0], e = w.shape[1];
  std::vector<double> y(s * rows);
  for (int64_t i = 0; i < s; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double acc = b.get(r);
      for (int64_t c = 0; c < e; ++c)
        acc += w.get(r * e + c) * x[i * e + c];
      y[i * rows + r] = acc;
    }
  return y;
}

/// Replaces each of `h` heads of y [S, h*D] by the mean of its group.
std::vector<double> groupMeans(const std::vector<double> &y, int64_t s,
                               int64_t h, int64_t g, int64_t d) {
  std::vector<double> out(s * g * d, 0.0);
  int64_t per = h / g;
  for (int64_t i = 0; i < s; ++i)
    for (int64_t head = 0; head < h; ++head)
      for (int64_t c = 0; c < d; ++c)
        out[(i * g + head / per) * d + c] += y[(i * h + head) * d + c] / per;
  return out;
}

/// Softmax attention of hq query heads over kv heads (query head q reads
/// kv head q / (hq / hkv)), causal, float64; [S, hq*D].
std::vector<double> attention(const std::vector<double> &q,
                              const std::vector<double> &k,
                              const std::vector<double> &v, int64_t s,
                              int64_t hq, int64_t hkv, int64_t d) {
  std::vector<double> out(s * hq * d, 0.0);
  for (int64_t head = 0; head < hq; ++head) {
    int64_t kh = head / (hq / hkv);
    for (int64_t i = 0; i < s; ++i) {
      std::vector<double> p(i + 1);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c)
          dot += q[(i * hq + head) * d + c] * k[(j * hkv + kh) * d + c];
        p[j] = dot / std::sqrt(double(d));
        mx = std::max(mx, p[j]);
      }
      for (double &x : p)
        sum += (x = std::exp(x - mx));
      for (int64_t j = 0; j <= i; ++j)
        for (int64_t c = 0; c < d; ++c)
          out[(i * hq + head) * d + c] +=
              p[j] / sum * v[(j * hkv + kh) * d + c];
    }
  }
  return out;
}

/// Half an ulp of the dtype, relative: the one rounding of a pooled value.
double halfUlp(st::DType t) {
  switch (t) {
  case st::DType::F16:
    return std::ldexp(1.0, -11);
  case st::DType::BF16:
    return std::ldexp(1.0, -8);
  case st::DType::F32:
    return std::ldexp(1.0, -24);
  default:
    return std::ldexp(1.0, -53);
  }
}

void checkLayer(const Layer &l, int64_t groups, uint64_t seed) {
  SCOPED_TRACE(std::string(st::stringifyDType(l.dtype)) +
               " H=" + std::to_string(l.h) + " G=" + std::to_string(groups) +
               " ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  st::File original = makeCheckpoint(l, rng);
  st::File converted = original;
  convert::ConvertOptions opts;
  opts.pooling = {l.h, groups, l.d};
  auto names = convert::convertCheckpoint(converted, opts);
  ASSERT_TRUE(bool(names)) << llvm::toString(names.takeError());
  EXPECT_EQ(names->size(), 4u);
  EXPECT_EQ(converted.metadata.at("attn.uptrain"),
            "heads=" + std::to_string(l.h) +
                " groups=" + std::to_string(groups));
  EXPECT_EQ(converted.metadata.at("format"), "pt");
  // Untouched tensors are copied bit for bit.
  for (const char *n : {"q_proj.weight", "q_proj.bias", "o_proj.weight"})
    EXPECT_EQ(converted.find(l.prefix + n)->data,
              original.find(l.prefix + n)->data);

  // Each pooled weight is the group mean rounded once.
  for (const char *n : {"k_proj.weight", "v_proj.bias"}) {
    const st::Tensor &a = *original.find(l.prefix + n);
    const st::Tensor &b = *converted.find(l.prefix + n);
    ASSERT_EQ(b.shape[0], groups * l.d);
    int64_t cols = a.numElements() / a.shape[0], per = l.h / groups;
    for (int64_t r = 0; r < b.shape[0]; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        int64_t g = r / l.d, dd = r % l.d;
        double mean = 0, magnitude = 0;
        for (int64_t j = 0; j < per; ++j) {
          double x = a.get(((g * per + j) * l.d + dd) * cols + c);
          mean += x / per;
          magnitude += std::fabs(x) / per;
        }
        double got = b.get(r * cols + c);
        // Half an ulp of the dtype, plus the float64 summation-order
        // difference (relative to the terms: they may cancel) and half the
        // f16 subnormal spacing.
        double tol = std::fabs(mean) * halfUlp(l.dtype) +
                     magnitude * std::ldexp(1.0, -50) +
                     (l.dtype == st::DType::F16 ? std::ldexp(1.0, -25) : 0);
        ASSERT_LE(std::fabs(got - mean), tol)
            << n << "[" << r << ", " << c << "]";
      }
  }

  // The layers' attention: converted vs original with group-mean heads.
  int64_t s = 7;
  std::vector<double> x(s * l.e);
  std::normal_distribution<double> dist;
  for (double &v : x)
    v = dist(rng);
  auto w = [&](const st::File &f, const char *n) -> const st::Tensor & {
    return *f.find(l.prefix + n);
  };
  auto q =
      project(w(original, "q_proj.weight"), w(original, "q_proj.bias"), x, s);
  auto kRef = groupMeans(
      project(w(original, "k_proj.weight"), w(original, "k_proj.bias"), x, s),
      s, l.h, groups, l.d);
  auto vRef = groupMeans(
      project(w(original, "v_proj.weight"), w(original, "v_proj.bias"), x, s),
      s, l.h, groups, l.d);
  auto kNew =
      project(w(converted, "k_proj.weight"), w(converted, "k_proj.bias"), x, s);
  auto vNew =
      project(w(converted, "v_proj.weight"), w(converted, "v_proj.bias"), x, s);
  auto ref = attention(q, kRef, vRef, s, l.hq, groups, l.d);
  auto got = attention(q, kNew, vNew, s, l.hq, groups, l.d);
  // Pooled weights are rounded once to the dtype: relative error halfUlp
  // per weight, summed over E terms of |w x| ~ 0.5 * 1.
  double tol = 4 * halfUlp(l.dtype) * std::sqrt(double(l.e)) * 4 + 1e-12;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i]));
    ASSERT_NEAR(got[i], ref[i], tol) << "output " << i;
  }
}

TEST(Uptrain, ConvertedLayerEqualsGroupMeanAttention) {
  uint64_t seed = attn_test::testSeed();
  for (st::DType t :
       {st::DType::F32, st::DType::F16, st::DType::BF16, st::DType::F64})
    for (int64_t g : {1, 2, 3, 6}) // MQA, GQA, GQA, identity
      checkLayer({/*e=*/13, /*hq=*/12, /*h=*/6, /*d=*/5, t}, g, seed++);
  // Hq > H already (a GQA checkpoint pooled further).
  checkLayer({9, 8, 4, 3, st::DType::F32}, 2, seed);
}

TEST(Uptrain, IdentityWhenGroupsEqualHeads) {
  std::mt19937_64 rng(attn_test::testSeed());
  for (st::DType t : {st::DType::F32, st::DType::F16, st::DType::BF16}) {
    st::File f = makeCheckpoint({11, 4, 4, 3, t}, rng), g = f;
    convert::ConvertOptions opts;
    opts.pooling = {4, 4, 0};
    ASSERT_TRUE(bool(convert::convertCheckpoint(g, opts)));
    for (size_t i = 0; i < f.tensors.size(); ++i)
      EXPECT_EQ(g.tensors[i].data, f.tensors[i].data) << f.tensors[i].name;
  }
}

TEST(Uptrain, PatternsOverAllLayers) {
  std::mt19937_64 rng(3);
  st::File f;
  for (int layer = 0; layer < 3; ++layer) {
    Layer l{8, 4, 4, 2, st::DType::F32};
    l.prefix = "h." + std::to_string(layer) + ".attn.";
    st::File one = makeCheckpoint(l, rng);
    for (st::Tensor &t : one.tensors)
      f.tensors.push_back(std::move(t));
  }
  convert::ConvertOptions opts;
  opts.pooling = {4, 1, 2};
  opts.patterns = {{"k-weight", "h.*.attn.k_proj.weight", true},
                   {"v-weight", "h.[02].attn.v_proj.weight", true}};
  // Layer 1's V weight is left out: the K and V counts differ.
  EXPECT_NE(errorOf(convert::convertCheckpoint(f, opts))
                .find("--k-weight matches 3 tensors but --v-weight matches 2"),
            std::string::npos);
  opts.patterns[1].glob = "h.?.attn.v_proj.weight";
  auto names = convert::convertCheckpoint(f, opts);
  ASSERT_TRUE(bool(names)) << llvm::toString(names.takeError());
  EXPECT_EQ(names->size(), 6u);
  EXPECT_EQ(f.find("h.2.attn.v_proj.weight")->shape,
            (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(f.find("h.2.attn.k_proj.bias")->shape, (std::vector<int64_t>{8}));
}

TEST(Uptrain, Errors) {
  std::mt19937_64 rng(5);
  Layer l{8, 6, 6, 2, st::DType::F32};
  const st::File base = makeCheckpoint(l, rng);
  auto run = [&](convert::HeadPooling p,
                 std::vector<convert::TensorPattern> pats = {}) {
    st::File f = base;
    convert::ConvertOptions opts;
    opts.pooling = p;
    if (!pats.empty())
      opts.patterns = pats;
    std::string msg = errorOf(convert::convertCheckpoint(f, opts));
    for (size_t i = 0; i < f.tensors.size(); ++i)
      EXPECT_EQ(f.tensors[i].data, base.tensors[i].data)
          << "a failed conversion changed " << f.tensors[i].name;
    EXPECT_EQ(f.metadata, base.metadata);
    return msg;
  };
  EXPECT_EQ(run({6, 4, 0}), "6 heads do not divide into 4 groups");
  EXPECT_EQ(run({0, 1, 0}), "heads must be positive, got 0");
  EXPECT_EQ(run({6, -1, 0}), "groups must be positive, got -1");
  EXPECT_EQ(run({6, 3, -2}), "head dim must be positive, got -2");
  EXPECT_EQ(run({5, 5, 0}),
            "tensor 'model.layers.0.self_attn.k_proj.weight': 12 rows do not "
            "divide into 5 heads");
  EXPECT_NE(run({6, 3, 3}).find("12 rows are 6 heads of 2, not of head dim 3"),
            std::string::npos);
  EXPECT_EQ(run({6, 3, 0}, {{"k-weight", "nothing.*", true}}),
            "missing tensor: no tensor matches --k-weight=nothing.*");
  EXPECT_NE(run({6, 3, 0}, {{"k-weight", "*k_proj.weight", true},
                            {"x", "*proj.weight", true}})
                .find("matches both --k-weight and --x"),
            std::string::npos);
  EXPECT_NE(run({6, 3, 0}, {{"k-weight", "[", true}}).find("invalid pattern"),
            std::string::npos);
  // Rank and dtype.
  st::Tensor t = base.tensors[1];
  t.shape = {3, 4, 4};
  EXPECT_NE(errorOf(convert::poolHeads(t, {6, 3, 0})).find("got rank 3"),
            std::string::npos);
  st::Tensor ints{"ints", st::DType::I32, {12, 2}, std::vector<uint8_t>(96, 0)};
  EXPECT_NE(errorOf(convert::poolHeads(ints, {6, 3, 0}))
                .find("dtype I32 cannot be averaged"),
            std::string::npos);
}

} // namespace
