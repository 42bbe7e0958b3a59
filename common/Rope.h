//===- Rope.h - the rotary position embedding (RoPE) -----------*- C++ -*-===//
//
// The one definition of attn's rotary embedding (issue 19, part 2): which
// dims of a row form a rotated pair, and how a pair turns by the angle of a
// position. The lowering (passes/RopeEmitter.cpp) emits the same arithmetic
// as vector IR through a Math policy; the float64 references call it with
// ScalarMath<double>.
//
// A row x of head dim D, rotary dim r (even, r <= D) and cos/sin tables
// [max_pos, r/2] (FlashAttention's rotary_cos / rotary_sin): pair i < r/2
// is (x[a], x[b]) with (a, b) = pairDims(style, r, i), and at position p
//   y[a] = x[a] cos[p, i] - x[b] sin[p, i]
//   y[b] = x[b] cos[p, i] + x[a] sin[p, i]
// Dims r.. pass through unchanged (partial rotary).
//
// Header-only and dependency-free, like Philox.h.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COMMON_ROPE_H
#define ATTN_COMMON_ROPE_H

#include <cstdint>
#include <utility>

namespace mlir::attn::rope {

/// The two rotary layouts: NeoX / Llama rotate halves (x[i], x[i + r/2]);
/// GPT-J interleaves pairs (x[2i], x[2i+1]).
enum class Form { NeoX, Interleaved };

struct PairDims {
  int64_t first, second;
};

/// The dims of rotated pair `i` (0 <= i < rotaryDim / 2).
constexpr PairDims pairDims(Form form, int64_t rotaryDim, int64_t i) {
  return form == Form::Interleaved ? PairDims{2 * i, 2 * i + 1}
                                   : PairDims{i, i + rotaryDim / 2};
}

/// Position of appended row `row` of a sequence whose length was
/// `lengthBefore` before the append (attn.cache_append).
constexpr int64_t appendPosition(int64_t lengthBefore, int64_t row) {
  return lengthBefore + row;
}

/// Position of query `q` of `numQueries`, the last tokens of a sequence of
/// `lengthAfter` tokens (attn.cache_attention).
constexpr int64_t queryPosition(int64_t lengthAfter, int64_t numQueries,
                                int64_t q) {
  return lengthAfter - numQueries + q;
}

/// A pair (x0, x1) = (x[a], x[b]) turned by the angle whose cosine and sine
/// are (c, s). `Math` provides V, mul, add and sub.
template <typename Math>
constexpr std::pair<typename Math::V, typename Math::V>
rotatePair(const Math &m, typename Math::V x0, typename Math::V x1,
           typename Math::V c, typename Math::V s) {
  return {m.sub(m.mul(x0, c), m.mul(x1, s)), m.add(m.mul(x1, c), m.mul(x0, s))};
}

/// Math on plain numbers (the float64 references).
template <typename T> struct ScalarMath {
  using V = T;
  constexpr V mul(V a, V b) const { return a * b; }
  constexpr V add(V a, V b) const { return a + b; }
  constexpr V sub(V a, V b) const { return a - b; }
};

} // namespace mlir::attn::rope

#endif
