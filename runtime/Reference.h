//===- Reference.h - float64 attention, the numerics oracle ----*- C++ -*-===//
//
// A direct, unfused implementation of the attn.attention semantics
// (dialect/AttnOps.td, dialect/MaskSpec.h) in double precision. It shares
// no code with the kernels on purpose: tests and `attn-run --check` compare
// the compiled kernels against it.
//
//   s = scale * q·k              scale defaults to 1/sqrt(D), as an f32
//   s = s + bias[b, h, q, j]     when a bias is given
//   s = score_mod(s, b, h, q, j)   when the op has one (interpreted)
//   s = cap * tanh(s / cap)      when softcap is set
//   s = -inf unless the structured mask allows (q + q_offset, j), j <
//       kv_lengths[b], bool_mask[b, h, q, j], the segment ids agree and
//       mask_mod(b, h, q, j) holds and, with a block mask, j / BK is one of
//       the first kv_num_blocks[b, h, q / BQ] entries of
//       kv_indices[b, h, q / BQ] (size-1 dims broadcast)
//   out = softmax(s) · V         rows with nothing visible give 0
//   lse = log(sum exp(s))        -inf for those rows
//   with sinks: sinks[h] joins the softmax denominator (and the lse) as a
//   logit without a value row
//
// with query head h reading K/V head h / (Hq / Hkv).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_REFERENCE_H
#define ATTN_RUNTIME_REFERENCE_H

#include "runtime/AttentionArgs.h"
#include "runtime/KernelSignature.h"

#include <vector>

namespace mlir::attn::rt {

struct ReferenceResult {
  /// Logical [B, Hq, Sq, Dv] in this order whatever the layout.
  std::vector<double> output;
  /// [B, Hq, Sq].
  std::vector<double> lse;
};

/// Computes the reference for the kernel described by `sig` from the input
/// buffers of `args` (output and lse buffers are ignored). score_mod and
/// mask_mod regions run through their interpreted programs
/// (RegionInterpreter.h). Fails on invalid inputs and on regions using ops
/// the interpreter does not know. Rows are spread over `numThreads`
/// threads (0: all).
llvm::Expected<ReferenceResult> referenceAttention(const KernelSignature &sig,
                                                   const AttentionArgs &args,
                                                   unsigned numThreads = 0);

/// An upper bound on the memory referenceAttention(sig, ...) allocates:
/// q, k, v and the output as doubles, plus the lse; int64 max on overflow.
int64_t referenceBytes(const KernelSignature &sig);

/// Reads element `offset` (in elements) of `buffer` as a double.
double loadAsDouble(const BufferRef &buffer, int64_t offset);

} // namespace mlir::attn::rt

#endif
