/*===- attn.h - the C API of the attn runtime ----------------------*- C -*-===*
 *
 * Plain C over the C++ runtime (runtime/Runtime.h, runtime/kvcache/): compile
 * an attention spec (the `gqa:b=1,hq=32,...` shorthand or MLIR text holding
 * one attn.attention), run it on caller-owned buffers, and drive KV caches
 * through append and decode steps. One shared library, libattn.so; the
 * Python package `attn` is a ctypes layer over it.
 *
 *   attn_runtime *rt;
 *   attn_kernel *k;
 *   if (attn_runtime_create(0, &rt) != ATTN_OK ||
 *       attn_compile(rt, "gqa:b=1,hq=8,hkv=2,s=128,d=64,causal",
 *                    ATTN_TARGET_CPU, NULL, &k) != ATTN_OK)
 *     fprintf(stderr, "%s\n", attn_last_error());
 *   int64_t qs[] = {1, 8, 128, 64}, ks[] = {1, 2, 128, 64};
 *   attn_buffer q = {qp, ATTN_F32, 4, qs, NULL, ATTN_HOST}, ...;
 *   attn_args args = {&q, &key, &value, &out};
 *   attn_kernel_run(k, &args);
 *   attn_kernel_destroy(k);
 *   attn_runtime_destroy(rt);
 *
 * Every function returns an attn_status; on failure attn_last_error()
 * returns the message (naming the buffer, option or sequence at fault) on
 * the calling thread until its next attn_* call. Nothing aborts on bad input,
 * and a failing call changes nothing. Handles are opaque; a kernel may
 * outlive its runtime, a KV cache may not. Kernels and runtimes are safe to
 * use from several threads; a KV cache is one thread's at a time.
 *
 *===----------------------------------------------------------------------===*/
#ifndef ATTN_C_ATTN_H
#define ATTN_C_ATTN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTN_C_API_VERSION 3
#define ATTN_EXPORT __attribute__((visibility("default")))
/* Most dims a buffer may have. */
#define ATTN_MAX_RANK 8

typedef enum attn_status {
  ATTN_OK = 0,
  ATTN_ERROR_INVALID_ARGUMENT = 1, /* null handle/pointer, bad enum or size */
  ATTN_ERROR_COMPILE = 2,          /* spec or MLIR rejected, lowering failed */
  ATTN_ERROR_BUFFER = 3,           /* buffers do not match the kernel */
  ATTN_ERROR_NO_DEVICE = 4,        /* CUDA asked for, no usable GPU */
  ATTN_ERROR_KV_CACHE = 5,         /* bad sequence, overflow, out of pages */
} attn_status;

typedef enum attn_dtype {
  ATTN_F32 = 0,
  ATTN_F16 = 1,  /* raw IEEE half bits (uint16_t) */
  ATTN_BF16 = 2, /* raw bfloat16 bits (uint16_t) */
  ATTN_I32 = 3,
  ATTN_I1 = 4,  /* one byte, 0 or 1 */
  ATTN_I64 = 5, /* the dropout state (version 3) */
} attn_dtype;

typedef enum attn_memory {
  ATTN_HOST = 0,
  ATTN_DEVICE = 1, /* CUDA device memory of device 0; data is a CUdeviceptr */
} attn_memory;

typedef enum attn_target {
  ATTN_TARGET_CPU = 0,
  ATTN_TARGET_CUDA = 1
} attn_target;

/* A caller-owned tensor, used in place. strides are in elements (NULL:
 * row-major); the innermost must be 1 and none negative. */
typedef struct attn_buffer {
  void *data;
  attn_dtype dtype;
  int32_t rank;
  const int64_t *shape;
  const int64_t *strides;
  attn_memory memory;
} attn_buffer;

/* The buffers of one call by role; NULL for the absent optional ones. Shapes
 * are physical (the kernel's layout), see docs/runtime.md. The forward's
 * roles of version 2 only: attn_kernel_run_roles takes every role (sinks,
 * dropout state, the backward's gradients). */
typedef struct attn_args {
  const attn_buffer *query, *key, *value, *output;
  const attn_buffer *bool_mask, *bias, *kv_lengths, *q_segment_ids,
      *kv_segment_ids, *lse;
} attn_args;

/* All zero: the defaults (see rt::CompileOptions). */
typedef struct attn_compile_options {
  int64_t tile_rows, tile_kv, vector_width; /* CPU; 0: default */
  const char *cpu;        /* LLVM CPU name; NULL or "": the host */
  const char *gpu_chip;   /* "sm_90a", ...; NULL: by device 0 */
  const char *gpu_format; /* "isa" (default), "bin", "fatbin" */
  int64_t gpu_kv_splits;  /* 0: the cost model */
} attn_compile_options;

