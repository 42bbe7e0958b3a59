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
  if (hq <= 0 || hq % g.numKvHeads != 0)
    return makeError(what + ": query heads (" + llvm::Twine(hq) +
                     ") must be a multiple of key/value heads (" +
                     llvm::Twine(g.numKvHeads) + ")");
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
  return hq;
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
  if (sinks)
    if (llvm::Error e =
            checkBuffer(*sinks, what, "sinks", DType::F32, {hq}, "[Hq]"))
      return std::move(e);
  llvm::SmallVector<int64_t, 16> rows(g.batch);
  for (int64_t b = 0; b < g.batch; ++b)
    rows[b] = access->length(b);
  if (llvm::Error e = access->checkRows(rows))
    return std::move(e);
  if (rope) {
    if (llvm::Error e = checkRotary(*rope, what, "query", d, query.dtype))
      return std::move(e);
    // An empty sequence's queries see no key: their rotation is moot.
    for (int64_t b = 0; b < g.batch; ++b)
      if (rows[b] > 0)
        if (llvm::Error e = checkRotaryPositions(*rope, what, "query", b,
                                                 rows[b] - sq, rows[b]))
          return std::move(e);
  }

  float scale = o.scale ? *o.scale : 1.0f / std::sqrt(static_cast<float>(d));
  int64_t group = hq / g.numKvHeads;
  auto qs = query.effectiveStrides();
  int64_t kc = access->keyChannelStride(), vc = access->valueChannelStride();
  const double ninf = -std::numeric_limits<double>::infinity();

  rt::ReferenceResult result;
  result.output.assign(g.batch * hq * sq * dv, 0.0);
  result.lse.assign(g.batch * hq * sq, ninf);
  std::vector<double> scores, qRow(d);
  for (int64_t b = 0; b < g.batch; ++b) {
    int64_t len = rows[b];
    scores.assign(len, ninf);
    for (int64_t h = 0; h < hq; ++h) {
      int64_t hk = h / group;
      for (int64_t q = 0; q < sq; ++q) {
        int64_t pos = len - sq + q, r = (b * hq + h) * sq + q;
        for (int64_t c = 0; c < d; ++c)
          qRow[c] = loadAsDouble(query,
                                 b * qs[0] + h * qs[1] + q * qs[2] + c * qs[3]);
        if (rope)
          rotateRow(*rope, pos, qRow);
        // The sink: a logit in the denominator without a value row.
        double sink =
            sinks ? loadAsDouble(*sinks, h * sinks->effectiveStrides()[0])
                  : ninf;
        double maxScore = sink;
        for (int64_t j = 0; j < len; ++j) {
          scores[j] = ninf;
          if (!o.mask.allows(pos, j))
            continue;
          int64_t k0 = access->keyOffset(b, j, hk);
          double dot = 0;
          for (int64_t c = 0; c < d; ++c)
            dot += qRow[c] * loadAsDouble(cache.keyCache, k0 + c * kc);
          double s = scale * dot;
          if (o.softcap)
            s = *o.softcap * std::tanh(s / *o.softcap);
          scores[j] = s;
          maxScore = std::max(maxScore, s);
        }
        if (maxScore == ninf)
          continue; // nothing visible: output 0, lse -inf
        double *out = &result.output[r * dv];
        double sum = sink == ninf ? 0 : std::exp(sink - maxScore);
        for (int64_t j = 0; j < len; ++j) {
          if (scores[j] == ninf)
            continue;
          double w = std::exp(scores[j] - maxScore);
          sum += w;
          int64_t v0 = access->valueOffset(b, j, hk);
          for (int64_t c = 0; c < dv; ++c)
            out[c] += w * loadAsDouble(cache.valueCache, v0 + c * vc);
        }
        for (int64_t c = 0; c < dv; ++c)
          out[c] /= sum;
        result.lse[r] = maxScore + std::log(sum);
      }
    }
  }
  return result;
}
