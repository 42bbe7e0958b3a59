//===- Passes.td - attn passes -----------------------------*- tablegen -*-===//

#ifndef ATTN_PASSES_TD
#define ATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnRaiseAttention : Pass<"attn-raise-attention", "func::FuncOp"> {
  let summary = "Raise naive attention in linalg/tensor/arith/math to "
                "attn.attention";
  let description = [{
    Recognises attention written as upstream ops on tensors, as front ends
    (TOSA through `tosa-to-linalg-pipeline`, torch-style linalg) emit it:
    a `Q·Kᵀ` contraction (`linalg.batch_matmul`, `linalg.matmul`, generic
    contractions, `K` transposed through indexing maps or
    `linalg.transpose`), an optional constant scale on the scores or
    folded into `Q`, masks, a softmax over the keys and a `P·V`
    contraction; and replaces it by one `attn.attention`.

    Every op between the two contractions is read as one scalar
    expression over the score matrix (elementwise generics and named ops,
    `linalg.reduce` / generic reductions, `linalg.broadcast`,
    `linalg.transpose`, unit-dim reshapes), so the forms below match
    however they are split into ops:
    - softmax: `linalg.softmax` over the last dim, `exp(x - max x) / sum`
      (stable) or `exp(x) / sum` (unstable), divided or multiplied by the
      reciprocal;
    - scale: `s * c` or `s / c` directly on the scores (c a constant, e.g.
      `1/sqrt(d)`), or `Q * c` / `Q / c`; the op gets an explicit `scale`;
    - causal masks: `select(cond, -inf, s)` / `select(cond, s, -inf)` with
      `cond` computed from indices or read from a constant buffer, or an
      added constant/index triangle of `-inf`, `<= -1e9` or the lowest
      float. Such static masks are evaluated at every (query, key) pair
      and raised only when they mask exactly `key > query + q_offset`
      (`#attn.mask<causal = true, q_offset = ...>`);
    - tensor masks: a select whose condition reads one non-constant tensor
      becomes `bool_mask` (negated where the tensor marks masked pairs);
      an added non-constant tensor becomes `bias`; both are reshaped to
      rank 4 with broadcast dims of size 1;
    - Q/K/V: rank-4 `[B, H, S, D]` (or `[B, S, H, D]` under a head-split
      transpose: layout `bshd`), rank-3 `[B*H, S, D]` from a collapse of
      the heads, or rank-3 `[N, S, D]` (one head); K/V heads repeated
      `repeat_interleave`-style (broadcast of a new dim right after the
      K/V head dim, then merged) give `Hkv < Hq`.

    Anything else is left untouched: a softmax over another dim, a mask
    that is not causal at some pair, a non-constant scale, a scale applied
    after a mask or bias, mixed element types, K/V repeated in an order
    (`repeat`/tile) that attn's head mapping does not express. With
    `report`, every contraction that was not raised gets a remark saying
    why. The naive ops are erased when nothing else uses them (weights
    that are also returned keep their computation).
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "emit a remark for every contraction that is not raised">,
  ];
  let dependentDialects = [
    "::mlir::attn::AttnDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"
  ];
}

def AttnTileFlash : Pass<"attn-tile-flash", "ModuleOp"> {
  let summary = "Lower attn.attention to the flash form: tiled loops with an "
                "online softmax over tile-level ops";
  let description = [{
    Rewrites each `attn.attention` into a parallel loop over work items
    (batch × K/V head × query block) and, inside, a loop over KV tiles that
    packs Kᵀ and V into f32 scratch, computes the score tile, applies
    soft-capping and masks, runs one online-softmax step (running max and
    sum, rescaled accumulator) and accumulates P·V; the `[Sq, Skv]` score
    matrix never exists. A work item holds all `Hq/Hkv` query heads of a GQA
    group, so each K/V tile is loaded once per group. The output is written
    in place when the result only feeds a
    `bufferization.materialize_in_destination`. When batch × K/V heads ×
    query blocks would leave cores idle (decode-shaped attention: one query,
    few heads), the KV range is split as in `attn-lower-cache-ops`
    (flash-decoding, merged by the last split; scratch in module globals,
    hence a module pass).
  }];
  let options = [
    Option<"tileRows", "tile-rows", "int64_t", /*default=*/"64",
           "target query rows per work item (heads of a group × queries)">,
    Option<"tileKv", "tile-kv", "int64_t", /*default=*/"64",
           "keys per KV tile (a multiple of 16)">,
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"0",
           "KV splits per query block (0: cost model)">,
    Option<"parallelism", "parallelism", "int64_t", /*default=*/"0",
           "cores the cost model plans for (0: this host's)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::math::MathDialect"
  ];
}

