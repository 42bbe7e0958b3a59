//===- CacheReference.cpp - float64 cache ops -----------------------------===//
//
// Naive on purpose: one query row at a time, K/V rows fetched through the
// block table one position at a time, a two-pass softmax in double.
//
//===----------------------------------------------------------------------===//
#include "runtime/kvcache/CacheReference.h"
#include "runtime/Errors.h"
#include "runtime/HalfFloat.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::BufferRef;
using rt::DType;
using rt::loadAsDouble;
using rt::makeError;

void mlir::attn::kv::storeFromDouble(const BufferRef &buffer, int64_t offset,
                                     double value) {
  char *base = static_cast<char *>(buffer.data);
  // Inputs reach here from f32/f16/bf16 or as double results; going
  // through float first is exact for the former and the kernels' own
  // rounding path for the latter.
  float f = static_cast<float>(value);
  switch (buffer.dtype) {
  case DType::F32:
    std::memcpy(base + offset * 4, &f, 4);
    return;
  case DType::F16: {
    uint16_t h = rt::floatToHalf(f);
    std::memcpy(base + offset * 2, &h, 2);
    return;
  }
  case DType::BF16: {
    uint16_t h = rt::floatToBFloat(f);
    std::memcpy(base + offset * 2, &h, 2);
    return;
  }
  case DType::I32: {
    int32_t i = static_cast<int32_t>(value);
    std::memcpy(base + offset * 4, &i, 4);
    return;
  }
  case DType::I1:
    base[offset] = value != 0;
    return;
  case DType::I64: {
    int64_t i = static_cast<int64_t>(value);
    std::memcpy(base + offset * 8, &i, 8);
    return;
  }
  }
}

llvm::Error mlir::attn::kv::referenceCacheAppend(const CacheOperands &cache,
                                                 const BufferRef &key,
                                                 const BufferRef &value,
                                                 const BufferRef *newLengths,
                                                 const RotaryEmbedding *rope) {
  const char *what = "cache_append";
  auto access = CacheAccess::get(cache, what);
  if (!access)
    return access.takeError();
  const CacheGeometry &g = access->geometry();
  int64_t snew = key.shape.size() == 4 ? key.shape[2] : 0;
  if (llvm::Error e = checkBuffer(key, what, "key", std::nullopt,
                                  {g.batch, g.numKvHeads, snew, g.headDim},
                                  "[B, Hkv, Snew, D]"))
    return e;
  if (llvm::Error e = checkBuffer(value, what, "value", key.dtype,
                                  {g.batch, g.numKvHeads, snew, g.valueDim},
                                  "[B, Hkv, Snew, Dv]"))
    return e;
  llvm::SmallVector<int64_t, 16> counts(g.batch, snew), rows(g.batch);
  if (newLengths) {
    if (llvm::Error e = checkBuffer(*newLengths, what, "new_lengths",
                                    DType::I32, {g.batch}, "[B]"))
      return e;
    int64_t stride = newLengths->effectiveStrides()[0];
    for (int64_t b = 0; b < g.batch; ++b) {
      counts[b] = static_cast<int64_t>(loadAsDouble(*newLengths, b * stride));
      if (counts[b] < 0 || counts[b] > snew)
        return makeError(llvm::Twine(what) + ": new_lengths[" + llvm::Twine(b) +
                         "] = " + llvm::Twine(counts[b]) + " is outside [0, " +
                         llvm::Twine(snew) + "]");
    }
  }
  for (int64_t b = 0; b < g.batch; ++b)
    rows[b] = access->length(b) + counts[b];
  if (llvm::Error e = access->checkRows(rows))
    return e;
  if (rope) {
    if (llvm::Error e = checkRotary(*rope, what, "key", g.headDim, key.dtype))
      return e;
    for (int64_t b = 0; b < g.batch; ++b)
      if (llvm::Error e = checkRotaryPositions(*rope, what, "key", b,
                                               access->length(b), rows[b]))
        return e;
  }

  // Every check passed: write.
  auto ks = key.effectiveStrides(), vs = value.effectiveStrides();
  std::vector<double> kRow(g.headDim);
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t h = 0; h < g.numKvHeads; ++h)
      for (int64_t r = 0; r < counts[b]; ++r) {
        int64_t pos = access->length(b) + r;
        int64_t kDst = access->keyOffset(b, pos, h),
                vDst = access->valueOffset(b, pos, h);
        int64_t kSrc = b * ks[0] + h * ks[1] + r * ks[2],
                vSrc = b * vs[0] + h * vs[1] + r * vs[2];
        for (int64_t c = 0; c < g.headDim; ++c)
          kRow[c] = loadAsDouble(key, kSrc + c * ks[3]);
        if (rope)
          rotateRow(*rope, pos, kRow);
        for (int64_t c = 0; c < g.headDim; ++c)
          storeFromDouble(cache.keyCache, kDst + c * access->keyChannelStride(),
                          kRow[c]);
        for (int64_t c = 0; c < g.valueDim; ++c)
          storeFromDouble(cache.valueCache,
                          vDst + c * access->valueChannelStride(),
                          loadAsDouble(value, vSrc + c * vs[3]));
      }
  return llvm::Error::success();
}

