//===- AttnAttrs.td - attn attributes ----------------------*- tablegen -*-===//

#ifndef ATTN_ATTRS_TD
#define ATTN_ATTRS_TD

include "dialect/AttnBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Attn_LayoutBHSD : I32EnumAttrCase<"BHSD", 0, "bhsd">;
def Attn_LayoutBSHD : I32EnumAttrCase<"BSHD", 1, "bshd">;
def Attn_Layout : I32EnumAttr<"Layout",
    "memory order of the q/k/v/output tensors",
    [Attn_LayoutBHSD, Attn_LayoutBSHD]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_LayoutAttr : EnumAttr<Attn_Dialect, Attn_Layout, "layout"> {
  let summary = "tensor layout: bhsd = [batch, heads, seq, dim], "
                "bshd = [batch, seq, heads, dim]";
  let assemblyFormat = "`<` $value `>`";
}

def Attn_PageLayoutNHD : I32EnumAttrCase<"NHD", 0, "nhd">;
def Attn_PageLayoutHND : I32EnumAttrCase<"HND", 1, "hnd">;
def Attn_PageLayout : I32EnumAttr<"PageLayout",
    "memory order of one page of a paged KV cache",
    [Attn_PageLayoutNHD, Attn_PageLayoutHND]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_PageLayoutAttr : EnumAttr<Attn_Dialect, Attn_PageLayout,
                                   "page_layout"> {
  let summary = "paged KV-cache page layout: nhd = [P, page_size, Hkv, D] "
                "(vLLM, the default), hnd = [P, Hkv, page_size, D] "
                "(FlashInfer, head-major)";
  let description = [{
    How the rows of one page of a paged K/V pool are ordered. `nhd` (the
    default when the attribute is absent) interleaves the K/V heads of each
    token: `[P, page_size, Hkv, D]`, so one token's rows are contiguous and
    one head's rows are `Hkv * D` elements apart. `hnd` stores each head's
    rows of a page together: `[P, Hkv, page_size, D]`, so attention over
    one K/V head reads `page_size * D` contiguous elements per page.
  }];
  let assemblyFormat = "`<` $value `>`";
}

def Attn_MaskAttr : AttrDef<Attn_Dialect, "Mask"> {
  let mnemonic = "mask";
  let summary = "structured attention mask";
  let description = [{
    Describes which key/value positions a query may attend to, without any
    tensor. A query at index `q` sits at absolute position `i = q + q_offset`;
    it may attend to key/value index `j` when all of the following hold:

    - `causal`: `j <= i`;
    - window: `i - j <= window_left` (if `window_left >= 0`) and
      `j - i <= window_right` (if `window_right >= 0`); `-1` is unbounded;
    - `dilation`: `(i - j) mod dilation == 0`;

    or, regardless of the above, when `j < global_tokens` or
    `i < global_tokens` (global tokens see and are seen by everything,
    as in Longformer/BigBird).

    Every parameter has a default (no constraint), so `#attn.mask<causal = true>`
    is a plain causal mask and `#attn.mask<window_left = 255, window_right = 0,
    causal = true>` a causal sliding window of 256 tokens. `q_offset` places a
    chunk of queries after a prefix already in the cache (chunked prefill).
    A mask may leave a query row with nothing to attend to; its output is 0.
  }];
  let parameters = (ins
    DefaultValuedParameter<"bool", "false">:$causal,
    DefaultValuedParameter<"int64_t", "0">:$q_offset,
    DefaultValuedParameter<"int64_t", "-1">:$window_left,
    DefaultValuedParameter<"int64_t", "-1">:$window_right,
    DefaultValuedParameter<"int64_t", "1">:$dilation,
    DefaultValuedParameter<"int64_t", "0">:$global_tokens);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The same mask as a plain struct (MaskSpec.h holds the semantics).
    ::mlir::attn::MaskSpec getSpec() const {
      return {getCausal(), getQOffset(), getWindowLeft(), getWindowRight(),
              getDilation(), getGlobalTokens()};
    }
    static MaskAttr get(::mlir::MLIRContext *ctx,
                        const ::mlir::attn::MaskSpec &m) {
      return get(ctx, m.causal, m.qOffset, m.windowLeft, m.windowRight,
                 m.dilation, m.globalTokens);
    }
    bool isTrivial() const { return getSpec().isTrivial(); }
  }];
}

#endif // ATTN_ATTRS_TD
