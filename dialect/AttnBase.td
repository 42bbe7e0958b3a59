//===- AttnBase.td - the attn dialect definition -----------*- tablegen -*-===//

#ifndef ATTN_BASE_TD
#define ATTN_BASE_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Fused attention and KV-cache operations";
  let description = [{
    The `attn` dialect expresses attention as users write it: multi-head,
    multi-query and grouped-query attention with structured masks (causal,
    sliding window, dilation, global tokens), explicit boolean masks or
    additive biases, ragged KV lengths, segment ids, logit soft-capping and
    FlexAttention-style `score_mod` / `mask_mod` regions, plus the KV-cache
    operations a decoder needs (append into a contiguous or paged cache, and
    attention reading from either).

    The dialect only describes *what* is computed. Lowering (tiling into the
    flash form, vectorization, GPU mapping) lives in `passes/`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
  private:
    // Lives next to the attribute storage classes (AttnAttrs.cpp).
    void registerAttributes();
  public:
  }];
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_BASE_TD