namespace {

/// The option checks of both query forms (the op verifier's).
llvm::Error checkCacheOptions(const CacheAttentionOptions &o,
                              llvm::StringRef what) {
  const MaskSpec &m = o.mask;
  if (m.qOffset != 0)
    return makeError(what + ": mask q_offset must be 0: cache_attention "
                            "places queries at the end of each sequence");
  if (m.dilation < 1 || m.windowLeft < -1 || m.windowRight < -1 ||
      m.globalTokens < 0 || (m.causal && m.windowRight > 0))
    return makeError(what + ": invalid mask (dilation must be >= 1, windows "
                            ">= -1 and no look-ahead when causal, global "
                            "tokens >= 0)");
  if (o.scale && (!std::isfinite(*o.scale) || *o.scale == 0))
    return makeError(what + ": scale must be finite and nonzero");
  if (o.softcap && (!std::isfinite(*o.softcap) || *o.softcap <= 0))
    return makeError(what + ": softcap must be finite and > 0");
  return llvm::Error::success();
}

llvm::Error checkHeads(int64_t hq, int64_t hkv, llvm::StringRef what) {
  if (hq <= 0 || hq % hkv != 0)
    return makeError(what + ": query heads (" + llvm::Twine(hq) +
                     ") must be a multiple of key/value heads (" +
                     llvm::Twine(hkv) + ")");
  return llvm::Error::success();
}

/// What every query row of one reference call shares.
struct RowAttention {
  const CacheAccess &access;
  const CacheAttentionOptions &o;
  const BufferRef *sinks;
  float scale;
  int64_t group, valueDim;
  std::vector<double> scores;

  /// Attention of `qRow` (query head h, already rotated) at absolute
  /// position `pos` against the first `len` keys of sequence b: adds the
  /// normalized output to `out` (zeroed, valueDim wide) and returns the
  /// lse (-inf, out untouched, when no key is visible).
  double attend(int64_t b, int64_t h, int64_t pos, int64_t len,
                llvm::ArrayRef<double> qRow, double *out);
};

double RowAttention::attend(int64_t b, int64_t h, int64_t pos, int64_t len,
                            llvm::ArrayRef<double> qRow, double *out) {
  const double ninf = -std::numeric_limits<double>::infinity();
  const CacheOperands &cache = access.operands();
  int64_t hk = h / group, kc = access.keyChannelStride(),
          vc = access.valueChannelStride();
  scores.assign(len, ninf);
  // The sink: a logit in the denominator without a value row.
  double sink =
      sinks ? loadAsDouble(*sinks, h * sinks->effectiveStrides()[0]) : ninf;
  double maxScore = sink;
  for (int64_t j = 0; j < len; ++j) {
    if (!o.mask.allows(pos, j))
      continue;
    int64_t k0 = access.keyOffset(b, j, hk);
    double dot = 0;
    for (size_t c = 0; c < qRow.size(); ++c)
      dot += qRow[c] * loadAsDouble(cache.keyCache, k0 + c * kc);
    double s = scale * dot;
    if (o.softcap)
      s = *o.softcap * std::tanh(s / *o.softcap);
    scores[j] = s;
    maxScore = std::max(maxScore, s);
  }
  if (maxScore == ninf)
    return ninf; // nothing visible: output 0, lse -inf
  double sum = sink == ninf ? 0 : std::exp(sink - maxScore);
  for (int64_t j = 0; j < len; ++j) {
    if (scores[j] == ninf)
      continue;
    double w = std::exp(scores[j] - maxScore);
    sum += w;
    int64_t v0 = access.valueOffset(b, j, hk);
    for (int64_t c = 0; c < valueDim; ++c)
      out[c] += w * loadAsDouble(cache.valueCache, v0 + c * vc);
  }
  for (int64_t c = 0; c < valueDim; ++c)
    out[c] /= sum;
  return maxScore + std::log(sum);
}

/// The checks both reference attentions share once the query's Hq is
/// known: sinks, the rows the lengths claim, the rotary tables (positions:
/// `queriesOf(b)` queries end at lengths[b]).
llvm::Error checkAttentionInputs(const CacheAccess &access, int64_t hq,
                                 DType queryType, const BufferRef *sinks,
                                 const RotaryEmbedding *rope,
                                 llvm::function_ref<int64_t(int64_t)> queriesOf,
                                 llvm::StringRef what) {
  const CacheGeometry &g = access.geometry();
  if (sinks)
    if (llvm::Error e =
            checkBuffer(*sinks, what, "sinks", DType::F32, {hq}, "[Hq]"))
      return e;
  llvm::SmallVector<int64_t, 16> rows(g.batch);
  for (int64_t b = 0; b < g.batch; ++b)
    rows[b] = access.length(b);
  if (llvm::Error e = access.checkRows(rows))
    return e;
  if (!rope)
    return llvm::Error::success();
  if (llvm::Error e = checkRotary(*rope, what, "query", g.headDim, queryType))
    return e;
  // An empty sequence's queries see no key: their rotation is moot.
  for (int64_t b = 0; b < g.batch; ++b)
    if (rows[b] > 0)
      if (llvm::Error e = checkRotaryPositions(*rope, what, "query", b,
                                               rows[b] - queriesOf(b), rows[b]))
        return e;
  return llvm::Error::success();
}

float scaleOf(const CacheAttentionOptions &o, int64_t d) {
  return o.scale ? *o.scale : 1.0f / std::sqrt(static_cast<float>(d));
}

} // namespace

