//===- AttnOps.td - attn operations ------------------------*- tablegen -*-===//

#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "dialect/AttnBase.td"
include "dialect/AttnAttrs.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def Attn_FloatElt : AnyTypeOf<[F32, F16, BF16]>;
def Attn_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Attn_I32Tensor : RankedTensorOf<[I32]>;
def Attn_FloatMemRef : MemRefOf<[F32, F16, BF16]>;
def Attn_I32MemRef : MemRefOf<[I32]>;

//===----------------------------------------------------------------------===//
// attn.attention
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [
    AttrSizedOperandSegments, RecursiveMemoryEffects,
    RecursivelySpeculatable]> {
  let summary = "fused scaled-dot-product attention (MHA, MQA, GQA)";
  let description = [{
    Computes, per batch and query head, without ever exposing the
    `[Sq, Skv]` score matrix:
    `s = scale * q·k`, then `s += bias`, `s = score_mod(s, ...)`,
    `s = softcap * tanh(s / softcap)`, then every mask (structured,
    `kv_lengths`, `bool_mask`, segments, `mask_mod`) sets `s = -inf`, and
    `out = softmax(s) · V` (f32 accumulation).

    Shapes (layout `bhsd`, the default; `bshd` swaps the seq and head dims of
    q, k, v and output):
    - `query`  `[B, Hq, Sq, D]`, `key` `[B, Hkv, Skv, D]`,
      `value` `[B, Hkv, Skv, Dv]`, `output` `[B, Hq, Sq, Dv]`;
    - `Hq % Hkv == 0`: query head `h` reads K/V head `h / (Hq / Hkv)`, so
      MHA is `Hq == Hkv`, MQA is `Hkv == 1` and GQA is everything between;
    - optional `lse` result `[B, Hq, Sq]` in f32: the natural-log
      log-sum-exp of each row's (scaled, modified) logits, `-inf` for rows
      that see nothing.

    q, k, v and the output share one element type (f32, f16 or bf16);
    accumulation is f32.

    Attributes:
    - `scale` (default `1/sqrt(D)`) multiplies Q·Kᵀ;
    - `softcap` replaces a logit `s` by `softcap * tanh(s / softcap)`;
    - `mask`, a `#attn.mask<...>` structured mask (causal with query
      offset, sliding window, dilation, global tokens);
    - `layout`, `#attn.layout<bhsd>` (default) or `#attn.layout<bshd>`.

    Optional operands, all combined with the structured mask by AND:
    - `bool_mask` (i1) and `bias` (float, added to the logits), each of rank
      4 and broadcastable to `[B, Hq, Sq, Skv]` (every dim is 1 or equal);
    - `kv_lengths` `[B]` i32: only key/value rows `j < kv_lengths[b]` exist
      (ragged batches);
    - `segment_ids(q_ids, kv_ids)` `[B, Sq]` and `[B, Skv]` i32: a query
      only attends to keys of its own segment (packed sequences).

    Attention sinks (gpt-oss): the optional `sinks` operand `[Hq]` f32
    holds one learnable logit per query head that joins every row's softmax
    denominator but carries no value:
    `out = sum_j exp(s_j - m) v_j / (exp(sink_h - m) + sum_j exp(s_j - m))`
    with `m` the maximum over the row's logits and the sink. It is not
    scaled, modified, capped or masked; the lse includes it; a row that
    sees no key gives 0 and `lse = sink_h`.

    Dropout on the attention weights (training): `dropout_p = p` (f64,
    `0 <= p < 1`) with the run-time operand `dropout(%state)`, a
    `tensor<2xi64>` holding `[seed, offset]`, so that one compiled kernel
    serves every training step. The two come together (the verifier
    rejects one without the other). After the softmax, each weight
    `P[b, h, q, k]` is kept with probability `1 - p` and scaled by
    `1 / (1 - p)`, or set to 0, as PyTorch's `dropout(softmax(s))`:
    `out = sum_k keep·P·v / (1 - p)`. The keep bit is the Philox4x32-10
    stream of common/Philox.h keyed by (seed, offset, b, h, q, k) (the
    mapping is in docs/convert.md), so every kernel, tiling, split and
    thread count draws the same mask. The `lse` result is the undropped
    one. `p = 0` keeps every weight: the kernel is the one without
    dropout.

    Block-sparse masks (FlexAttention's `BlockMask`, FlashInfer's BSR):
    `block_mask(%kv_num_blocks, %kv_indices : ...) block_size [BQ, BK]`
    with `kv_num_blocks` `[B', H', ceil(Sq / BQ)]` i32 and `kv_indices`
    `[B', H', ceil(Sq / BQ), maxBlocks]` i32 (`B'` 1 or B, `H'` 1 or Hq):
    query `q` of block `q / BQ` may only see keys `j` whose block `j / BK`
    is one of the first `kv_num_blocks[b, h, q / BQ]` entries of
    `kv_indices[b, h, q / BQ]`. Those entries must be strictly ascending
    and in `[0, ceil(Skv / BK))`, with `0 <= kv_num_blocks <= maxBlocks`
    (the runtime checks this before a run). Every other mask applies inside
    the visible blocks; a query block with no visible block gives 0 (lse
    `-inf`). The kernels iterate only the listed blocks.

    Optional regions, in the spirit of FlexAttention:
    - `score_mod` `^bb0(%score: f32, %b: index, %h: index, %q: index,
      %kv: index)` yields the modified f32 logit (ALiBi, relative bias, ...);
    - `mask_mod` `^bb0(%b: index, %h: index, %q: index, %kv: index)` yields
      an `i1`, true where attending is allowed.
    Both see the *query* head index `h` and may use values defined above.

    Rows with nothing to attend to produce 0, never NaN.

    Example (GQA, causal, 4 query heads per K/V head):
    ```mlir
    %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
        : tensor<1x32x128x64xf16>, tensor<1x8x128x64xf16>,
          tensor<1x8x128x64xf16> -> tensor<1x32x128x64xf16>
    ```
  }];

  let arguments = (ins
    Attn_FloatTensor:$query,
    Attn_FloatTensor:$key,
    Attn_FloatTensor:$value,
    Optional<RankedTensorOf<[I1]>>:$bool_mask,
    Optional<Attn_FloatTensor>:$bias,
    Optional<Attn_I32Tensor>:$kv_lengths,
    Optional<Attn_I32Tensor>:$q_segment_ids,
    Optional<Attn_I32Tensor>:$kv_segment_ids,
    Optional<Attn_FloatTensor>:$sinks,
    Optional<RankedTensorOf<[I64]>>:$dropout_state,
    Optional<Attn_I32Tensor>:$kv_num_blocks,
    Optional<Attn_I32Tensor>:$kv_indices,
    OptionalAttr<F32Attr>:$scale,
    OptionalAttr<F32Attr>:$softcap,
    OptionalAttr<Attn_MaskAttr>:$mask,
    OptionalAttr<Attn_LayoutAttr>:$layout,
    OptionalAttr<F64Attr>:$dropout_p,
    OptionalAttr<DenseI64ArrayAttr>:$block_size);
  let results = (outs
    Attn_FloatTensor:$output,
    Optional<RankedTensorOf<[F32]>>:$lse);
  let regions = (region AnyRegion:$score_mod, AnyRegion:$mask_mod);

  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`bool_mask` `(` $bool_mask^ `:` type($bool_mask) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`kv_lengths` `(` $kv_lengths^ `:` type($kv_lengths) `)`)?
    (`segment_ids` `(` $q_segment_ids^ `,` $kv_segment_ids `:`
        type($q_segment_ids) `,` type($kv_segment_ids) `)`)?
    (`sinks` `(` $sinks^ `:` type($sinks) `)`)?
    (`dropout` `(` $dropout_state^ `:` type($dropout_state) `)`)?
    (`block_mask` `(` $kv_num_blocks^ `,` $kv_indices `:`
        type($kv_num_blocks) `,` type($kv_indices) `)`
        `block_size` $block_size)?
    (`score_mod` $score_mod^)?
    (`mask_mod` $mask_mod^)?
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    `->` type($output) (`,` type($lse)^)?
  }];

  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let hasCanonicalizeMethod = 1;

  let extraClassDeclaration = [{
    /// Layout, defaulting to BHSD when the attribute is absent.
    ::mlir::attn::Layout getLayoutOrDefault();
    /// The scale to apply, defaulting to 1/sqrt(D).
    float getScaleOrDefault();
    /// Logical [B, H, S, D] sizes of an operand, whatever the layout.
    ::llvm::SmallVector<int64_t, 4> getLogicalShape(::mlir::Value tensor);
  }];
}

