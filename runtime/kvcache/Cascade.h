//===- Cascade.h - merging attention states, cascade decode ----*- C++ -*-===//
//
// attn.merge_states as a runtime call, its float64 reference, and cascade
// attention over a prefix shared by a whole batch (FlashInfer's
// MultiLevelCascadeAttentionWrapper, two levels):
//
//   kv::CascadeDecoder cascade(steps, runtime);   // steps: the suffix cache
//   cascade.decode(seqs, prefixKey, prefixValue, q, out);
//
// 1. the queries of all B sequences, stacked as the B query rows of one
//    sequence, attend to the shared prefix K/V: one attn.attention kernel
//    that reads the prefix once for the whole batch (not B times);
// 2. each sequence's queries attend to its own suffix in the paged or
//    contiguous cache (attn.cache_attention through the stepper);
// 3. attn.merge_states merges the two partial states by their lse.
//
// The result is attention over prefix + suffix with the queries at the end
// (a causal mask sees the whole prefix). Sinks, if given, join the prefix
// part only, so they count once.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_CASCADE_H
#define ATTN_RUNTIME_KVCACHE_CASCADE_H

#include "runtime/kvcache/KvSteps.h"

#include <vector>

namespace mlir::attn::kv {

/// Runs attn.merge_states, compiled through `kernels` for the CPU on
/// `pool`: `states` [N, B, H, S, Dv] (f32, f16 or bf16, unit inner stride),
/// `stateLse` [N, B, H, S] f32 -> `output` [B, H, S, Dv] (the states'
/// type) and, if given, `lse` [B, H, S] f32. When any buffer is in device
/// memory it runs on the GPU instead (the `_merge` kernel of attn-to-nvvm,
/// compiled with `gpu`): dense buffers, device ones in place, host ones
/// staged; the call waits. Errors name the buffer and the mismatch;
/// nothing is written then.
llvm::Error mergeStates(CacheKernels &kernels, rt::ThreadPool &pool,
                        const rt::BufferRef &states,
                        const rt::BufferRef &stateLse,
                        const rt::BufferRef &output,
                        const rt::BufferRef *lse = nullptr,
                        const CacheKernelOptions &options = {},
                        const rt::CompileOptions &gpu = {});

/// The same in float64 (the oracle of mergeStates), with the same checks.
llvm::Error referenceMergeStates(const rt::BufferRef &states,
                                 const rt::BufferRef &stateLse,
                                 const rt::BufferRef &output,
                                 const rt::BufferRef *lse = nullptr);

class CascadeDecoder {
public:
  /// Suffixes live in `suffix`'s cache; prefix kernels compile through
  /// `runtime` (and run on its pool).
  CascadeDecoder(KvStepper &suffix, rt::Runtime &runtime);

  /// Attention of `query` [B, Hq, 1, D] (the cache's type) against the
  /// shared prefix `prefixKey` [1, Hkv, P, D] / `prefixValue` [1, Hkv, P,
  /// Dv] followed by each sequence's own rows of `seqs` in the suffix
  /// cache. Writes `output` [B, Hq, 1, Dv] and, if given, `lse` [B, Hq, 1]
  /// f32. `options.mask` must be causal or none, without windows, dilation
  /// or global tokens (every query sees the whole prefix); `sinks` ([Hq]
  /// f32) as in attn.cache_attention.
  llvm::Error decode(llvm::ArrayRef<SeqId> seqs, const rt::BufferRef &prefixKey,
                     const rt::BufferRef &prefixValue,
                     const rt::BufferRef &query, const rt::BufferRef &output,
                     const CacheAttentionOptions &options = {},
                     const rt::BufferRef *lse = nullptr,
                     const rt::BufferRef *sinks = nullptr);

private:
  llvm::Error checkInputs(int64_t batch, const rt::BufferRef &prefixKey,
                          const rt::BufferRef &prefixValue,
                          const rt::BufferRef &query,
                          const CacheAttentionOptions &options) const;

  KvStepper &steps;
  rt::Runtime &runtime;
  /// The two partial states [2, B, Hq, 1, Dv] and their lse [2, B, Hq, 1].
  std::vector<uint8_t> states;
  std::vector<float> stateLse;
};

} // namespace mlir::attn::kv

#endif
