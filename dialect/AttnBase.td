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
  // The contracts between passes, and between passes and the runtime, that
  // ride on ops of other dialects. Each has a typed helper
  // (AttnDialect::<Name>AttrHelper) and is checked, located, by
  // verifyOperationAttribute (AttnDialect.cpp): type and the op it sits on.
  let discardableAttrs = (ins
    // scf.forall (1-D): the work-item loop attn-parallel-to-runtime hands
    // to the runtime's threads. The item count is the loop's bound (static
    // or computed from the kernel's buffers), never repeated here.
    "::mlir::UnitAttr":$work_items,
    // scf.for over the KV tiles of one work item: the tile's key count
    // (the loop counts tiles; attn-mask-aware-iteration narrows it).
    "::mlir::IntegerAttr":$kv_tile_loop,
    // scf.for over the query blocks of one KV tile (the backward): the
    // tile's key count.
    "::mlir::IntegerAttr":$q_tile_loop,
    // A tile loop attn-mask-aware-iteration has narrowed already.
    "::mlir::UnitAttr":$mask_aware,
    // memref.alloc of one flash problem's split-KV scratch: its bytes per
    // work item. attn-parallel-to-runtime turns it into a kernel argument.
    "::mlir::IntegerAttr":$split_scratch,
    // The counter fill and the dealloc of that scratch (dropped with it).
    "::mlir::UnitAttr":$split_scratch_use,
    // attn.attention built by attn-raise-attention: the softmax form it
    // recognised (for remarks and tests).
    "::mlir::StringAttr":$raised,
    // memref.alloc() : memref<16xi64> on the host side of a GPU kernel: a
    // CUtensorMap the runtime encodes over a kernel buffer (AttnAttrs.td).
    "::mlir::attn::TensorMapAttr":$tensor_map
  );
  let hasOperationAttrVerify = 1;
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
