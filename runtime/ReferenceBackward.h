//===- ReferenceBackward.h - float64 attention gradients -------*- C++ -*-===//
//
// The oracle of attn.attention_grad: the forward recomputed in double
// (Reference.cpp's logits and masks, shared through ReferenceDetail.h), then
// per query row
//
//   P = softmax(s)                  (s: the logits, -inf where masked)
//   dV[j] += P[j] dO                dP[j] = dO · V[j]
//   D = sum_j P[j] dP[j]            (= rowsum(dO ∘ O))
//   dR[j] = P[j] (dP[j] - D) · ds/dr[j]   (softcap: 1 - tanh², score_mod:
//                                   its derivative, by central difference)
//   dQ += scale sum_j dR[j] K[j]    dK[j] += scale dR[j] Q    d(bias) += dR
//
// with GQA/MQA heads summed into their K/V head. Rows that see nothing
// contribute nothing (zero dQ). It reads dO from the call's `gradOutput`
// and recomputes O and lse itself (the kernels are handed the forward's).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_REFERENCEBACKWARD_H
#define ATTN_RUNTIME_REFERENCEBACKWARD_H

#include "runtime/AttentionArgs.h"
#include "runtime/KernelSignature.h"

#include <vector>

namespace mlir::attn::rt {

struct ReferenceGradients {
  std::vector<double> dq;     ///< logical [B, Hq, Sq, D]
  std::vector<double> dk;     ///< logical [B, Hkv, Skv, D]
  std::vector<double> dv;     ///< logical [B, Hkv, Skv, Dv]
  std::vector<double> dbias;  ///< the bias's own shape, row-major; empty
                              ///< without a bias
  std::vector<double> output; ///< the forward: logical [B, Hq, Sq, Dv]
  std::vector<double> lse;    ///< [B, Hq, Sq]
};

/// Gradients for the inputs of `args` under `sig` (any signature with q,
/// k, v and grad_output; outputs and the given output/lse are ignored).
/// Spread over `numThreads` threads (0: all) by K/V head, so the sums are
/// in one order whatever the count.
llvm::Expected<ReferenceGradients>
referenceAttentionBackward(const KernelSignature &sig,
                           const AttentionArgs &args, unsigned numThreads = 0);

} // namespace mlir::attn::rt

#endif
