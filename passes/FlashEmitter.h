//===- FlashEmitter.h - the flash form shared by attention lowerings -*- C++
//-*-===//
//
// Emits the flash form of one attention problem on buffers: an scf.forall
// over work items (batch × K/V head × query block × KV split), and inside
// each item a loop over KV tiles of tile-level attn ops. attn.attention
// (attn-tile-flash) and attn.cache_attention (attn-lower-cache-ops) both
// describe their operands as a FlashProblem and share this code.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_FLASHEMITTER_H
#define ATTN_PASSES_FLASHEMITTER_H

#include "dialect/AttnOps.h"
#include "passes/IndexMath.h"

#include <functional>

namespace mlir::attn {

/// Static sizes of a lowered attention and the tiling chosen for it.
struct FlashGeometry {
  int64_t batch, heads, kvHeads, group, qLen, headDim, valueDim;
  int64_t kvCapacity; ///< keys the K/V buffers can hold (Skv, Smax, pages)
  int64_t tq;         ///< queries per head in a work item
  int64_t rows;       ///< group * tq: query rows of a work item
  int64_t rowsPad;    ///< rows padded to whole vectors
  int64_t tk;         ///< keys per KV tile
  int64_t dvPad;      ///< valueDim padded to whole vectors
  int64_t qBlocks;    ///< query blocks per (batch, K/V head)
  int64_t splits;     ///< KV splits per query block (flash-decoding)
  int64_t workItems() const { return batch * kvHeads * qBlocks * splits; }
};

/// Picks tile sizes for the given problem sizes. `kvSplits` 0 asks the cost
/// model. Fails with a reason in `error` for unsupported options.
FailureOr<FlashGeometry>
chooseFlashGeometry(int64_t batch, int64_t heads, int64_t kvHeads, int64_t qLen,
                    int64_t headDim, int64_t valueDim, int64_t kvCapacity,
                    int64_t pageSize, int64_t tileRows, int64_t tileKv,
                    int64_t kvSplits, std::string &error);

/// The KV-split count of the cost model: enough items for every core (with
/// slack for uneven lengths) while each split keeps >= 512 keys.
int64_t chooseKvSplits(int64_t baseItems, int64_t kvCapacity,
                       int64_t parallelism);

struct FlashProblem {
  /// Logical [B, Hq, Sq, D] queries and [B, Hq, Sq, Dv] output (unit inner
  /// stride); optional [B, Hq, Sq] f32 log-sum-exp.
  Value query, output, lse;
  /// Contiguous logical [B, Hkv, S, D] / [.., Dv]; or, with `blockTable`
  /// ([B, max_pages] i32), page pools [P, page_size, Hkv, D] / [.., Dv]
  /// (or [P, Hkv, page_size, D] with `headMajorPages`).
  Value key, value, blockTable;
  int64_t pageSize = 0;
  /// Paged pools are head-major, [P, Hkv, page_size, D] (FlashInfer "HND").
  bool headMajorPages = false;
  /// Optional [B] i32 valid keys per sequence.
  Value kvLengths;
  /// Optional [Hq] f32 attention-sink logits (one per query head).
  Value sinks;
  /// Queries are the last Sq tokens of each sequence (cache attention):
  /// query q sits at position kvLength - Sq + q.
  bool queriesAtEnd = false;
  float scale = 1.0f;
  FloatAttr softcap;
  MaskAttr mask;
  /// Optional per-score steps on the key-major score tile, called inside
  /// the KV loop with (batch, K/V head, first query, first key, scores).
  using ScoreHook = std::function<void(ImplicitLocOpBuilder &, Value, Value,
                                       Value, Value, Value)>;
  ScoreHook scoreMods, customMasks;
};

/// Marks the split-KV scratch of one flash problem: its `memref.alloc`
/// (valued with the bytes per work item), the zero fill of its arrival
/// counters and its `memref.dealloc` (unit). attn-parallel-to-runtime
/// turns the allocation into a kernel argument that the runtime allocates,
/// zeroed, per call, so concurrent runs of one kernel share nothing.
inline constexpr const char *kSplitScratchAttr = "attn.split_scratch";

/// Bytes of split-KV scratch per work item (the whole scratch is work
/// items × this).
int64_t splitScratchBytesPerItem(const FlashGeometry &g);

/// Emits the whole problem at the builder's insertion point. With KV
/// splits, the partials and arrival counters live in one per-call scratch
/// allocation (see kSplitScratchAttr).
void emitFlash(ImplicitLocOpBuilder &b, const FlashGeometry &g,
               const FlashProblem &p);

/// A rank-reduced view of `source` at `offsets` with `sizes` and the given
/// result shape (size-1 leading dims dropped).
Value rankReducedView(ImplicitLocOpBuilder &b, Value source,
                      ArrayRef<OpFoldResult> offsets,
                      ArrayRef<OpFoldResult> sizes,
                      ArrayRef<int64_t> resultShape);

/// memref<shape x elt> with fully dynamic strides and offset (the innermost
/// stride static 1 when `unitInner`).
MemRefType stridedMemRefType(MLIRContext *ctx, ArrayRef<int64_t> shape,
                             Type elt, bool unitInner);

} // namespace mlir::attn

#endif
