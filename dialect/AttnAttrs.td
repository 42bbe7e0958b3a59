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

def Attn_RopeStyleNeoX : I32EnumAttrCase<"NeoX", 0, "neox">;
def Attn_RopeStyleInterleaved : I32EnumAttrCase<"Interleaved", 1,
                                                "interleaved">;
def Attn_RopeStyle : I32EnumAttr<"RopeStyle",
    "which dims of a row a rotary embedding rotates together",
    [Attn_RopeStyleNeoX, Attn_RopeStyleInterleaved]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}

def Attn_RopeAttr : AttrDef<Attn_Dialect, "Rope"> {
  let mnemonic = "rope";
  let summary = "rotary position embedding (RoPE) of the cache ops";
  let description = [{
    How `attn.cache_append` rotates keys and `attn.cache_attention` rotates
    queries by their positions, with the `rotary(%cos, %sin)` tables
    `[max_pos, rotary_dim / 2]` (FlashAttention's `rotary_cos` /
    `rotary_sin`). Pair `i < rotary_dim / 2` of a row `x` is
    `(x[i], x[i + rotary_dim / 2])` for `style = neox` (GPT-NeoX, Llama;
    FlashAttention's `rotary_interleaved = False`, FlashInfer's
    `ROPE_LLAMA`) and `(x[2i], x[2i + 1])` for `style = interleaved`
    (GPT-J). At position `p` the pair `(a, b)` becomes
    `(a cos[p, i] - b sin[p, i], b cos[p, i] + a sin[p, i])`; dims
    `rotary_dim ..` pass through (partial rotary). common/Rope.h holds the
    definition the lowering and the float64 references share.
    `rotary_dim` must be even and positive (the ops check it against the
    head dim).

    ```mlir
    #attn.rope<style = neox, rotary_dim = 128>
    ```
  }];
  let parameters = (ins
    EnumParameter<Attn_RopeStyle>:$style,
    "int64_t":$rotary_dim);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
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

def Attn_TensorMapAttr : AttrDef<Attn_Dialect, "TensorMap"> {
  let mnemonic = "tensor_map";
  let summary = "a CUtensorMap (Hopper TMA) over one kernel buffer";
  let description = [{
    What `cuTensorMapEncodeTiled` needs, less the address: the runtime
    encodes it over kernel argument `source` whenever that buffer's address
    changes and uploads the 128 bytes into the `memref<16xi64>` scratch the
    attribute sits on (as `attn.tensor_map`, see AttnBase.td). `dims` are
    element counts, innermost first (rank 1 to 5, each 1 to 2^32);
    `strides` the byte strides of dims 1.. (rank - 1 of them, positive
    multiples of 16 below 2^40); `box` the elements one copy moves per dim
    (1 to 256; a box may reach past the tensor's end, those elements read
    as zero); `swizzle` the shared-memory swizzle span in bytes (0, 32, 64
    or 128).

    ```mlir
    %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 1,
        dims = [64, 128, 2, 1], strides = [128, 16384, 32768],
        box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
    ```

    The attribute's own verifier checks these ranges; where it sits, the
    dialect's checks it against its source buffer (an f16/bf16 memref
    argument of the function holding every byte the map describes; the
    inner box a multiple of 16 bytes and within the swizzle span).
  }];
  let parameters = (ins
    "int64_t":$source,
    "::mlir::DenseI64ArrayAttr":$dims,
    "::mlir::DenseI64ArrayAttr":$strides,
    "::mlir::DenseI64ArrayAttr":$box,
    "int64_t":$swizzle);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // ATTN_ATTRS_TD
