//===- AttnLayerOps.td - whole attention layers -----------*- tablegen -*-===//
//
// Ops one level above attn.attention: a layer with its projections, in the
// form a model holds it (nn.MultiheadAttention and friends). They lower to
// GEMMs around an attn.attention (attn-decompose-layer).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LAYER_OPS_TD
#define ATTN_LAYER_OPS_TD

include "dialect/AttnBase.td"
include "dialect/AttnAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_MultiHeadAttentionOp : Attn_Op<"multi_head_attention", [
    AttrSizedOperandSegments, Pure]> {
  let summary = "a multi-head attention layer: projections, attention, "
                "output projection";
  let description = [{
    One attention layer with its weights, as PyTorch's
    `nn.MultiheadAttention` (batch first) and seed 004's
    `MultiHeadAttentionAlt` compute it:

    ```
    q = query · Wqᵀ + bq        [B, Sq, Hq·D]   split into Hq heads of D
    k = key   · Wkᵀ + bk        [B, Skv, Hkv·D]
    v = value · Wvᵀ + bv        [B, Skv, Hkv·Dv]
    a = attn.attention(q, k, v) [B, Sq, Hq·Dv]  (bshd; masks, scale, dropout)
    output = a · Woᵀ + bo       [B, Sq, E_out]
    ```

    Operands (weights in `nn.Linear` layout, `[out, in]`, so a module's
    parameters are passed as they are):
    - `query` `[B, Sq, E]`; self-attention when the `kv(%key, %value)`
      group is absent (key and value are the query), cross-attention with
      `key` `[B, Skv, Ek]` and `value` `[B, Skv, Ev]`;
    - the input projection, one of: `qkv_weight(%w)`
      `[(Hq + 2·Hkv)·D, E]` (PyTorch's `in_proj_weight`: the Q rows, then
      K, then V; D = Dv; with cross-attention Ek = Ev = E), or
      `qkv_weights(%wq, %wk, %wv)` `[Hq·D, E]`, `[Hkv·D, Ek]`,
      `[Hkv·Dv, Ev]` (Dv may differ from D);
    - optional biases to match: `qkv_bias(%b)` `[(Hq + 2·Hkv)·D]` or
      `qkv_biases(%bq, %bk, %bv)` `[Hq·D]`, `[Hkv·D]`, `[Hkv·Dv]`;
    - `out_weight(%wo)` `[E_out, Hq·Dv]`, optional `out_bias(%bo)`
      `[E_out]`.

    `num_heads` is Hq; `num_kv_heads` (default Hq) is Hkv, which divides
    Hq: MHA, GQA or MQA as in `attn.attention` (query head `h` reads K/V
    head `h / (Hq / Hkv)`).

    The attention is `attn.attention`'s, with the same attributes and
    operands meaning the same thing: `scale` (default `1/sqrt(D)`),
    `mask` (`#attn.mask<...>`), `bool_mask` (i1, rank 4, broadcastable to
    `[B, Hq, Sq, Skv]`), `kv_lengths` `[B]`, `segment_ids`, and dropout
    (`dropout_p` with the `dropout(%state)` `[seed, offset]` operand; the
    Philox stream is keyed by the head-split positions `(b, h, q, k)`).

    The optional second result `weights` `[B, Hq, Sq, Skv]` holds the
    attention weights per head after masking and dropout (PyTorch's
    `need_weights` with `average_attn_weights=False`; the mean over dim 1
    is PyTorch's default). It is meant for small sizes: Skv must be
    static and at most 1024.

    Every float operand and result has one element type (f32, f16 or
    bf16); products accumulate in f32.

    ```mlir
    %o = attn.multi_head_attention %x qkv_weight(%w : tensor<2304x768xf32>)
        qkv_bias(%b : tensor<2304xf32>) out_weight(%wo : tensor<768x768xf32>)
        out_bias(%bo : tensor<768xf32>)
        {num_heads = 12, mask = #attn.mask<causal = true>}
        : tensor<8x1024x768xf32> -> tensor<8x1024x768xf32>
    ```
  }];

  let arguments = (ins
    Attn_FloatTensor:$query,
    Optional<Attn_FloatTensor>:$key,
    Optional<Attn_FloatTensor>:$value,
    Optional<Attn_FloatTensor>:$qkv_weight,
    Optional<Attn_FloatTensor>:$q_weight,
    Optional<Attn_FloatTensor>:$k_weight,
    Optional<Attn_FloatTensor>:$v_weight,
    Optional<Attn_FloatTensor>:$qkv_bias,
    Optional<Attn_FloatTensor>:$q_bias,
    Optional<Attn_FloatTensor>:$k_bias,
    Optional<Attn_FloatTensor>:$v_bias,
    Attn_FloatTensor:$out_weight,
    Optional<Attn_FloatTensor>:$out_bias,
    Optional<RankedTensorOf<[I1]>>:$bool_mask,
    Optional<Attn_I32Tensor>:$kv_lengths,
    Optional<Attn_I32Tensor>:$q_segment_ids,
    Optional<Attn_I32Tensor>:$kv_segment_ids,
    Optional<RankedTensorOf<[I64]>>:$dropout_state,
    I64Attr:$num_heads,
    OptionalAttr<I64Attr>:$num_kv_heads,
    OptionalAttr<F32Attr>:$scale,
    OptionalAttr<Attn_MaskAttr>:$mask,
    OptionalAttr<F64Attr>:$dropout_p);
  let results = (outs
    Attn_FloatTensor:$output,
    Optional<Attn_FloatTensor>:$weights);

  let assemblyFormat = [{
    $query
    (`kv` `(` $key^ `,` $value `:` type($key) `,` type($value) `)`)?
    (`qkv_weight` `(` $qkv_weight^ `:` type($qkv_weight) `)`)?
    (`qkv_weights` `(` $q_weight^ `,` $k_weight `,` $v_weight `:`
        type($q_weight) `,` type($k_weight) `,` type($v_weight) `)`)?
    (`qkv_bias` `(` $qkv_bias^ `:` type($qkv_bias) `)`)?
    (`qkv_biases` `(` $q_bias^ `,` $k_bias `,` $v_bias `:`
        type($q_bias) `,` type($k_bias) `,` type($v_bias) `)`)?
    `out_weight` `(` $out_weight `:` type($out_weight) `)`
    (`out_bias` `(` $out_bias^ `:` type($out_bias) `)`)?
    (`bool_mask` `(` $bool_mask^ `:` type($bool_mask) `)`)?
    (`kv_lengths` `(` $kv_lengths^ `:` type($kv_lengths) `)`)?
    (`segment_ids` `(` $q_segment_ids^ `,` $kv_segment_ids `:`
        type($q_segment_ids) `,` type($kv_segment_ids) `)`)?
    (`dropout` `(` $dropout_state^ `:` type($dropout_state) `)`)?
    attr-dict `:` type($query) `->` type($output) (`,` type($weights)^)?
  }];

  let hasVerifier = 1;

  let extraClassDeclaration = [{
    /// Hkv (num_kv_heads, defaulting to num_heads).
    int64_t getNumKvHeadsOrDefault();
    /// The head dims D and Dv the weights imply (valid after verify).
    int64_t getHeadDim();
    int64_t getValueHeadDim();
    /// The key and value inputs: the query for self-attention.
    ::mlir::Value getKeyInput();
    ::mlir::Value getValueInput();
    bool isSelfAttention() { return !getKey(); }
    /// The scale to apply, defaulting to 1/sqrt(D).
    float getScaleOrDefault();
  }];
}

#endif // ATTN_LAYER_OPS_TD