/* Kernel buffers in ABI order (rt::ArgRole). */
typedef enum attn_arg_role {
  ATTN_ARG_QUERY = 0,
  ATTN_ARG_KEY,
  ATTN_ARG_VALUE,
  ATTN_ARG_BOOL_MASK,
  ATTN_ARG_BIAS,
  ATTN_ARG_KV_LENGTHS,
  ATTN_ARG_Q_SEGMENT_IDS,
  ATTN_ARG_KV_SEGMENT_IDS,
  ATTN_ARG_OUTPUT,
  ATTN_ARG_LSE,
  ATTN_ARG_SINKS, /* [Hq] f32; passed between kv_segment_ids and output */
  /* Version 3: the backward kernel's (attn_compile_backward) buffers. */
  ATTN_ARG_GRAD_OUTPUT,
  ATTN_ARG_GRAD_QUERY,
  ATTN_ARG_GRAD_KEY,
  ATTN_ARG_GRAD_VALUE,
  ATTN_ARG_GRAD_BIAS,
  ATTN_ARG_DROPOUT_STATE, /* [2] i64: seed, offset (`dropout=p` specs) */
  /* Block-sparse masks (`blocks=BQ:BK` specs): i32 [B', H', Qblocks] and
     [B', H', Qblocks, maxBlocks]; passed after the dropout state. */
  ATTN_ARG_KV_NUM_BLOCKS,
  ATTN_ARG_KV_INDICES,
} attn_arg_role;
/* Roles this header knows; attn_kernel_run_roles arrays may be shorter. */
#define ATTN_NUM_ARG_ROLES 19

typedef struct attn_arg_info {
  attn_arg_role role;
  attn_dtype dtype;
  int32_t rank;
  int32_t is_output;
  int64_t shape[ATTN_MAX_RANK];
} attn_arg_info;

/* hits: found in memory; compiles: compiled (misses); entries: in memory;
 * disk_hits: loaded from the disk cache (ATTN_CACHE_DIR). Version 2 added
 * disk_hits. */
typedef struct attn_cache_stats {
  int64_t hits, compiles, entries, disk_hits;
} attn_cache_stats;

typedef struct attn_runtime attn_runtime;
typedef struct attn_kernel attn_kernel;
typedef struct attn_kv_cache attn_kv_cache;

/* --- errors ------------------------------------------------------------- */
ATTN_EXPORT int attn_api_version(void);
/* The last failure's message on this thread ("" after a success). */
ATTN_EXPORT const char *attn_last_error(void);
/* "ok", "invalid argument", ... */
ATTN_EXPORT const char *attn_status_name(attn_status status);

/* --- runtime and kernels ------------------------------------------------- */
/* num_threads: threads running CPU kernels, the caller included; 0: all. */
ATTN_EXPORT attn_status attn_runtime_create(int32_t num_threads,
                                            attn_runtime **out);
ATTN_EXPORT void attn_runtime_destroy(attn_runtime *runtime);
ATTN_EXPORT attn_status attn_runtime_num_threads(const attn_runtime *runtime,
                                                 int32_t *out);
ATTN_EXPORT attn_status attn_runtime_cache_stats(const attn_runtime *runtime,
                                                 attn_cache_stats *out);
ATTN_EXPORT attn_status attn_runtime_clear_cache(attn_runtime *runtime);
/* Whether a CUDA device is usable; *out = 0 with the reason in
 * attn_last_error() when not (the status is still ATTN_OK). */
ATTN_EXPORT attn_status attn_cuda_available(int32_t *out);

/* `text`: the shorthand ("mha:", "mqa:" or "gqa:" then key=value pairs) or
 * MLIR text with one attn.attention. Cached by spec/text, target and
 * options. `options` may be NULL. */
ATTN_EXPORT attn_status attn_compile(attn_runtime *runtime, const char *text,
                                     attn_target target,
                                     const attn_compile_options *options,
                                     attn_kernel **out);
ATTN_EXPORT void attn_kernel_destroy(attn_kernel *kernel);
ATTN_EXPORT attn_status attn_kernel_target(const attn_kernel *kernel,
                                           attn_target *out);
ATTN_EXPORT attn_status attn_kernel_num_args(const attn_kernel *kernel,
                                             int32_t *out);
ATTN_EXPORT attn_status attn_kernel_arg(const attn_kernel *kernel,
                                        int32_t index, attn_arg_info *out);
/* Build + lower + JIT milliseconds of the compile that made it. */
ATTN_EXPORT attn_status attn_kernel_compile_ms(const attn_kernel *kernel,
                                               double *out);
/* Validates and runs, returning when done (CPU: on the runtime's threads;
 * CUDA: device buffers in place, host buffers staged). */
ATTN_EXPORT attn_status attn_kernel_run(const attn_kernel *kernel,
                                        const attn_args *args);
/* CUDA only: queues on `stream` (a CUstream; NULL: the kernel's own
 * stream, NOT the legacy default stream, so unordered with other work:
 * pass CU_STREAM_LEGACY, (void *)0x1, for that) without waiting; device
 * buffers only. */
ATTN_EXPORT attn_status attn_kernel_enqueue(const attn_kernel *kernel,
                                            const attn_args *args,
                                            void *stream);
/* Version 3: like attn_kernel_run / _enqueue, with the buffers indexed by
 * attn_arg_role: buffers[ATTN_ARG_QUERY], ... (NULL: absent; roles at or
 * past `count` are absent). Every role, so sinks, the dropout state and the
 * backward's buffers too. count is in [0, ATTN_NUM_ARG_ROLES]. */