//===----------------------------------------------------------------------===//
// attn.attention_grad
//===----------------------------------------------------------------------===//

def Attn_AttentionGradOp : Attn_Op<"attention_grad", [
    AttrSizedOperandSegments, RecursiveMemoryEffects,
    RecursivelySpeculatable]> {
  let summary = "gradients of attn.attention (the backward pass)";
  let description = [{
    Given the inputs of an `attn.attention` (same operands, attributes and
    regions, meaning the same thing), its `output` `O`, the forward's
    log-sum-exp `lse` (`[B, Hq, Sq]` f32, the forward's optional result) and
    the gradient of the loss with respect to the output, `grad_output`
    (`dO`, shaped like `O`), computes the gradients of the loss with respect
    to `query`, `key` and `value` (and to `bias`, when the op has a
    `grad_bias` result). With `P = exp(s - lse)` the forward's
    probabilities recomputed from the logits `s` (after bias, score_mod,
    softcap and masks; a masked pair has `P = 0`):

    - `dV[j] = sum_i P[i, j] dO[i]`;
    - `dP[i, j] = dO[i] · V[j]`, `D[i] = rowsum(dO[i] ∘ O[i])`,
      `dS[i, j] = P[i, j] (dP[i, j] - D[i])` (the softmax's Jacobian);
    - back through softcap (`dS *= 1 - tanh²`) and score_mod (its
      derivative with respect to the score) to the raw logit
      `r = scale·q·k + bias`: `dR`;
    - `dQ[i] = scale sum_j dR[i, j] K[j]`, `dK[j] = scale sum_i dR[i, j] Q[i]`,
      `d(bias) = dR` summed over the dims where `bias` broadcasts.

    With GQA/MQA, `dK`/`dV` of a K/V head sum the contributions of every
    query head of its group. Rows that see no key (lse = -inf) have zero
    gradients. Results have the types of `query`, `key`, `value` (and
    `bias`).

    Dropout: `dropout_p = p` with the run-time `dropout(%state)` operand
    (`tensor<2xi64>`, [seed, offset]) mean what they mean on
    `attn.attention`, and must be the forward's. The Philox stream of
    common/Philox.h regenerates the forward's keep mask `Z` (`1 / (1 - p)`
    where kept, else 0), so with `P` the undropped probabilities:
    `dV[j] = sum_i P[i, j] Z[i, j] dO[i]`, `dP[i, j] = Z[i, j] dO[i] · V[j]`,
    and `D[i] = rowsum(dO[i] ∘ O[i])` with the forward's (dropped) output,
    which equals `sum_j P[i, j] dP[i, j]`; `dS` is unchanged in form.

    Attention sinks are not taken yet (their gradient is one more result).

    The optional `score_mod_grad` region (same arguments as `score_mod`,
    yields an f32) is `d score_mod(s, ...) / d s` at the same arguments. It
    is only allowed with a `score_mod`; when absent, the lowering builds it
    from `score_mod` (pass `attn-differentiate-score-mod`, which also
    writes it here so it can be read).

    ```mlir
    %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
        {mask = #attn.mask<causal = true>}
        : tensor<1x32x128x64xf16>, tensor<1x8x128x64xf16>,
          tensor<1x8x128x64xf16>, tensor<1x32x128x64xf16>,
          tensor<1x32x128x64xf16>, tensor<1x32x128xf32>
        -> tensor<1x32x128x64xf16>, tensor<1x8x128x64xf16>,
           tensor<1x8x128x64xf16>
    ```
  }];

  let arguments = (ins
    Attn_FloatTensor:$query,
    Attn_FloatTensor:$key,
    Attn_FloatTensor:$value,
    Attn_FloatTensor:$output,
    Attn_FloatTensor:$grad_output,
    RankedTensorOf<[F32]>:$lse,
    Optional<RankedTensorOf<[I1]>>:$bool_mask,
    Optional<Attn_FloatTensor>:$bias,
    Optional<Attn_I32Tensor>:$kv_lengths,
    Optional<Attn_I32Tensor>:$q_segment_ids,
    Optional<Attn_I32Tensor>:$kv_segment_ids,
    Optional<RankedTensorOf<[I64]>>:$dropout_state,
    OptionalAttr<F32Attr>:$scale,
    OptionalAttr<F32Attr>:$softcap,
    OptionalAttr<Attn_MaskAttr>:$mask,
    OptionalAttr<Attn_LayoutAttr>:$layout,
    OptionalAttr<F64Attr>:$dropout_p);
  let results = (outs
    Attn_FloatTensor:$grad_query,
    Attn_FloatTensor:$grad_key,
    Attn_FloatTensor:$grad_value,
    Optional<Attn_FloatTensor>:$grad_bias);
  let regions = (region AnyRegion:$score_mod, AnyRegion:$mask_mod,
                 AnyRegion:$score_mod_grad);

  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $grad_output `,` $lse
    (`bool_mask` `(` $bool_mask^ `:` type($bool_mask) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`kv_lengths` `(` $kv_lengths^ `:` type($kv_lengths) `)`)?
    (`segment_ids` `(` $q_segment_ids^ `,` $kv_segment_ids `:`
        type($q_segment_ids) `,` type($kv_segment_ids) `)`)?
    (`dropout` `(` $dropout_state^ `:` type($dropout_state) `)`)?
    (`score_mod` $score_mod^)?
    (`mask_mod` $mask_mod^)?
    (`score_mod_grad` $score_mod_grad^)?
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($output) `,` type($grad_output) `,` type($lse)
    `->` type($grad_query) `,` type($grad_key) `,` type($grad_value)
    (`,` type($grad_bias)^)?
  }];

  let hasVerifier = 1;
  let hasRegionVerifier = 1;

  let extraClassDeclaration = [{
    /// Layout, defaulting to BHSD when the attribute is absent.
    ::mlir::attn::Layout getLayoutOrDefault();
    /// The scale to apply, defaulting to 1/sqrt(D).
    float getScaleOrDefault();
    /// Logical [B, H, S, D] sizes of an operand, whatever the layout.
    ::llvm::SmallVector<int64_t, 4> getLogicalShape(::mlir::Value tensor);
  }];
}

