//===- AdditiveKernel.h - the additive-attention kernel and reference -*- C++
//-*-===//
#ifndef ATTN_RUNTIME_ADDITIVEKERNEL_H
#define ATTN_RUNTIME_ADDITIVEKERNEL_H

#include "runtime/AttentionArgs.h"
#include "runtime/KernelBuilder.h"

#include <vector>

namespace mlir::attn::rt {

/// Builds the kernel computing attn.additive_attention for `spec` (buffers
/// of signatureForAdditiveSpec) in a new module of `ctx`.
llvm::Expected<KernelModule>
buildAdditiveKernelModule(MLIRContext *ctx, const AdditiveSpec &spec);

struct AdditiveReference {
  std::vector<double> output;  ///< [B, Sq, Dv]
  std::vector<double> weights; ///< [B, Sq, Skv]
};

/// The float64 reference of an additive kernel's call (ReferenceAdditive.cpp),
/// straight from the op's definition and sharing no code with the kernel:
/// projections, tanh, the score bias, masks (-inf), a two-pass softmax
/// (rows that see no key: weights 0, output 0) and the weighted sum of
/// values. Validates `args` against `sig` first.
llvm::Expected<AdditiveReference> referenceAdditive(const KernelSignature &sig,
                                                    const AttentionArgs &args);

} // namespace mlir::attn::rt

#endif