ATTN_EXPORT attn_status attn_kernel_run_roles(const attn_kernel *kernel,
                                              const attn_buffer *const *buffers,
                                              int32_t count);
ATTN_EXPORT attn_status attn_kernel_enqueue_roles(
    const attn_kernel *kernel, const attn_buffer *const *buffers, int32_t count,
    void *stream);
/* Version 3: the backward of the shorthand spec `text` (CPU): a kernel
 * reading query, key, value, [kv_lengths], output, grad_output, lse and
 * writing grad_query, grad_key, grad_value (attn_kernel_arg lists them). */
ATTN_EXPORT attn_status attn_compile_backward(
    attn_runtime *runtime, const char *text, attn_target target,
    const attn_compile_options *options, attn_kernel **out);

/* --- KV caches ------------------------------------------------------------ */
typedef enum attn_kv_kind {
  ATTN_KV_CONTIGUOUS = 0,
  ATTN_KV_PAGED = 1
} attn_kv_kind;

typedef struct attn_kv_cache_config {
  attn_kv_kind kind;
  int64_t max_sequences;
  int64_t max_seq_len;                             /* contiguous: Smax */
  int64_t num_pages, page_size, max_pages_per_seq; /* paged */
  int64_t num_kv_heads, head_dim, value_dim;       /* value_dim 0: head_dim */
  attn_dtype dtype;                                /* f32, f16 or bf16 */
  attn_memory memory;      /* ATTN_DEVICE: pools in CUDA memory (f16/bf16) */
  int32_t page_layout_hnd; /* paged: pools [P, Hkv, page, D] instead of
                              [P, page, Hkv, D] */
} attn_kv_cache_config;

typedef struct attn_seq_id {
  int32_t slot;
  uint32_t generation;
} attn_seq_id;

typedef struct attn_kv_cache_stats {
  int64_t num_sequences, max_sequences, max_sequence_length;
  int64_t num_pages, num_free_pages, page_size; /* paged; 0 otherwise */
  int64_t key_pool_shape[4], value_pool_shape[4];
  attn_memory memory;
} attn_kv_cache_stats;

/* Mask and attributes of a decode step; attn_decode_options_init sets the
 * defaults (no mask, scale 1/sqrt(D), no softcap). */
typedef struct attn_decode_options {
  int32_t causal;
  int64_t window_left, window_right; /* -1: unbounded */
  int64_t dilation, global_tokens;
  int32_t has_scale;
  float scale;
  int32_t has_softcap;
  float softcap;
} attn_decode_options;

ATTN_EXPORT void attn_decode_options_init(attn_decode_options *options);
/* The cache keeps a reference to `runtime` (its kernels compile there). */
ATTN_EXPORT attn_status attn_kv_cache_create(attn_runtime *runtime,
                                             const attn_kv_cache_config *config,
                                             attn_kv_cache **out);
ATTN_EXPORT void attn_kv_cache_destroy(attn_kv_cache *cache);
ATTN_EXPORT attn_status attn_kv_cache_stats_get(const attn_kv_cache *cache,
                                                attn_kv_cache_stats *out);
ATTN_EXPORT attn_status attn_kv_cache_add_sequence(attn_kv_cache *cache,
                                                   attn_seq_id *out);
ATTN_EXPORT attn_status attn_kv_cache_free_sequence(attn_kv_cache *cache,
                                                    attn_seq_id id);
ATTN_EXPORT attn_status attn_kv_cache_length(const attn_kv_cache *cache,
                                             attn_seq_id id, int64_t *out);
ATTN_EXPORT attn_status attn_kv_cache_truncate(attn_kv_cache *cache,
                                               attn_seq_id id,
                                               int64_t new_length);
/* Appends key [B, Hkv, Snew, D] and value [B, Hkv, Snew, Dv] to the B
 * sequences; new_lengths (B values <= Snew, or NULL for all Snew) appends
 * fewer rows to some. */
ATTN_EXPORT attn_status attn_kv_cache_append(attn_kv_cache *cache,
                                             const attn_seq_id *seqs,
                                             int32_t num_seqs,
                                             const attn_buffer *key,
                                             const attn_buffer *value,
                                             const int32_t *new_lengths);
/* Attention of query [B, Hq, Sq, D] (the last Sq tokens of each sequence)
 * against the cache into output [B, Hq, Sq, Dv] and, if not NULL, lse
 * [B, Hq, Sq] f32. options may be NULL. */
ATTN_EXPORT attn_status attn_kv_cache_attention(
    attn_kv_cache *cache, const attn_seq_id *seqs, int32_t num_seqs,
    const attn_buffer *query, const attn_buffer *output, const attn_buffer *lse,
    const attn_decode_options *options);
/* Copies the whole key and value pools (stats' pool shapes, row-major) into
 * host memory of their byte sizes. */
ATTN_EXPORT attn_status attn_kv_cache_read_pools(const attn_kv_cache *cache,
                                                 void *keys, void *values);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_C_ATTN_H */
