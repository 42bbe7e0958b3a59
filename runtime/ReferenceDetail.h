//===- ReferenceDetail.h - what the float64 forward and backward share -*- C++
//-*-===//
//
// The reference forward (Reference.cpp) and backward (ReferenceBackward.cpp)
// read the same inputs and compute the same logits: one definition of the
// masks (MaskSpec::allows, kv_lengths, bool_mask, segment ids, mask_mod) and
// of the score chain (scale, bias, score_mod, softcap) serves both.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_REFERENCEDETAIL_H
#define ATTN_RUNTIME_REFERENCEDETAIL_H

#include "runtime/AttentionArgs.h"
#include "runtime/KernelSignature.h"
#include "common/Philox.h"

#include <functional>
#include <optional>
#include <vector>

namespace mlir::attn::rt::ref {

/// The inputs of one reference call, validated, q/k/v as logical
/// [B, H, S, D] doubles.
struct ReferenceProblem {
  AttentionSpec spec;
  std::vector<double> q, k, v;
  std::optional<BufferRef> boolMask, bias, kvLengths, qSeg, kvSeg, sinks,
      gradOutput, kvNumBlocks, kvIndices;
  double scale = 1;
  /// Dropout (spec.dropout): the state's seed and offset, read raw.
  uint64_t dropoutSeed = 0, dropoutOffset = 0;
  const RegionProgram *scoreMod = nullptr, *maskMod = nullptr;
};

/// Validates the inputs of `args` against `sig` (outputs aside) exactly as a
/// kernel call would and reads them.
llvm::Expected<ReferenceProblem>
makeReferenceProblem(const KernelSignature &sig, const AttentionArgs &args);

/// The logits of query row (b, h, qi) into `scores[Skv]` (-inf where masked)
/// and returns their maximum. With `slope`, also d(logit)/d(raw logit) per
/// key, raw = scale·q·k + bias (softcap's 1 - tanh², score_mod's derivative
/// by a float64 central difference of its program); 0 where masked.
double referenceLogits(const ReferenceProblem &p, int64_t b, int64_t h,
                       int64_t qi, double *scores, double *slope = nullptr);

/// Logical [B, H, S, D] contents of a q/k/v-like buffer as doubles.
std::vector<double> toLogicalDoubles(const BufferRef &buf, Layout layout,
                                     int64_t batch, int64_t heads, int64_t seq,
                                     int64_t dim);

/// Element offset of [b, h, q, j] in a mask/bias that broadcasts size-1
/// dims.
int64_t broadcastOffset(const BufferRef &buf, int64_t b, int64_t h, int64_t q,
                        int64_t j);

/// Runs `work(t)` for t in [0, threads) on as many threads (0: all cores,
/// at most `items`), returning when all are done.
void forEachThread(unsigned threads, int64_t items,
                   const std::function<void(unsigned, unsigned)> &work);

/// The Philox element of query row (b, h, qi) in `p`'s dropout stream
/// (common/Philox.h); callers set `key` per score.
inline philox::Element dropoutElement(const ReferenceProblem &p, int64_t b,
                                      int64_t h, int64_t qi) {
  philox::Element e;
  e.seed = p.dropoutSeed;
  e.offset = static_cast<uint32_t>(p.dropoutOffset);
  e.batch = static_cast<uint32_t>(b);
  e.head = static_cast<uint32_t>(h);
  e.numHeads = static_cast<uint32_t>(p.spec.numHeads);
  e.query = static_cast<uint32_t>(qi);
  return e;
}

} // namespace mlir::attn::rt::ref

#endif