llvm::Expected<int64_t>
mlir::attn::kv::checkCacheQuery(const CacheGeometry &g, const BufferRef &query,
                                const CacheAttentionOptions &o,
                                llvm::StringRef what) {
  int64_t hq = query.shape.size() == 4 ? query.shape[1] : 0,
          sq = query.shape.size() == 4 ? query.shape[2] : 0;
  if (llvm::Error e =
          checkBuffer(query, what, "query", std::nullopt,
                      {g.batch, hq, sq, g.headDim}, "[B, Hq, Sq, D]"))
    return std::move(e);
  if (llvm::Error e = checkHeads(hq, g.numKvHeads, what))
    return std::move(e);
  if (llvm::Error e = checkCacheOptions(o, what))
    return std::move(e);
  return hq;
}

llvm::Expected<int64_t> mlir::attn::kv::checkPackedCacheQuery(
    const CacheGeometry &g, const BufferRef &query,
    const CacheAttentionOptions &o, llvm::StringRef what) {
  bool rank3 = query.shape.size() == 3;
  int64_t t = rank3 ? query.shape[0] : 0, hq = rank3 ? query.shape[1] : 0;
  if (llvm::Error e =
          checkBuffer(query, what, "query", std::nullopt, {t, hq, g.headDim},
                      "[T, Hq, D] (packed by query_offsets)"))
    return std::move(e);
  if (llvm::Error e = checkHeads(hq, g.numKvHeads, what))
    return std::move(e);
  if (llvm::Error e = checkCacheOptions(o, what))
    return std::move(e);
  return hq;
}

llvm::Error mlir::attn::kv::checkQueryOffsets(
    const BufferRef &offsets, int64_t batch, int64_t rows,
    llvm::function_ref<int64_t(int64_t)> lengthOf, llvm::StringRef what) {
  if (llvm::Error e =
          checkBuffer(offsets, what, "query_offsets", DType::I32, {batch + 1},
                      "[B + 1] (cumulative query counts)"))
    return e;
  int64_t stride = offsets.effectiveStrides()[0];
  auto at = [&](int64_t i) {
    return static_cast<int64_t>(loadAsDouble(offsets, i * stride));
  };
  auto fail = [&](const llvm::Twine &msg) {
    return makeError(what + ": query_offsets" + msg);
  };
  if (at(0) != 0)
    return fail("[0] = " + llvm::Twine(at(0)) + ", expected 0");
  for (int64_t b = 0; b < batch; ++b) {
    int64_t n = at(b + 1) - at(b);
    if (n < 0)
      return fail(": sequence " + llvm::Twine(b) + " has " + llvm::Twine(n) +
                  " queries ([" + llvm::Twine(b + 1) +
                  "] = " + llvm::Twine(at(b + 1)) + " < [" + llvm::Twine(b) +
                  "] = " + llvm::Twine(at(b)) + ")");
    if (n > lengthOf(b))
      return fail(": sequence " + llvm::Twine(b) + " has " + llvm::Twine(n) +
                  " queries but holds " + llvm::Twine(lengthOf(b)) +
                  " tokens (its queries are its last tokens: append them "
                  "first)");
  }
  if (at(batch) != rows)
    return fail("[" + llvm::Twine(batch) + "] = " + llvm::Twine(at(batch)) +
                " but the query has " + llvm::Twine(rows) +
                " rows (the counts must sum to T)");
  return llvm::Error::success();
}

