//===- Uptrain.h - MHA -> GQA/MQA checkpoint conversion --------*- C++ -*-===//
//
// The conversion step of uptraining (Ainslie et al., "GQA", 2023; seed
// 002): a checkpoint with H key/value heads becomes one with G of them, each
// group's K (and V) projection the mean of the projections of the H/G
// heads it replaces. Groups are consecutive heads -- group g pools heads
// g*H/G ... (g+1)*H/G - 1 -- which is the sharing attn.attention, PyTorch's
// repeat_interleave and Hugging Face's repeat_kv use: query head q reads KV
// head q / (Hq/G). G = H is the identity, G = 1 is MQA.
//
// Projections are in nn.Linear layout: weight [H*D, E], bias [H*D]; row
// h*D + d is dimension d of head h. Means are taken in float64 and rounded
// once to the tensor's dtype (F16, BF16, F32, F64).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_CONVERT_UPTRAIN_H
#define ATTN_RUNTIME_CONVERT_UPTRAIN_H

#include "runtime/convert/Safetensors.h"

#include <string>
#include <vector>

namespace mlir::attn::convert {

struct HeadPooling {
  int64_t heads = 0;   ///< H, the KV heads of the checkpoint
  int64_t groups = 0;  ///< G, the KV heads after conversion
  int64_t headDim = 0; ///< D; 0: rows / H
};

/// Checks H > 0, G > 0 and H % G == 0.
llvm::Error checkPooling(const HeadPooling &p);

/// The pooled [G*D, E] weight or [G*D] bias of a [H*D, E] / [H*D] tensor;
/// same name and dtype. Fails (naming the tensor) on another rank, a
/// non-float dtype, rows not H*D, or a pooling checkPooling rejects.
llvm::Expected<st::Tensor> poolHeads(const st::Tensor &t, const HeadPooling &p);

/// Which tensors of a checkpoint are K/V projections: glob patterns
/// (llvm::GlobPattern: *, ?, [...]) over tensor names. A required pattern
/// that matches nothing is an error ("missing tensor"); the default bias
/// patterns are optional because many models have no K/V biases.
struct TensorPattern {
  std::string role; ///< "k-weight", ... (named in errors)
  std::string glob;
  bool required = true;
};

struct ConvertOptions {
  HeadPooling pooling;
  /// Defaults: *k_proj.weight and *v_proj.weight (required), *k_proj.bias
  /// and *v_proj.bias (optional): the Hugging Face Llama/Mistral names.
  std::vector<TensorPattern> patterns = defaultPatterns();

  static std::vector<TensorPattern> defaultPatterns();
};

/// Pools every tensor a pattern matches, in place; all other tensors are
/// left as they are. All or nothing: on error `file` is unchanged. Also
/// fails when a tensor matches two patterns or the K and V weight patterns
/// match different numbers of tensors. Records the conversion in the
/// metadata ("attn.uptrain": "heads=H groups=G"). Returns the names pooled.
llvm::Expected<std::vector<std::string>>
convertCheckpoint(st::File &file, const ConvertOptions &options);

} // namespace mlir::attn::convert

#endif
