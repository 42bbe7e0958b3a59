//===- CapiKvCache.cpp - the C API: KV caches and their steps -------------===//
#include "runtime/capi/CapiInternal.h"

#include "runtime/Errors.h"

#include "runtime/kvcache/ContiguousKvCache.h"
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"

#include "llvm/Support/Casting.h"

using namespace mlir::attn;
using namespace mlir::attn::capi;

struct attn_kv_cache {
  std::unique_ptr<kv::KvCache> cache;
  std::unique_ptr<kv::KvStepper> stepper;
};

namespace {
kv::SeqId toSeqId(attn_seq_id id) { return {id.slot, id.generation}; }

llvm::Expected<ElementType> toElementType(attn_dtype dtype) {
  switch (dtype) {
  case ATTN_F32:
    return ElementType::F32;
  case ATTN_F16:
    return ElementType::F16;
  case ATTN_BF16:
    return ElementType::BF16;
  default:
    return rt::makeError("dtype " + llvm::Twine(static_cast<int>(dtype)) +
                         " is not f32, f16 or bf16");
  }
}

llvm::Expected<std::unique_ptr<kv::KvCache>>
createCache(const attn_kv_cache_config &c) {
  llvm::Expected<ElementType> dtype = toElementType(c.dtype);
  if (!dtype)
    return dtype.takeError();
  if (c.memory != ATTN_HOST && c.memory != ATTN_DEVICE)
    return rt::makeError("memory " + llvm::Twine(static_cast<int>(c.memory)) +
                         " is not a valid attn_memory");
  rt::MemorySpace memory =
      c.memory == ATTN_DEVICE ? rt::MemorySpace::Device : rt::MemorySpace::Host;
  if (c.kind == ATTN_KV_PAGED) {
    kv::PagedKvCacheConfig p;
    p.numPages = c.num_pages;
    p.pageSize = c.page_size;
    p.maxPagesPerSeq = c.max_pages_per_seq;
    p.maxSequences = c.max_sequences;
    p.numKvHeads = c.num_kv_heads;
    p.headDim = c.head_dim;
    p.valueDim = c.value_dim;
    p.dtype = *dtype;
    p.pageLayout = c.page_layout_hnd ? PageLayout::HND : PageLayout::NHD;
    p.memory = memory;
    auto cache = kv::PagedKvCache::create(p);
    if (!cache)
      return cache.takeError();
    return std::unique_ptr<kv::KvCache>(std::move(*cache));
  }
  if (c.kind != ATTN_KV_CONTIGUOUS)
    return rt::makeError("kind " + llvm::Twine(static_cast<int>(c.kind)) +
                         " is not a valid attn_kv_kind");
  kv::ContiguousKvCacheConfig k;
  k.maxBatch = c.max_sequences;
  k.maxSeqLen = c.max_seq_len;
  k.numKvHeads = c.num_kv_heads;
  k.headDim = c.head_dim;
  k.valueDim = c.value_dim;
  k.dtype = *dtype;
  k.memory = memory;
  auto cache = kv::ContiguousKvCache::create(k);
  if (!cache)
    return cache.takeError();
  return std::unique_ptr<kv::KvCache>(std::move(*cache));
}

/// The sequence handles of a step, checked for a null array and a count.
llvm::Expected<llvm::SmallVector<kv::SeqId, 16>>
toSeqIds(const attn_seq_id *seqs, int32_t n) {
  if (n <= 0)
    return rt::makeError("num_seqs " + llvm::Twine(n) + " must be positive");
  if (!seqs)
    return rt::makeError("seqs is null");
  llvm::SmallVector<kv::SeqId, 16> ids;
  for (int32_t i = 0; i < n; ++i)
    ids.push_back(toSeqId(seqs[i]));
  return ids;
}

void copyShape(const rt::BufferRef &ref, int64_t (&out)[4]) {
  for (size_t i = 0; i < 4; ++i)
    out[i] = i < ref.shape.size() ? ref.shape[i] : 0;
}
} // namespace