//===----------------------------------------------------------------------===//
// attn.additive_attention
//===----------------------------------------------------------------------===//

def Attn_AdditiveAttentionOp : Attn_Op<"additive_attention", [
    AttrSizedOperandSegments, Pure]> {
  let summary = "additive (Bahdanau) attention with its projections";
  let description = [{
    The AdditiveAttention of seed 002 (`sooftware/attentions`), for a batch
    of query rows:

    ```
    score[b, q, k] = w · tanh(W_q · query[b, q] + W_k · key[b, k] + bias)
                     + score_bias
    weights[b, q, :] = softmax(score[b, q, :])    (masked keys excluded)
    output[b, q]     = sum_k weights[b, q, k] · value[b, k]
    ```

    Shapes; the weights are PyTorch `nn.Linear` weights (`[out, in]`), so
    a module's `query_proj.weight`, `key_proj.weight`, `bias`,
    `score_proj.weight` and `score_proj.bias` are passed as they are:
    - `query` `[B, Sq, Dq]`, `key` `[B, Skv, Dk]`, `value` `[B, Skv, Dv]`;
    - `query_weight` `[H, Dq]`, `key_weight` `[H, Dk]` (the projections
      have no biases of their own, as in the seed), `score_weight` `[1, H]`;
    - optional `bias` `[H]` (added inside the tanh) and `score_bias` `[1]`
      (added to every score: a softmax is shift-invariant, so it changes
      neither result; it is taken so that checkpoints map one to one);
    - `output` `[B, Sq, Dv]`; the optional second result `weights`
      `[B, Sq, Skv]` is the attention distribution (the seed's `attn`).

    The seed is the case `Sq = 1` (one decoder state per sequence), which
    it returns as `[B, 1, Dv]` and `[B, Skv]`. B, Sq and Skv may be
    run-time sizes; H, Dq, Dk and Dv are independent.

    Masking (optional, combined by AND): `kv_lengths` `[B]` i32, the valid
    keys of each sequence (`k < kv_lengths[b]`, as a padded batch of
    encoder states has), and `bool_mask`, i1 broadcastable to
    `[B, Sq, Skv]` (each dim 1 or equal), true where attending is allowed.
    A row that sees no key (e.g. `kv_lengths[b] = 0`) has output 0 and
    weights 0, never NaN, like `attn.attention`'s fully masked rows.

    Every float operand and result has one element type (f32, f16 or
    bf16); the projections, the tanh, the softmax and the weighted sum run
    in f32.

    ```mlir
    %o, %w = attn.additive_attention %q, %k, %v, %wq, %wk, %ws
        bias(%bias : tensor<256xf32>) kv_lengths(%len : tensor<8xi32>)
        : tensor<8x1x256xf32>, tensor<8x50x256xf32>, tensor<8x50x256xf32>,
          tensor<256x256xf32>, tensor<256x256xf32>, tensor<1x256xf32>
        -> tensor<8x1x256xf32>, tensor<8x1x50xf32>
    ```
  }];

  let arguments = (ins
    Attn_FloatTensor:$query,
    Attn_FloatTensor:$key,
    Attn_FloatTensor:$value,
    Attn_FloatTensor:$query_weight,
    Attn_FloatTensor:$key_weight,
    Attn_FloatTensor:$score_weight,
    Optional<Attn_FloatTensor>:$bias,
    Optional<Attn_FloatTensor>:$score_bias,
    Optional<Attn_I32Tensor>:$kv_lengths,
    Optional<RankedTensorOf<[I1]>>:$bool_mask);
  let results = (outs
    Attn_FloatTensor:$output,
    Optional<Attn_FloatTensor>:$weights);

  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $query_weight `,` $key_weight `,`
    $score_weight
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`score_bias` `(` $score_bias^ `:` type($score_bias) `)`)?
    (`kv_lengths` `(` $kv_lengths^ `:` type($kv_lengths) `)`)?
    (`bool_mask` `(` $bool_mask^ `:` type($bool_mask) `)`)?
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($query_weight) `,` type($key_weight) `,` type($score_weight)
    `->` type($output) (`,` type($weights)^)?
  }];

  let hasVerifier = 1;

  let extraClassDeclaration = [{
    /// The hidden size H (rows of query_weight; may be ShapedType::kDynamic).
    int64_t getHiddenSize();
  }];
}

