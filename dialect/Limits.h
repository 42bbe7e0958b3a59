//===- Limits.h - the sizes the attn ops accept ----------------*- C++ -*-===//
//
// The verifier rejects, with a located error, every size past these limits,
// so that no index computation of a lowering can overflow the type it is
// done in (docs/reliability.md lists which computation each limit guards):
//
// - the CPU mask code computes query and key positions, their distance and
//   the window/dilation/global-token bounds in i32 vector lanes; TMA
//   coordinates on the GPU are i32; lengths are i32 operands;
// - linear offsets and byte sizes are i64 (`index`) everywhere;
// - the CPU code is unrolled over head-dim columns and the rows of a GQA
//   group, so compile time and code size grow with D and Hq / Hkv.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_LIMITS_H
#define ATTN_DIALECT_LIMITS_H

#include <cstdint>
#include <limits>

namespace mlir::attn::limits {

/// Any static dim of any attn operand (sequence lengths, heads, batch,
/// pages, page size): positions and lengths are i32.
inline constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
/// Elements of any one operand (2^40: 4 TiB of f32): every linear offset,
/// byte size and split-KV scratch size stays far inside i64.
inline constexpr int64_t kMaxElements = int64_t(1) << 40;
/// Head dims D and Dv.
inline constexpr int64_t kMaxHeadDim = 1024;
/// Query heads per K/V head (Hq / Hkv).
inline constexpr int64_t kMaxGroup = 256;
/// Any static dim of a tile op's operand (attn.tile_*): the vectorizer
/// unrolls tile columns, so a 2^31-column tile never finished compiling.
/// The tiler's tiles stay far below: rows <= tile-rows or one GQA group,
/// columns <= tile-kv or the padded head dim.
inline constexpr int64_t kMaxTileDim = 1024;
/// window_left, window_right, dilation, global_tokens, q_offset, and
/// q_offset + Sq (the largest query position): i32 lanes.
inline constexpr int64_t kMaxMaskParam = std::numeric_limits<int32_t>::max();
/// |scale|: past this, ordinary logits overflow f32 to inf and the softmax
/// of inf - inf is NaN.
inline constexpr double kMaxScale = 65536.0;

} // namespace mlir::attn::limits

#endif