extern "C" {

void attn_decode_options_init(attn_decode_options *options) {
  if (!options)
    return;
  *options = {};
  options->window_left = -1;
  options->window_right = -1;
  options->dilation = 1;
}

attn_status attn_kv_cache_create(attn_runtime *runtime,
                                 const attn_kv_cache_config *config,
                                 attn_kv_cache **out) {
  ATTN_CHECK_ARG(out, "attn_kv_cache_create");
  *out = nullptr;
  ATTN_CHECK_ARG(runtime, "attn_kv_cache_create");
  ATTN_CHECK_ARG(config, "attn_kv_cache_create");
  llvm::Expected<std::unique_ptr<kv::KvCache>> cache = createCache(*config);
  if (!cache)
    return fromError(cache.takeError(), ATTN_ERROR_INVALID_ARGUMENT,
                     "attn_kv_cache_create: ");
  auto handle = std::make_unique<attn_kv_cache>();
  handle->cache = std::move(*cache);
  handle->stepper =
      std::make_unique<kv::KvStepper>(*handle->cache, *runtime->runtime);
  *out = handle.release();
  return ok();
}

void attn_kv_cache_destroy(attn_kv_cache *cache) { delete cache; }

attn_status attn_kv_cache_stats_get(const attn_kv_cache *cache,
                                    attn_kv_cache_stats *out) {
  ATTN_CHECK_ARG(cache, "attn_kv_cache_stats_get");
  ATTN_CHECK_ARG(out, "attn_kv_cache_stats_get");
  const kv::KvCache &c = *cache->cache;
  *out = {};
  out->num_sequences = c.numSequences();
  out->max_sequences = c.maxSequences();
  out->max_sequence_length = c.maxSequenceLength();
  if (const auto *paged = llvm::dyn_cast<kv::PagedKvCache>(&c)) {
    out->num_pages = paged->numPages();
    out->num_free_pages = paged->numFreePages();
    out->page_size = paged->pageSize();
  }
  copyShape(c.keyCache(), out->key_pool_shape);
  copyShape(c.valueCache(), out->value_pool_shape);
  out->memory =
      c.memorySpace() == rt::MemorySpace::Device ? ATTN_DEVICE : ATTN_HOST;
  return ok();
}

attn_status attn_kv_cache_add_sequence(attn_kv_cache *cache, attn_seq_id *out) {
  ATTN_CHECK_ARG(cache, "attn_kv_cache_add_sequence");
  ATTN_CHECK_ARG(out, "attn_kv_cache_add_sequence");
  llvm::Expected<kv::SeqId> id = cache->cache->addSequence();
  if (!id)
    return fromError(id.takeError(), ATTN_ERROR_KV_CACHE,
                     "attn_kv_cache_add_sequence: ");
  *out = {id->slot, id->generation};
  return ok();
}

attn_status attn_kv_cache_free_sequence(attn_kv_cache *cache, attn_seq_id id) {
  ATTN_CHECK_ARG(cache, "attn_kv_cache_free_sequence");
  return fromError(cache->cache->freeSequence(toSeqId(id)), ATTN_ERROR_KV_CACHE,
                   "attn_kv_cache_free_sequence: ");
}

attn_status attn_kv_cache_length(const attn_kv_cache *cache, attn_seq_id id,
                                 int64_t *out) {
  ATTN_CHECK_ARG(cache, "attn_kv_cache_length");
  ATTN_CHECK_ARG(out, "attn_kv_cache_length");
  llvm::Expected<int64_t> length = cache->cache->length(toSeqId(id));
  if (!length)
    return fromError(length.takeError(), ATTN_ERROR_KV_CACHE,
                     "attn_kv_cache_length: ");
  *out = *length;
  return ok();
}

attn_status attn_kv_cache_truncate(attn_kv_cache *cache, attn_seq_id id,
                                   int64_t new_length) {
  ATTN_CHECK_ARG(cache, "attn_kv_cache_truncate");
  return fromError(cache->cache->truncate(toSeqId(id), new_length),
                   ATTN_ERROR_KV_CACHE, "attn_kv_cache_truncate: ");
}

attn_status attn_kv_cache_append(attn_kv_cache *cache, const attn_seq_id *seqs,
                                 int32_t num_seqs, const attn_buffer *key,
                                 const attn_buffer *value,
                                 const int32_t *new_lengths) {
  const char *fn = "attn_kv_cache_append: ";
  ATTN_CHECK_ARG(cache, "attn_kv_cache_append");
  auto ids = toSeqIds(seqs, num_seqs);
  if (!ids)
    return fromError(ids.takeError(), ATTN_ERROR_INVALID_ARGUMENT, fn);
  auto k = toBufferRef(key, "key");
  if (!k)
    return fromError(k.takeError(), ATTN_ERROR_INVALID_ARGUMENT, fn);
  auto v = toBufferRef(value, "value");
  if (!v)
    return fromError(v.takeError(), ATTN_ERROR_INVALID_ARGUMENT, fn);
  llvm::ArrayRef<int32_t> lengths;
  if (new_lengths)
    lengths = llvm::ArrayRef<int32_t>(new_lengths, num_seqs);
  return fromError(cache->stepper->appendStep(*ids, *k, *v, lengths),
                   ATTN_ERROR_KV_CACHE, fn);
}

attn_status attn_kv_cache_attention(attn_kv_cache *cache,
                                    const attn_seq_id *seqs, int32_t num_seqs,
                                    const attn_buffer *query,
                                    const attn_buffer *output,
                                    const attn_buffer *lse,
                                    const attn_decode_options *options) {
  const char *fn = "attn_kv_cache_attention: ";
  ATTN_CHECK_ARG(cache, "attn_kv_cache_attention");
  auto ids = toSeqIds(seqs, num_seqs);
  if (!ids)
    return fromError(ids.takeError(), ATTN_ERROR_INVALID_ARGUMENT, fn);
  auto q = toBufferRef(query, "query");
  if (!q)
    return fromError(q.takeError(), ATTN_ERROR_INVALID_ARGUMENT, fn);
  auto o = toBufferRef(output, "output");
  if (!o)
    return fromError(o.takeError(), ATTN_ERROR_INVALID_ARGUMENT, fn);
  std::optional<rt::BufferRef> l;
  if (lse) {
    auto ref = toBufferRef(lse, "lse");
    if (!ref)
      return fromError(ref.takeError(), ATTN_ERROR_INVALID_ARGUMENT, fn);
    l = std::move(*ref);
  }
  kv::CacheAttentionOptions attn;
  if (options) {
    attn.mask.causal = options->causal != 0;
    attn.mask.windowLeft = options->window_left;
    attn.mask.windowRight = options->window_right;
    attn.mask.dilation = options->dilation;
    attn.mask.globalTokens = options->global_tokens;
    if (options->has_scale)
      attn.scale = options->scale;
    if (options->has_softcap)
      attn.softcap = options->softcap;
  }
  return fromError(
      cache->stepper->decodeStep(*ids, *q, *o, attn, l ? &*l : nullptr),
      ATTN_ERROR_KV_CACHE, fn);
}

attn_status attn_kv_cache_read_pools(const attn_kv_cache *cache, void *keys,
                                     void *values) {
  ATTN_CHECK_ARG(cache, "attn_kv_cache_read_pools");
  ATTN_CHECK_ARG(keys, "attn_kv_cache_read_pools");
  ATTN_CHECK_ARG(values, "attn_kv_cache_read_pools");
  cache->cache->readPools(keys, values);
  return ok();
}

} // extern "C"
