//===- KvCacheConvert.h - pool a live KV cache's heads ---------*- C++ -*-===//
//
// The checkpoint conversion (Uptrain.h) applied to a cache a model already
// filled: a new cache of the same kind and geometry but G KV heads, whose
// row (s, g) is the mean of rows (s, h) over the heads h of group g, so a
// served model can switch to its GQA checkpoint without prefilling again.
//
// What is exact and what is not (docs/convert.md): the cached V rows are
// v_h = W_v,h x + b_v,h, linear in the projection, so the mean of the
// cached V rows is exactly (up to rounding) the V row the converted
// checkpoint computes. The same holds for K when the model stores K as the
// projection (no positional rotation, or an additive/ALiBi-style bias
// applied to scores). With RoPE, K is cached rotated, R(s) W_k,h x, and
// since R(s) is linear and the same for every head of a position, the mean
// of rotated rows is R(s) times the mean of projections: also exact. Not
// exact: a per-head nonlinearity between projection and cache (QK-norm,
// as in Qwen3/OLMo2: the mean of normalised rows is not the normalised
// mean), rounding (16-bit caches hold rounded rows; their mean is rounded
// once more), and everything after the first layer: the converted model's
// layer l+1 sees hidden states produced by converted layers 1..l, whereas
// the cache holds K/V computed from the original model's hidden states.
// Pooling the cache is therefore exact for the layer's own projection and
// an approximation of the converted model's cache from the second layer on
// (and after uptraining changes the weights, at every layer).
//
// Every sequence keeps its slot and length; paged caches get their own
// page assignment (the same number of pages per sequence). The conversion
// reads both pools into host memory once (readPools), which works for host
// and device caches alike.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CONVERT_KVCACHECONVERT_H
#define ATTN_RUNTIME_CONVERT_KVCACHECONVERT_H

#include "runtime/kvcache/KvCache.h"

#include <memory>
#include <utility>
#include <vector>

namespace mlir::attn::convert {

struct PooledKvCache {
  std::unique_ptr<kv::KvCache> cache;
  /// (id in the source, id in `cache`) for every live sequence, by slot.
  /// Slots are the same; generations may differ.
  std::vector<std::pair<kv::SeqId, kv::SeqId>> ids;
};

/// The source with its Hkv heads pooled into `groups` (Hkv % groups == 0;
/// groups == Hkv copies). The new pools are allocated by `allocator` (null:
/// by the source's memory space). The source is not changed (non-const
/// only for access to its pool memory).
llvm::Expected<PooledKvCache> poolKvHeads(kv::KvCache &source, int64_t groups,
                                          kv::KvAllocator *allocator = nullptr);

} // namespace mlir::attn::convert

#endif