def AttnDifferentiateScoreMod : Pass<"attn-differentiate-score-mod"> {
  let summary = "Build the derivative region of each attn.attention_grad's "
                "score_mod";
  let description = [{
    The backward multiplies the softmax's gradient `dS` by
    `d score_mod(s, b, h, q, kv) / d s` at every visible pair. This pass
    writes that derivative as the op's `score_mod_grad` region (same
    arguments, yields an f32), by forward mode on the score argument: each
    op of `score_mod` is kept for its value and, when it depends on the
    score, followed by its derivative (the chain rule); the index arguments
    and values captured from above are constants. Ops of the result that
    the derivative does not need are dropped. An existing `score_mod_grad`
    is left as it is. attn-tile-flash builds the same region itself when it
    is absent; this pass makes it visible.

    Rules: `arith` addf, subf, negf, mulf, divf, remf, maximumf, maxnumf,
    minimumf, minnumf (the picked operand's derivative), select (the
    condition is constant: a compare on indices or on the score picks a
    branch), extf, truncf; `math` exp, exp2, expm1, log, log2, log10, log1p,
    tanh, sqrt, rsqrt, sin, cos, erf, atan, absf, fma, powf, and floor,
    ceil, round, roundeven, trunc (0). Comparisons and float-to-integer
    conversions of the score carry no derivative. Any other op that
    depends on the score (or one with regions or several results) is an
    error located at it, naming it; ops that do not depend on the score
    may be anything.

    Example: `score_mod` `%c * tanh(%s / %c)` (softcap) gives
    `(1 - tanh(%s / %c)²) * (1 / %c) * %c`, as the chain rule writes it.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def AttnLowerCacheOps : Pass<"attn-lower-cache-ops", "ModuleOp"> {
  let summary = "Lower attn.cache_attention to the flash form (with KV "
                "splits) and attn.cache_append to parallel copy loops";
  let description = [{
    `attn.cache_attention` (decode and chunked prefill over a contiguous or
    paged cache) becomes the same flash form as `attn-tile-flash` produces,
    with the queries at the end of each sequence and K/V tiles packed from
    cache pages. When batch × K/V heads × query blocks would leave cores
    idle, the KV range of each query block is split (flash-decoding): each
    split writes a normalized partial and its log-sum-exp to module-level
    scratch, and the last split of the block to finish (an atomic arrival
    counter) merges them with `attn.tile_combine`. The split count comes
    from a cost model (>= 4 items per core, >= 512 keys per split) unless
    `kv-splits` fixes it. Kernels using splits must not run concurrently
    with themselves (the runtime serializes runs of one kernel).

    `attn.cache_append` becomes a parallel loop over (sequence, K/V head)
    copying the new rows, converted to the cache's element type, to their
    slots; rows past the cache's capacity are dropped. With a rotary
    embedding (`#attn.rope`, cos/sin tables) each key row is rotated by its
    position in f32 vectors on the way (common/Rope.h), rows past the
    tables are dropped, and `attn.cache_attention` rotates each query row
    into an f32 row block before the Q tile is packed.

    `attn.merge_states` becomes a parallel loop over (batch, head), each
    item one `attn.tile_combine` of its rows (the split merge above).
  }];
  let options = [
    Option<"tileRows", "tile-rows", "int64_t", /*default=*/"64",
           "target query rows per work item">,
    Option<"tileKv", "tile-kv", "int64_t", /*default=*/"64",
           "keys per KV tile (a multiple of 16)">,
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"0",
           "KV splits per query block (0: cost model)">,
    Option<"parallelism", "parallelism", "int64_t", /*default=*/"0",
           "cores the cost model plans for (0: this host's)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def AttnMaskAwareIteration : Pass<"attn-mask-aware-iteration", "func::FuncOp"> {
  let summary = "Skip fully masked KV tiles and drop mask arithmetic from "
                "fully visible ones";
  let description = [{
    For every KV-tile loop produced by `attn-tile-flash`, derives from the
    structured mask (causal with offset, sliding window, global tokens) the
    range of tiles that any query of the block can see, narrows the loop to
    it (splitting off the global-token tiles when there are any), and guards
    each `attn.tile_mask` so it only runs on tiles that are partially
    visible. Dilated masks keep per-element masking inside the window.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def AttnVectorizeTiles : Pass<"attn-vectorize-tiles", "func::FuncOp"> {
  let summary = "Lower tile-level attn ops to vector code";
  let description = [{
    Turns `attn.tile_*` ops into register-blocked vector code: the matmuls
    as outer-product micro-kernels (`micro-rows` × `micro-cols` vectors of
    accumulators),
    the online softmax as vector max/exp/sum per row, packing with
    conversion from f16/bf16. `vector-width` is the f32 lane count
    (8 for AVX2, 16 for AVX-512; 0 asks the host).
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector register (0: host)">,
    Option<"microRows", "micro-rows", "int64_t", /*default=*/"4",
           "rows of the matmul register block">,
    Option<"amx", "amx", "bool", /*default=*/"false",
           "bf16 Q·Kᵀ and P·V on AMX tiles (tdpbf16ps): packs of bf16 "
           "K/V/Q keep bf16 copies in the pair layout AMX reads, P is "
           "rounded to bf16, accumulation stays f32; f32 and f16 tiles and "
           "tiles whose sizes AMX cannot take keep the FMA kernel">,
    Option<"microCols", "micro-cols", "int64_t", /*default=*/"2",
           "vectors per row of the matmul register block">,
    Option<"kUnroll", "k-unroll", "int64_t", /*default=*/"1",
           "K steps per iteration of the matmul micro-kernel's loop">,
  ];
  let dependentDialects = [
    "::mlir::amx::AMXDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::LLVM::LLVMDialect"
  ];
}

def AttnDecomposeLayer : Pass<"attn-decompose-layer", "func::FuncOp"> {
  let summary = "Decompose attn.multi_head_attention into GEMMs around "
                "attn.attention";
  let description = [{
    Each `attn.multi_head_attention` becomes the math it stands for, on
    tensors: its `[B, S, E]` input flattened to `[B·S, E]` rows (a
    reshape), one `linalg.matmul` per input projection against the
    `nn.Linear` weight read transposed (`indexing_maps`, no copy), the
    bias as the GEMM's initial value (C = bias; C += X·Wᵀ), then an
    `attn.attention` in the `bshd` layout on the projection's output
    reshaped to `[B, S, heads, D]`: with a combined weight and
    self-attention the one `[B·S, (Hq + 2·Hkv)·D]` GEMM result holds Q,
    K and V side by side, and the three are `tensor.extract_slice`s of it
    (strided views after bufferization, no copy). The attention output
    `[B, S, Hq, Dv]` reshaped to `[B·S, Hq·Dv]` is the output
    projection's left operand as it is. f16/bf16 GEMMs accumulate into f32
    and are narrowed once. The weights result is a second `attn.attention`
    with the identity as values (`softmax(s) · I = P`: the same masks and
    dropout draws by construction), transposed to `[B, Hq, Sq, Skv]`.
    Static sizes only (a located error otherwise).
  }];
  let dependentDialects = [
    "::mlir::attn::AttnDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect", "::mlir::arith::ArithDialect"
  ];
}

def AttnTileMatmul : Pass<"attn-tile-matmul", "func::FuncOp"> {
  let summary = "Block f32 linalg.matmul on buffers into attn.tile_matmul";
  let description = [{
    The contractions around the attention (a model's projections) as the
    attention kernels' own register-blocked micro-kernel: each
    `linalg.matmul` into an f32 C on static buffers (A and B f32, f16 or
    bf16, widened as they are read; B `[K, N]`, or an `nn.Linear` weight
    `[N, K]` through the transposed maps `(m, k), (n, k), (m, n)`, packed
    transposed) is cut into items of `item-rows` rows × `col-block`
    columns of C, row group by row group: an `scf.forall` marked
    `attn.work_items` with `work-items` (attn-parallel-to-runtime hands it
    to the runtime's threads), an `scf.for` without. Each item packs its
    panel of B `depth-block` K rows at a time into slivers of `sliver`
    columns (`attn.tile_pack`, each sliver `[depth, sliver]` contiguous in
    one scratch at the function's entry) and feeds them to `row-block`-row
    blocks of `attn.tile_matmul` (one per sliver) that attn-vectorize-tiles
    lowers; tail blocks get their own static sizes. A `linalg.fill` or
    bias `linalg.broadcast` initialising C right before the matmul moves
    into the items (each initialises its block). Columns past the last
    multiple of `vector-width` stay a `linalg.matmul` on that strip. Other
    matmuls are left as they are.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector register (0: host)">,
    Option<"rowBlock", "row-block", "int64_t", /*default=*/"112",
           "output rows per attn.tile_matmul (a multiple of the "
           "micro-kernel's rows avoids row tails)">,
    Option<"colBlock", "col-block", "int64_t", /*default=*/"128",
           "output columns per work item (a multiple of vector-width)">,
    Option<"depthBlock", "depth-block", "int64_t", /*default=*/"1024",
           "K rows of B packed at a time">,
    Option<"sliver", "sliver", "int64_t", /*default=*/"0",
           "columns per packed sliver and attn.tile_matmul (a multiple of "
           "vector-width, at most col-block; 0: two vectors)">,
    Option<"itemRows", "item-rows", "int64_t", /*default=*/"1024",
           "output rows per work item (rounded up to whole row blocks)">,
    Option<"workItems", "work-items", "bool", /*default=*/"false",
           "items as an attn.work_items scf.forall (for "
           "attn-parallel-to-runtime) instead of an scf.for">,
  ];
  let dependentDialects = [
    "::mlir::attn::AttnDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect"
  ];
}

def AttnParallelToRuntime : Pass<"attn-parallel-to-runtime", "ModuleOp"> {
  let summary = "Hand the work-item loop of each kernel to the runtime's "
                "thread pool";
  let description = [{
    A function whose body holds an `scf.forall` marked `attn.work_items`
    gets two trailing `index` arguments `begin` and `end`, and the loop
    becomes a sequential `scf.for` over `[begin, end)`; a companion
    function `@<name>_work_items() -> index` returns the total count. The
    runtime calls the kernel from each pool thread with its own range
    (dynamic scheduling), so the generated code needs no OpenMP runtime.
    Must run on buffers (after bufferization). A function that returns
    values, or holds several work-item loops (their order matters), runs
    its loops sequentially instead and gets no range arguments.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def AttnApproximateMath : Pass<"attn-approximate-math", "func::FuncOp"> {
  let summary = "Replace exp, log and tanh by vectorizable polynomial "
                "approximations";
  let description = [{
    Uses MLIR's polynomial approximations (Cephes-style range reduction)
    for `math.exp`, `math.log` and `math.tanh` so they vectorize instead
    of becoming libm calls, and for `math.cbrt`, `math.erf` and
    `math.erfc`, which have no LLVM intrinsic; `math.acosh`, `math.asinh`
    and `math.atanh` are first expanded into log/sqrt. Every other math op
    a score_mod may hold lowers through math-to-llvm. The error bound is
    checked by the runtime's unit tests.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnKernelAbi : Pass<"attn-kernel-abi", "ModuleOp"> {
  let summary = "Turn plain tensor functions into the buffer kernel ABI of "
                "attn-gpu-flash and the runtime";
  let description = [{
    The first step of `attn-to-nvvm`. A `func.func` that holds attn ops and
    takes or returns ranked tensors, as written by hand or a front end:

    ```mlir
    func.func @f(%q: tensor<...>, %k: tensor<...>, %v: tensor<...>)
        -> tensor<...> {
      %o = attn.attention %q, %k, %v ...
      return %o : tensor<...>
    }
    ```

    becomes the kernel ABI the runtime's KernelBuilder writes and
    `attn-gpu-flash` consumes: every tensor argument becomes a memref of
    the same shape (identity layout) read through
    `bufferization.to_tensor restrict`, and every tensor result becomes a
    trailing memref argument (in result order) that the result is
    materialized into (`restrict writable`); non-tensor arguments and
    results stay. Buffers are taken as distinct: the caller must not pass
    aliasing buffers, as with the runtime's kernels.

    Functions with no tensor in their signature (the runtime's wrapper,
    memref functions with `attn.cache_*` ops) and functions holding no
    attn op are left unchanged. Rejected with a located error: a converted
    function that is called (its signature changes), a multi-block body,
    unranked tensors, a returned tensor that is not an attn op's result
    used only by the return (the GPU host code has no copies: each result
    is written by a kernel), and an `attn.attention` operand that is not a
    function argument (the kernels read their operands straight from the
    buffers). Element types are not checked here: `attn-gpu-flash` names
    the ones the kernels do not take.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def AttnGpuBackward : Pass<"attn-gpu-backward", "ModuleOp"> {
  let summary = "Lower attn.attention_grad to FlashAttention-2 backward GPU "
                "kernels (mma.sync) and their launches";
  let description = [{
    Rewrites each `attn.attention_grad` of a kernel function (the buffer
    ABI of `attn-kernel-abi` / the runtime's wrapper; f16 or bf16) into
    three launches of kernels placed in `gpu.module @attn_gpu`, with two
    f32 scratch buffers (D = rowsum(dO ∘ O) and the dQ accumulator):

    * `@<func>_bwd_pre`: a warp per query row computes D and zeroes the
      row of the dQ accumulator;
    * `@<func>_bwd`: a block per (64-key block, KV head, batch) walks the
      Q tiles of its GQA group (rows are the forward's (query, head)
      pairs), recomputes P from Q·Kᵀ and the forward's lse, keeps dK and
      dV in registers (f32, summed over the group's query heads) and adds
      dQ into the accumulator with f32 atomics (`ldmatrix` +
      `mma.sync.m16n8k16`; Q, dO, lse and D double-buffered by
      `cp.async`); causal blocks skip the Q tiles before their first
      visible query;
    * `@<func>_bwd_dq`: dQ = scale · accumulator in the element type.

    Supported: head dims that are multiples of 16 up to 128 (dv = d),
    any Hq:Hkv, bhsd/bshd, full and causal masks (with q_offset),
    kv_lengths. Other options (bias, boolean masks, segment ids,
    score_mod / mask_mod, softcap, windows, dilation, global tokens, a
    grad_bias result, run-time sizes) are located errors naming the option.
  }];
  let options = [
    Option<"tileKeys", "tile-keys", "int64_t", /*default=*/"0",
           "keys per block of the backward, 16 per warp (64 or 128); 0: 64">,
    Option<"tileRows", "tile-rows", "int64_t", /*default=*/"0",
           "query rows per tile of the backward (16, 32 or 64); 0: 64 up "
           "to d = 64, else 32">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
}

def AttnGpuFlash : Pass<"attn-gpu-flash", "ModuleOp"> {
  let summary = "Lower attn.attention to FlashAttention-2 GPU kernels "
                "(tensor cores through NVVM mma.sync) and their launches";
  let description = [{
    Rewrites each kernel function that holds one `attn.attention` (on the
    buffer ABI of the runtime's KernelBuilder, which `attn-kernel-abi`
    gives a tensor function; f16 or bf16) into
    `gpu.launch_func` ops of kernels placed in `gpu.module @attn_gpu`:

    * `@<func>_flash`: a thread block owns a tile of rows of one (batch,
      KV head) group (rows are (query, head-in-group) pairs, so the query
      heads of a GQA group share every K/V tile load) and a range of KV
      tiles. K/V tiles stream through shared memory with asynchronous
      16-byte copies (`cp.async`, double buffered), Q·Kᵀ and P·V run on
      tensor cores (`ldmatrix` + `mma.sync.m16n8k16`, f32 accumulation),
      the online-softmax state stays in registers, and the output is
      written once. Fully masked KV tiles are skipped (causal, window,
      ragged lengths); partially masked tiles evaluate the mask per
      element. Warps of a block split either rows (prefill) or the keys of
      a tile (decode-sized blocks), whose partial states merge through
      shared memory.
    * With a KV split (flash-decoding, chosen from the number of blocks vs
      SMs unless `kv-splits` is set) each block writes a partial output and
      log-sum-exp to scratch buffers allocated in the host function, and
      `@<func>_combine` merges them.

    The host function keeps its signature; launch operands are its
    arguments (through `memref.cast` to static identity layouts: GPU
    buffers must be dense), `memref.alloc` scratch buffers, and constants.
    Grid, block and dynamic shared memory sizes are constants.
  }];
  let options = [
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"0",
           "KV splits per (batch, KV head, row tile); 0: cost model">,
    Option<"numSms", "num-sms", "int64_t", /*default=*/"132",
           "streaming multiprocessors the split cost model plans for">,
    Option<"tileKv", "tile-kv", "int64_t", /*default=*/"0",
           "keys per KV tile (multiple of 16 per key warp); 0: 64">,
    Option<"warpRowTiles", "warp-row-tiles", "int64_t", /*default=*/"0",
           "16-row mma tiles per warp (1 or 2); 0: 2 for prefill-sized "
           "groups, else 1">,
    Option<"stages", "stages", "int64_t", /*default=*/"0",
           "K/V tiles in flight in shared memory (1-4); 0: 2">,
    Option<"keyWarps", "key-warps", "int64_t", /*default=*/"0",
           "decode-sized groups (<= 32 rows): warps splitting each KV "
           "tile's keys, 1, 2 or 4 (0: 4 / row warps)">,
    Option<"tma", "tma", "bool", /*default=*/"true",
           "wgmma kernels over dense K/V load tiles with the bulk tensor "
           "copy engine (tensor maps the runtime encodes per launch); false: "
           "cp.async">,
    Option<"mma", "mma", "mlir::attn::GpuMmaKind",
           /*default=*/"mlir::attn::GpuMmaKind::Sync",
           "tensor-core instructions (the pass knows no chip, so the "
           "portable mma.sync is its default; attn-to-nvvm picks by chip)",
           [{::llvm::cl::values(
             clEnumValN(mlir::attn::GpuMmaKind::Sync, "sync",
                        "mma.sync (sm_80+)"),
             clEnumValN(mlir::attn::GpuMmaKind::Wgmma, "wgmma",
                        "wgmma (sm_90a)"),
             clEnumValN(mlir::attn::GpuMmaKind::Auto, "auto",
                        "wgmma where the shape allows, else sync"))}]>,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::attn::ptx::AttnPtxDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect"];
}

#endif // ATTN_PASSES_TD
