//===- CacheReference.h - float64 attn.cache_append/attention --*- C++ -*-===//
//
// Direct implementations of the two cache ops (dialect/AttnOps.td) over raw
// CacheOperands, contiguous or paged, as the oracle for their compiled
// kernels. Like runtime/Reference.h they share no code with the kernels.
//
//   cache_append:    for each b, rows r < new_lengths[b] (all Snew rows
//                    without new_lengths): cache[b, lengths[b] + r] =
//                    key[b, :, r], converted to the cache's element type
//                    (rotated first by position lengths[b] + r with RoPE).
//   cache_attention: query q of sequence b sits at absolute position
//                    i = lengths[b] - Sq + q; it sees keys j < lengths[b]
//                    that the mask allows for (i, j); query head h reads
//                    K/V head h / (Hq / Hkv); then runtime/Reference.h's
//                    scale, softcap, softmax and lse rules.
//
// Unlike the kernels, which trust their operands, both check everything
// first (shapes, dtypes, lengths, capacity, page ids) and change nothing
// when a check fails.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_CACHEREFERENCE_H
#define ATTN_RUNTIME_KVCACHE_CACHEREFERENCE_H

#include "dialect/MaskSpec.h"
#include "runtime/Reference.h"
#include "runtime/kvcache/CacheOperands.h"
#include "runtime/kvcache/Rotary.h"

#include <optional>

namespace mlir::attn::kv {

/// The attributes of attn.cache_attention.
struct CacheAttentionOptions {
  MaskSpec mask; ///< qOffset must be 0: positions come from the lengths
  std::optional<float> scale = std::nullopt; ///< default 1/sqrt(D), as f32
  std::optional<float> softcap = std::nullopt;
};

/// attn.cache_append. `key` [B, Hkv, Snew, D] and `value` [B, Hkv, Snew, Dv]
/// of one float type (converted to the cache's); `newLengths` [B] i32 in
/// [0, Snew] when given. Fails on appends past capacity or bad page ids.
/// `rope`, if given, rotates each key row by its position lengths[b] + r
/// (Rotary.h) before it is rounded to the cache's type.
llvm::Error referenceCacheAppend(const CacheOperands &cache,
                                 const rt::BufferRef &key,
                                 const rt::BufferRef &value,
                                 const rt::BufferRef *newLengths = nullptr,
                                 const RotaryEmbedding *rope = nullptr);

/// attn.cache_attention of `query` [B, Hq, Sq, D] against `cache` (whose
/// lengths include the queries). Output is logical [B, Hq, Sq, Dv].
/// `sinks` ([Hq] f32, optional): attention-sink logits that join every
/// row's softmax denominator and lse without a value row. `rope`, if
/// given, rotates query q of sequence b by its position lengths[b] - Sq + q
/// (in double, unrounded); the keys in the cache are taken as they are.
llvm::Expected<rt::ReferenceResult>
referenceCacheAttention(const CacheOperands &cache, const rt::BufferRef &query,
                        const CacheAttentionOptions &options = {},
                        const rt::BufferRef *sinks = nullptr,
                        const RotaryEmbedding *rope = nullptr);

/// attn.cache_attention over a mixed batch (`query_offsets`): `query`
/// [T, Hq, D] packed, sequence b owning rows [qo[b], qo[b + 1]) of
/// `queryOffsets` ([B + 1] i32) whose n_b queries are its last n_b tokens
/// (query i at position lengths[b] - n_b + i). Output is [T, Hq, Dv] (lse
/// [T, Hq]); rows no sequence owns do not exist (qo[B] must be T).
llvm::Expected<rt::ReferenceResult>
referenceMixedCacheAttention(const CacheOperands &cache,
                             const rt::BufferRef &query,
                             const rt::BufferRef &queryOffsets,
                             const CacheAttentionOptions &options = {},
                             const rt::BufferRef *sinks = nullptr,
                             const RotaryEmbedding *rope = nullptr);

/// Checks the query against the cache and options the way the op verifier
/// does; returns Hq.
llvm::Expected<int64_t> checkCacheQuery(const CacheGeometry &g,
                                        const rt::BufferRef &query,
                                        const CacheAttentionOptions &options,
                                        llvm::StringRef what);

/// The same for a packed query [T, Hq, D] (mixed batches); returns Hq.
llvm::Expected<int64_t>
checkPackedCacheQuery(const CacheGeometry &g, const rt::BufferRef &query,
                      const CacheAttentionOptions &options,
                      llvm::StringRef what);

/// Checks cumulative query offsets ([B + 1] i32: `offsets` as a buffer)
/// of `rows` packed query rows against the sequences' lengths
/// (`lengthOf(b)`): offsets[0] = 0, no sequence with a negative count,
/// none with more queries than tokens, offsets[B] = rows. The error names
/// query_offsets and the sequence.
llvm::Error checkQueryOffsets(const rt::BufferRef &offsets, int64_t batch,
                              int64_t rows,
                              llvm::function_ref<int64_t(int64_t)> lengthOf,
                              llvm::StringRef what);

/// Writes `value` (rounded to the buffer's float type) at element `offset`.
void storeFromDouble(const rt::BufferRef &buffer, int64_t offset, double value);

} // namespace mlir::attn::kv

#endif
