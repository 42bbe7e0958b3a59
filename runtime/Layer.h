//===- Layer.h - a compiled attention layer with its weights ---*- C++ -*-===//
//
//   rt::LayerSpec spec;                        // shapes, heads, mask, ...
//   rt::LayerWeights w;                        // nn.Linear [out, in]
//   w.qkvWeight = rt::BufferRef::contiguous(wqkv, rt::DType::F32, {...});
//   ...
//   auto layer = runtime.compileLayer(spec, w); // weights copied once
//   rt::AttentionArgs args;                    // query, [key, value],
//   args.query = ...; args.output = ...;       // masks, output, [weights]
//   if (llvm::Error e = (*layer)->run(args)) ...
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_LAYER_H
#define ATTN_RUNTIME_LAYER_H

#include "runtime/Runtime.h"

#include <cstdint>
#include <vector>

namespace mlir::attn::rt {

/// The weights of a layer, by the roles of LayerSpec.h (the separate Q/K/V
/// weights are queryWeight, keyWeight and valueWeight).
struct LayerWeights {
  std::optional<BufferRef> qkvWeight, queryWeight, keyWeight, valueWeight,
      qkvBias, queryBias, keyBias, valueBias, outWeight, outBias;
  /// The weight of `role`; null for a role that is not a weight.
  const std::optional<BufferRef> *get(ArgRole role) const;
  std::optional<BufferRef> *get(ArgRole role);
};

/// A compiled layer holding its own copy of the weights. Immutable; runs
/// may overlap from any number of threads.
class Layer {
public:
  const LayerSpec &spec() const { return layerSpec; }
  const KernelRef &kernel() const { return compiled; }
  /// Runs the layer on `args` (query, [key, value], [bool_mask],
  /// [kv_lengths], [dropout_state], output, [weights]); the weights are the
  /// layer's. Every buffer is validated first (an llvm::Error naming it).
  llvm::Error run(const AttentionArgs &args) const;

private:
  friend class Runtime;
  Layer(LayerSpec spec, KernelRef kernel)
      : layerSpec(std::move(spec)), compiled(std::move(kernel)) {}
  /// Copies `weights` (checked against the kernel's signature) into
  /// owned contiguous storage.
  llvm::Error bind(const LayerWeights &weights);

  LayerSpec layerSpec;
  KernelRef compiled;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<std::pair<ArgRole, BufferRef>> bound;
};

struct LayerReference {
  std::vector<double> output;  ///< [B, Sq, E_out]
  std::vector<double> weights; ///< [B, Hq, Sq, Skv] (returnWeights)
};

/// The float64 reference of one layer call (ReferenceLayer.cpp): `args`
/// holds every buffer of signatureForLayerSpec, weights included. The
/// projections in double, the attention's masks through the attention
/// reference's own logits (ReferenceDetail.h), a two-pass softmax with the
/// dropout keep bits regenerated from common/Philox.h, the output
/// projection in double. Shares no code with the kernel.
llvm::Expected<LayerReference> referenceLayer(const KernelSignature &sig,
                                              const AttentionArgs &args);

} // namespace mlir::attn::rt

#endif