def Attn_YieldOp : Attn_Op<"yield", [
    Pure, Terminator, ReturnLike,
    ParentOneOf<["AttentionOp", "AttentionGradOp"]>]> {
  let summary = "terminates a score_mod or mask_mod region";
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// KV-cache operations (buffers: a cache is mutable state)
//===----------------------------------------------------------------------===//

def Attn_CacheAppendOp : Attn_Op<"cache_append", [AttrSizedOperandSegments]> {
  let summary = "append a ragged batch of new K/V rows to a KV cache";
  let description = [{
    Copies, for every sequence `b`, the first `new_lengths[b]` rows of
    `key`/`value` (`[B, Hkv, Snew, D]` / `[B, Hkv, Snew, Dv]`; all `Snew`
    rows when `new_lengths` is absent) into the cache at positions
    `cache_lengths[b] ...`. `cache_lengths` holds the lengths *before* the
    append and is not modified: the caller owns length bookkeeping.

    The cache is contiguous when `block_table` is absent:
    `key_cache` `[B, Hkv, Smax, D]`, `value_cache` `[B, Hkv, Smax, Dv]`.
    With `block_table` `[B, max_pages]` (i32 page ids) it is paged, in the
    style of vLLM: `key_cache` `[P, page_size, Hkv, D]`,
    `value_cache` `[P, page_size, Hkv, Dv]`; position `s` of sequence `b`
    lives in page `block_table[b, s / page_size]` at row `s % page_size`.
    `page_layout = #attn.page_layout<hnd>` selects head-major pages
    instead, in the style of FlashInfer: `[P, Hkv, page_size, D]` /
    `[P, Hkv, page_size, Dv]` (each K/V head's rows of a page contiguous,
    which attention over one head streams); `#attn.page_layout<nhd>` is the
    default. The attribute is only valid with `block_table`.

    Writing past the capacity (`Smax`, or `max_pages * page_size`) is
    undefined here; the runtime checks capacity before it runs this op.

    Rotary embedding: with `rotary(%cos, %sin)` (tables
    `[max_pos, rotary_dim / 2]`, f32 or the key's element type) and
    `rope = #attn.rope<...>`, each key row is rotated by its position
    before it is written, so the cache only ever holds rotated keys: row
    `i` of sequence `b` is at position `cache_lengths[b] + i`. Values are
    copied as they are. The two come together; `rotary_dim <= D`. A
    position past the table (`>= max_pos`) is an error: the verifier
    rejects a static capacity larger than a static `max_pos`, the runtime
    checks the lengths, and the kernel drops such rows rather than write
    an unrotated key.

    ```mlir
    attn.cache_append %k, %v into %kc, %vc lengths(%len)
        block_table(%bt : memref<4x64xi32>)
        : memref<4x8x1x128xbf16>, memref<4x8x1x128xbf16>
          into memref<1024x16x8x128xbf16>, memref<1024x16x8x128xbf16>,
          memref<4xi32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_FloatMemRef, "new keys", [MemRead]>:$key,
    Arg<Attn_FloatMemRef, "new values", [MemRead]>:$value,
    Arg<Attn_FloatMemRef, "key cache", [MemWrite]>:$key_cache,
    Arg<Attn_FloatMemRef, "value cache", [MemWrite]>:$value_cache,
    Arg<Attn_I32MemRef, "lengths before the append", [MemRead]>:$cache_lengths,
    Arg<Optional<Attn_I32MemRef>, "valid new rows", [MemRead]>:$new_lengths,
    Arg<Optional<Attn_I32MemRef>, "page ids", [MemRead]>:$block_table,
    Arg<Optional<Attn_FloatMemRef>, "rotary cosines", [MemRead]>:$rotary_cos,
    Arg<Optional<Attn_FloatMemRef>, "rotary sines", [MemRead]>:$rotary_sin,
    OptionalAttr<Attn_PageLayoutAttr>:$page_layout,
    OptionalAttr<Attn_RopeAttr>:$rope);
  let assemblyFormat = [{
    $key `,` $value `into` $key_cache `,` $value_cache
    `lengths` `(` $cache_lengths `)`
    (`new_lengths` `(` $new_lengths^ `:` type($new_lengths) `)`)?
    (`block_table` `(` $block_table^ `:` type($block_table) `)`)?
    (`rotary` `(` $rotary_cos^ `,` $rotary_sin `:` type($rotary_cos) `,`
        type($rotary_sin) `)`)?
    attr-dict `:` type($key) `,` type($value) `into` type($key_cache) `,`
    type($value_cache) `,` type($cache_lengths)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool isPaged() { return static_cast<bool>(getBlockTable()); }
    /// The page layout, NHD when the attribute is absent.
    ::mlir::attn::PageLayout getPageLayoutOrDefault() {
      return getPageLayout().value_or(::mlir::attn::PageLayout::NHD);
    }
  }];
}

def Attn_CacheAttentionOp : Attn_Op<"cache_attention", [
    AttrSizedOperandSegments]> {
  let summary = "attention of new queries against a KV cache (decode, "
                "chunked prefill)";
  let description = [{
    Attention of `query` `[B, Hq, Sq, D]` against the first
    `cache_lengths[b]` rows of each sequence in a contiguous or paged cache
    (same cache forms and `page_layout` as `attn.cache_append`). The `Sq`
    queries are the *last* `Sq` tokens of each sequence: query `q` of
    sequence `b` sits at
    absolute position `cache_lengths[b] - Sq + q`, which is what causal and
    window masks are measured against, so one op covers decode (`Sq` = 1
    to a few) and chunked prefill continuing a cached prefix. The mask's
    `q_offset` must therefore be 0. Ragged batches are the norm:
    `cache_lengths` may differ per sequence, including 0.

    Results are written to `output` `[B, Hq, Sq, Dv]` and, if given, the f32
    log-sum-exp `lse` `[B, Hq, Sq]`. GQA and the optional per-query-head
    `sinks` `[Hq]` f32 logits follow `attn.attention`.

    Rotary embedding: with `rotary(%cos, %sin)` and `rope` (as in
    `attn.cache_append`, whose rotated keys the cache holds), query `q` of
    sequence `b` is rotated by its position `cache_lengths[b] - Sq + q`
    before the scores. Positions must lie in `[0, max_pos)` (the runtime
    checks `Sq <= cache_lengths[b] <= max_pos`; the kernel clamps table
    reads into the table).

    Mixed batches (prefill chunks next to decode tokens, in the style of
    FlashAttention's varlen `cu_seqlens_q`, FlashInfer's `qo_indptr` and
    vLLM's `query_start_loc`): with `query_offsets(%qo)` (`[B + 1]` i32,
    cumulative) the queries are packed, `query` `[T, Hq, D]`, `output`
    `[T, Hq, Dv]` and `lse` `[T, Hq]`: sequence `b` owns rows
    `qo[b] .. qo[b + 1] - 1`, its `n_b = qo[b + 1] - qo[b]` queries (0, 1
    for decode, up to a prefill chunk) are its last `n_b` tokens, so query
    `i` sits at position `cache_lengths[b] - n_b + i`. The runtime checks
    `qo[0] = 0`, `qo[B] = T` and `0 <= n_b <= cache_lengths[b]`; rows are
    written only where a sequence owns them. The CPU lowering balances one
    launch over the cores: query blocks of the prefill sequences first,
    then the decode sequences, one work item each per K/V head (no KV
    splits).

    ```mlir
    attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o)
        {mask = #attn.mask<causal = true>}
        : memref<8x32x1x128xf32>, memref<8x8x4096x128xf32>,
          memref<8x8x4096x128xf32>, memref<8xi32> -> memref<8x32x1x128xf32>
    ```

    Over a head-major paged cache (`[P, Hkv, page_size, D]`):
    ```mlir
    attn.cache_attention %q, %kc, %vc lengths(%len)
        block_table(%bt : memref<8x256xi32>) outs(%o)
        {page_layout = #attn.page_layout<hnd>}
        : memref<8x32x1x128xbf16>, memref<2048x8x16x128xbf16>,
          memref<2048x8x16x128xbf16>, memref<8xi32> -> memref<8x32x1x128xbf16>
    ```

    A mixed batch, packed (`?` sizes: one kernel for every composition):
    ```mlir
    attn.cache_attention %q, %kc, %vc lengths(%len)
        query_offsets(%qo : memref<?xi32>)
        block_table(%bt : memref<?x?xi32>) outs(%o)
        {mask = #attn.mask<causal = true>}
        : memref<?x32x128xbf16>, memref<?x16x8x128xbf16>,
          memref<?x16x8x128xbf16>, memref<?xi32> -> memref<?x32x128xbf16>
    ```
  }];
  let arguments = (ins
    Arg<Attn_FloatMemRef, "queries", [MemRead]>:$query,
    Arg<Attn_FloatMemRef, "key cache", [MemRead]>:$key_cache,
    Arg<Attn_FloatMemRef, "value cache", [MemRead]>:$value_cache,
    Arg<Attn_I32MemRef, "lengths including the queries", [MemRead]>:$cache_lengths,
    Arg<Optional<Attn_I32MemRef>, "cumulative query counts (packed queries)",
        [MemRead]>:$query_offsets,
    Arg<Optional<Attn_I32MemRef>, "page ids", [MemRead]>:$block_table,
    Arg<Optional<Attn_FloatMemRef>, "sink logits", [MemRead]>:$sinks,
    Arg<Optional<Attn_FloatMemRef>, "rotary cosines", [MemRead]>:$rotary_cos,
    Arg<Optional<Attn_FloatMemRef>, "rotary sines", [MemRead]>:$rotary_sin,
    Arg<Attn_FloatMemRef, "output", [MemWrite]>:$output,
    Arg<Optional<MemRefOf<[F32]>>, "log-sum-exp", [MemWrite]>:$lse,
    OptionalAttr<F32Attr>:$scale,
    OptionalAttr<F32Attr>:$softcap,
    OptionalAttr<Attn_MaskAttr>:$mask,
    OptionalAttr<Attn_PageLayoutAttr>:$page_layout,
    OptionalAttr<Attn_RopeAttr>:$rope);
  let assemblyFormat = [{
    $query `,` $key_cache `,` $value_cache `lengths` `(` $cache_lengths `)`
    (`query_offsets` `(` $query_offsets^ `:` type($query_offsets) `)`)?
    (`block_table` `(` $block_table^ `:` type($block_table) `)`)?
    (`sinks` `(` $sinks^ `:` type($sinks) `)`)?
    (`rotary` `(` $rotary_cos^ `,` $rotary_sin `:` type($rotary_cos) `,`
        type($rotary_sin) `)`)?
    `outs` `(` $output (`,` $lse^ `:` type($lse))? `)`
    attr-dict `:` type($query) `,` type($key_cache) `,` type($value_cache)
    `,` type($cache_lengths) `->` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool isPaged() { return static_cast<bool>(getBlockTable()); }
    /// Packed queries of a mixed batch (`query_offsets`).
    bool isPacked() { return static_cast<bool>(getQueryOffsets()); }
    float getScaleOrDefault();
    /// The page layout, NHD when the attribute is absent.
    ::mlir::attn::PageLayout getPageLayoutOrDefault() {
      return getPageLayout().value_or(::mlir::attn::PageLayout::NHD);
    }
  }];
}

def Attn_MergeStatesOp : Attn_Op<"merge_states"> {
  let summary = "merge partial attention states by their log-sum-exps";
  let description = [{
    Merges `N` partial attention results of the same query rows, each over
    a disjoint set of keys (KV splits, a shared prefix and a per-sequence
    suffix in cascade attention), in the style of FlashInfer's
    `merge_states` and FlashAttention-3's `flash_attn_combine`.
    `states` `[N, B, H, S, Dv]` holds the normalized partial outputs and
    `state_lse` `[N, B, H, S]` (f32) their log-sum-exps. For every row:
    `m = max_i lse_i`, `w_i = exp(lse_i - m)`,
    `output = sum_i w_i * out_i / sum_i w_i` and, if given,
    `lse = m + log(sum_i w_i)`. A state with `lse = -inf` (it saw no key)
    contributes nothing; a row whose states are all empty gives 0 and
    `-inf`. `states` and `output` share one element type; the merge runs
    in f32.

    ```mlir
    attn.merge_states %states, %state_lse into %out, %lse : memref<2x64x32x1x128xf32>
        : memref<2x64x32x1x128xf32>, memref<2x64x32x1xf32>
          into memref<64x32x1x128xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_FloatMemRef, "partial outputs", [MemRead]>:$states,
    Arg<MemRefOf<[F32]>, "their log-sum-exps", [MemRead]>:$state_lse,
    Arg<Attn_FloatMemRef, "merged output", [MemWrite]>:$output,
    Arg<Optional<MemRefOf<[F32]>>, "merged log-sum-exp", [MemWrite]>:$lse);
  let assemblyFormat = [{
    $states `,` $state_lse `into` $output (`,` $lse^ `:` type($lse))?
    attr-dict `:` type($states) `,` type($state_lse) `into` type($output)
  }];
  let hasVerifier = 1;
}

include "dialect/AttnTileOps.td"
include "dialect/AttnLayerOps.td"

#endif // ATTN_OPS_TD