llvm::Expected<rt::ReferenceResult> mlir::attn::kv::referenceCacheAttention(
    const CacheOperands &cache, const BufferRef &query,
    const CacheAttentionOptions &o, const BufferRef *sinks,
    const RotaryEmbedding *rope) {
  const char *what = "cache_attention";
  auto access = CacheAccess::get(cache, what);
  if (!access)
    return access.takeError();
  const CacheGeometry &g = access->geometry();
  auto hqOr = checkCacheQuery(g, query, o, what);
  if (!hqOr)
    return hqOr.takeError();
  int64_t hq = *hqOr, sq = query.shape[2], d = g.headDim, dv = g.valueDim;
  if (llvm::Error e = checkAttentionInputs(
          *access, hq, query.dtype, sinks, rope, [&](int64_t) { return sq; },
          what))
    return std::move(e);

  auto qs = query.effectiveStrides();
  RowAttention rows{*access,           o,  sinks, scaleOf(o, d),
                    hq / g.numKvHeads, dv, {}};
  rt::ReferenceResult result;
  result.output.assign(g.batch * hq * sq * dv, 0.0);
  result.lse.assign(g.batch * hq * sq,
                    -std::numeric_limits<double>::infinity());
  std::vector<double> qRow(d);
  for (int64_t b = 0; b < g.batch; ++b) {
    int64_t len = access->length(b);
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t q = 0; q < sq; ++q) {
        int64_t pos = len - sq + q, r = (b * hq + h) * sq + q;
        for (int64_t c = 0; c < d; ++c)
          qRow[c] = loadAsDouble(query,
                                 b * qs[0] + h * qs[1] + q * qs[2] + c * qs[3]);
        if (rope)
          rotateRow(*rope, pos, qRow);
        result.lse[r] =
            rows.attend(b, h, pos, len, qRow, &result.output[r * dv]);
      }
  }
  return result;
}

llvm::Expected<rt::ReferenceResult>
mlir::attn::kv::referenceMixedCacheAttention(const CacheOperands &cache,
                                             const BufferRef &query,
                                             const BufferRef &queryOffsets,
                                             const CacheAttentionOptions &o,
                                             const BufferRef *sinks,
                                             const RotaryEmbedding *rope) {
  const char *what = "cache_attention";
  auto access = CacheAccess::get(cache, what);
  if (!access)
    return access.takeError();
  const CacheGeometry &g = access->geometry();
  auto hqOr = checkPackedCacheQuery(g, query, o, what);
  if (!hqOr)
    return hqOr.takeError();
  int64_t hq = *hqOr, t = query.shape[0], d = g.headDim, dv = g.valueDim;
  auto lengthOf = [&](int64_t b) { return access->length(b); };
  if (llvm::Error e =
          checkQueryOffsets(queryOffsets, g.batch, t, lengthOf, what))
    return std::move(e);
  int64_t os = queryOffsets.effectiveStrides()[0];
  auto offset = [&](int64_t i) {
    return static_cast<int64_t>(loadAsDouble(queryOffsets, i * os));
  };
  if (llvm::Error e = checkAttentionInputs(
          *access, hq, query.dtype, sinks, rope,
          [&](int64_t b) { return offset(b + 1) - offset(b); }, what))
    return std::move(e);

  auto qs = query.effectiveStrides();
  RowAttention rows{*access,           o,  sinks, scaleOf(o, d),
                    hq / g.numKvHeads, dv, {}};
  rt::ReferenceResult result;
  result.output.assign(t * hq * dv, 0.0);
  result.lse.assign(t * hq, -std::numeric_limits<double>::infinity());
  std::vector<double> qRow(d);
  for (int64_t b = 0; b < g.batch; ++b) {
    int64_t len = access->length(b), first = offset(b),
            n = offset(b + 1) - first;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t h = 0; h < hq; ++h) {
        int64_t pos = len - n + i, r = (first + i) * hq + h;
        for (int64_t c = 0; c < d; ++c)
          qRow[c] =
              loadAsDouble(query, (first + i) * qs[0] + h * qs[1] + c * qs[2]);
        if (rope)
          rotateRow(*rope, pos, qRow);
        result.lse[r] =
            rows.attend(b, h, pos, len, qRow, &result.output[r * dv]);
      }
  }
  return result;
}
