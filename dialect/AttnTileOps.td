//===- AttnTileOps.td - tile-level attn operations ---------*- tablegen -*-===//
//
// The flash form of attention, one step above vector code: operations on
// small f32 scratch tiles (memrefs) that `attn-tile-flash` produces and
// `attn-vectorize-tiles` turns into vector code. Keeping the steps as ops
// lets `attn-mask-aware-iteration` reason about masks per KV tile, and lets
// lit tests see the flash structure (online softmax, rescale) by name.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TILE_OPS_TD
#define ATTN_TILE_OPS_TD

include "dialect/AttnBase.td"
include "dialect/AttnAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_F32Tile : MemRefRankOf<[F32], [2]>;
def Attn_F32Row : MemRefRankOf<[F32], [1]>;

def Attn_TilePackOp : Attn_Op<"tile_pack"> {
  let summary = "copy a (partial) tile into an f32 scratch tile";
  let description = [{
    `dest[r, c] = scale * source[r, c]` (or `dest[c, r] = ...` with
    `transpose`) for every element of `source`, converting to f32; every
    other element of `dest` becomes 0, so padded rows and columns are inert
    in the matmuls that follow. `source` may be smaller than `dest` (the last
    tile of a sequence); its innermost stride must be 1.
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "", [MemRead]>:$source,
    Arg<Attn_F32Tile, "", [MemWrite]>:$dest,
    OptionalAttr<F32Attr>:$scale,
    UnitAttr:$transpose);
  let assemblyFormat = [{
    $source `into` $dest attr-dict `:` type($source) `into` type($dest)
  }];
  let hasVerifier = 1;
}

def Attn_TileMatmulOp : Attn_Op<"tile_matmul"> {
  let summary = "C (+)= A · B on f32 scratch tiles";
  let description = [{
    `acc[m, n] = (accumulate ? acc[m, n] : 0) + sum_k A[m, k] * B[k, n]`
    with `A = lhs`, or `A = lhsᵀ` (`lhs` is `[K, M]`) with `transpose_lhs`,
    and `B = rhs`, or `B = rhsᵀ` (`rhs` is `[N, K]`) with `transpose_rhs`
    (dot products along K: what a few query rows of a decode step want).
    All shapes are static. `lhs` and `rhs` may be f16 or bf16 (converted to
    f32 as they are read) and strided with unit inner stride: a decode step
    reads full K/V tiles straight from the cache this way. The flash form computes the key-major score tile
    `Sᵀ = K · Qᵀ` (so the softmax runs down columns, one query per lane)
    and `acc += P · V` with `P = Sᵀᵀ` through `transpose_lhs`.
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "", [MemRead]>:$lhs,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "", [MemRead]>:$rhs,
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$acc,
    UnitAttr:$accumulate,
    UnitAttr:$transpose_lhs,
    UnitAttr:$transpose_rhs);
  let assemblyFormat = [{
    $lhs `,` $rhs `into` $acc attr-dict `:` type($lhs) `,` type($rhs) `into`
    type($acc)
  }];
  let hasVerifier = 1;
}

def Attn_TileSoftcapOp : Attn_Op<"tile_softcap"> {
  let summary = "s = cap * tanh(s / cap) on a score tile";
  let arguments = (ins Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$scores,
                       F32Attr:$cap);
  let assemblyFormat = "$scores attr-dict `:` type($scores)";
  let hasVerifier = 1;
}

def Attn_TileMaskOp : Attn_Op<"tile_mask"> {
  let summary = "set masked scores of a tile to -inf";
  let description = [{
    Score tiles are key-major: row `n` of `scores` is key index
    `kv_start + n`; column `m` is query index `q_start + m mod rows_per_head`
    (columns hold the heads of a GQA group one after another). A score becomes -inf unless `kv_start + n <
    kv_limit` and the structured `mask` (if any) allows the pair; the
    mask's `q_offset` is applied here.
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$scores,
    Index:$q_start, Index:$kv_start, Index:$kv_limit,
    OptionalAttr<Attn_MaskAttr>:$mask,
    I64Attr:$rows_per_head);
  let assemblyFormat = [{
    $scores `q` `(` $q_start `)` `kv` `(` $kv_start `)` `limit` `(` $kv_limit `)`
    attr-dict `:` type($scores)
  }];
  let hasVerifier = 1;
}

def Attn_TileOnlineSoftmaxOp : Attn_Op<"tile_online_softmax"> {
  let summary = "one online-softmax step: new row max, exp, rescale";
  let description = [{
    Scores are key-major (`[keys, rows]`). For every query row `m`:
    `new = max(row_max[m], max_n scores[n, m])`;
    `scores[n, m] = exp(scores[n, m] - new)`;
    `alpha = exp(row_max[m] - new)`;
    `row_sum[m] = alpha * row_sum[m] + sum_n scores[n, m]`;
    `acc[m, :] *= alpha`; `row_max[m] = new`. A row whose scores are all
    -inf so far keeps sum 0 and produces no NaN. `acc` may hold fewer rows
    than the scores (padding rows that are never stored).
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$scores,
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$acc,
    Arg<Attn_F32Row, "", [MemRead, MemWrite]>:$row_max,
    Arg<Attn_F32Row, "", [MemRead, MemWrite]>:$row_sum);
  let assemblyFormat = [{
    $scores `,` $acc `,` $row_max `,` $row_sum attr-dict `:` type($scores) `,`
    type($acc) `,` type($row_max) `,` type($row_sum)
  }];
  let hasVerifier = 1;
}

def Attn_TileDropoutOp : Attn_Op<"tile_dropout"> {
  let summary = "drop attention weights of a tile (Philox keep bits)";
  let description = [{
    Key-major probabilities (`[keys, rows]`, after the online softmax's
    exp), laid out like `tile_mask`'s scores: row `n` is key
    `kv_start + n`; column `m` is query head `head_start + m /
    rows_per_head` and query `q_start + m mod rows_per_head`. Each element
    is multiplied by `1 / (1 - p)` when the Philox4x32-10 word of
    (`seed`, `offset`, `batch`, head, query, key) (common/Philox.h, with
    `num_heads` query heads) is at least `⌊p · 2³²⌋`, else set to 0.
    `kv_start` must be a multiple of 4 (four keys share one Philox call;
    the flash form's KV tiles always start there); the key dim must be a
    multiple of 4.
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$probs,
    I64:$seed, I64:$offset,
    Index:$batch, Index:$head_start, Index:$q_start, Index:$kv_start,
    F64Attr:$p,
    I64Attr:$num_heads,
    I64Attr:$rows_per_head);
  let assemblyFormat = [{
    $probs `seed` `(` $seed `,` $offset `)` `at` `(` $batch `,` $head_start
    `,` $q_start `,` $kv_start `)` attr-dict `:` type($probs)
  }];
  let hasVerifier = 1;
}

def Attn_TileFinalizeOp : Attn_Op<"tile_finalize"> {
  let summary = "normalize accumulated rows and store them";
  let description = [{
    `output[r, c] = acc[r, c] / row_sum[r]` (0 where `row_sum` is 0),
    converted to the output element type, for every element of `output`
    (which may have fewer rows and columns than `acc`); with `lse`,
    `lse[r] = row_max[r] + log(row_sum[r])` (-inf where `row_sum` is 0).
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead]>:$acc,
    Arg<Attn_F32Row, "", [MemRead]>:$row_max,
    Arg<Attn_F32Row, "", [MemRead]>:$row_sum,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "", [MemWrite]>:$output,
    Arg<Optional<Attn_F32Row>, "", [MemWrite]>:$lse);
  let assemblyFormat = [{
    $acc `,` $row_max `,` $row_sum `into` $output (`lse` `(` $lse^ `:` type($lse) `)`)?
    attr-dict `:` type($acc) `,` type($row_max) `,` type($row_sum) `into`
    type($output)
  }];
  let hasVerifier = 1;
}

def Attn_TileCombineOp : Attn_Op<"tile_combine"> {
  let summary = "merge the partial results of KV splits (flash-decoding)";
  let description = [{
    `parts` `[S, rows, cols]` (f32, f16 or bf16, read as f32) holds S
    normalized partial outputs of the same rows, each over a disjoint KV range, and `part_lse` `[S, rows]` their
    log-sum-exp. For every row of `output`: `m = max_s part_lse[s, r]`,
    `w_s = exp(part_lse[s, r] - m)`,
    `output[r, :] = sum_s w_s * parts[s, r, :] / sum_s w_s` (0 when every
    part is empty, `m = -inf`), and `lse[r] = m + log(sum_s w_s)`.
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32, F16, BF16], [3]>, "", [MemRead]>:$parts,
    Arg<MemRefRankOf<[F32], [2]>, "", [MemRead]>:$part_lse,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "", [MemWrite]>:$output,
    Arg<Optional<Attn_F32Row>, "", [MemWrite]>:$lse);
  let assemblyFormat = [{
    $parts `,` $part_lse `into` $output (`lse` `(` $lse^ `:` type($lse) `)`)?
    attr-dict `:` type($parts) `,` type($part_lse) `into` type($output)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Additive attention (attn.additive_attention)
//===----------------------------------------------------------------------===//

def Attn_TileAdditiveScoresOp : Attn_Op<"tile_additive_scores"> {
  let summary = "key-major additive scores: w · tanh(pk + pq + bias)";
  let description = [{
    The hot loop of additive attention, on projected keys and queries:
    `scores[n, m] = sum_h w[h] * tanh(keys[n, h] + queries[m, h] + bias[h])`
    for the first `rows` columns (query rows) of the key-major `[keys,
    rows]` tile; columns `m >= rows` become 0. `keys` `[N, H]` (f32, unit
    inner stride, e.g. rows of a scratch buffer), `queries` `[M, H]`,
    `w` and `bias` `[H]`. Padding past the true hidden size must be 0 in
    `keys`, `queries` and `bias` (tanh(0) = 0), so it adds nothing.
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead]>:$keys,
    Arg<Attn_F32Tile, "", [MemRead]>:$queries,
    Arg<Attn_F32Row, "", [MemRead]>:$w,
    Arg<Optional<Attn_F32Row>, "", [MemRead]>:$bias,
    Index:$rows,
    Arg<Attn_F32Tile, "", [MemWrite]>:$scores);
  let assemblyFormat = [{
    $keys `,` $queries `,` $w (`bias` `(` $bias^ `:` type($bias) `)`)?
    `rows` `(` $rows `)` `into` $scores attr-dict `:` type($keys) `,`
    type($queries) `,` type($w) `into` type($scores)
  }];
  let hasVerifier = 1;
}

def Attn_TileStoreProbsOp : Attn_Op<"tile_store_probs"> {
  let summary = "store exp(s - lse) of a key-major tile, transposed";
  let description = [{
    `probs[m, n] = exp(scores[n, m] - lse[m])` (0 where `lse[m]` is -inf:
    a row that sees no key) for every element of `probs` (`[rows, keys]`,
    at most the tile's `[M, N]`; f32, f16 or bf16), i.e. the normalized
    attention weights once `lse` is the row's final log-sum-exp. `scores`
    is overwritten with its exp.
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$scores,
    Arg<Attn_F32Row, "", [MemRead]>:$lse,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "", [MemWrite]>:$probs);
  let assemblyFormat = [{
    $scores `,` $lse `into` $probs attr-dict `:` type($scores) `,` type($lse)
    `into` type($probs)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The backward pass (attn.attention_grad)
//===----------------------------------------------------------------------===//

def Attn_TileRowDotOp : Attn_Op<"tile_rowdot"> {
  let summary = "out[r] = sum_c lhs[r, c] * rhs[r, c] (D = rowsum(dO ∘ O))";
  let description = [{
    The backward's per-row correction term `D = rowsum(dO ∘ O)` of one
    block of query rows, on f32 tiles of equal shape.
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead]>:$lhs,
    Arg<Attn_F32Tile, "", [MemRead]>:$rhs,
    Arg<Attn_F32Row, "", [MemWrite]>:$out);
  let assemblyFormat = [{
    $lhs `,` $rhs `into` $out attr-dict `:` type($lhs) `,` type($rhs) `into`
    type($out)
  }];
  let hasVerifier = 1;
}

def Attn_TileSoftmaxGradOp : Attn_Op<"tile_softmax_grad"> {
  let summary = "P = exp(s - lse) and dS = P (dP - D), through softcap";
  let description = [{
    Key-major tiles (`[keys, rows]`, one query row per column), as in the
    forward. For every element, with `m` its column:
    `P = exp(scores - lse[m])` (0 where `lse[m]` is -inf: a row that saw
    nothing, or where the score is -inf: a masked pair), written into
    `scores`; `dS = P * (dp - delta[m])`, times `1 - (s / cap)²` with
    `softcap` (the derivative of `cap·tanh(x / cap)`, from the capped
    score `s`), written into `dp`. With `slope` (a tile shaped like
    `scores`: the derivative of the score modifiers before soft-capping,
    e.g. score_mod's, at each pair), `dS` is also multiplied by it, and is
    0 wherever `P` is (a masked pair's slope may be anything, NaN
    included). `dS` is then the gradient with respect to the raw logit,
    which the backward multiplies into dQ (`dS · K`) and dK (`dSᵀ · Q`);
    `P` gives dV (`Pᵀ · dO`).
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$scores,
    Arg<Attn_F32Tile, "", [MemRead, MemWrite]>:$dp,
    Arg<Attn_F32Row, "", [MemRead]>:$lse,
    Arg<Attn_F32Row, "", [MemRead]>:$delta,
    Arg<Optional<Attn_F32Tile>, "", [MemRead]>:$slope,
    OptionalAttr<F32Attr>:$softcap);
  let assemblyFormat = [{
    $scores `,` $dp `,` $lse `,` $delta (`slope` $slope^)? attr-dict `:`
    type($scores) `,` type($dp) `,` type($lse) `,` type($delta)
    (`,` type($slope)^)?
  }];
  let hasVerifier = 1;
}

#endif // ATTN_TILE_OPS_TD
