//===- Capi.cpp - the C API: errors, runtimes, kernels --------------------===//
#include "runtime/capi/CapiInternal.h"

#include "runtime/Errors.h"
#include "runtime/cuda/CudaDriver.h"

#include <string>

using namespace mlir::attn;
using namespace mlir::attn::capi;

namespace {
thread_local std::string lastError;
} // namespace

attn_status capi::fail(attn_status status, const llvm::Twine &message) {
  lastError = message.str();
  return status;
}

attn_status capi::ok() {
  lastError.clear();
  return ATTN_OK;
}

attn_status capi::fromError(llvm::Error e, attn_status status,
                            const llvm::Twine &prefix) {
  if (!e)
    return ok();
  std::string message = llvm::toString(std::move(e));
  if (llvm::StringRef(message).contains("no CUDA device"))
    status = ATTN_ERROR_NO_DEVICE;
  return fail(status, prefix + message);
}

std::optional<rt::DType> capi::toDType(attn_dtype dtype) {
  switch (dtype) {
  case ATTN_F32:
    return rt::DType::F32;
  case ATTN_F16:
    return rt::DType::F16;
  case ATTN_BF16:
    return rt::DType::BF16;
  case ATTN_I32:
    return rt::DType::I32;
  case ATTN_I1:
    return rt::DType::I1;
  case ATTN_I64:
    return rt::DType::I64;
  }
  return std::nullopt;
}

llvm::Expected<rt::BufferRef> capi::toBufferRef(const attn_buffer *buffer,
                                                llvm::StringRef what) {
  if (!buffer)
    return rt::makeError(what + ": buffer is null");
  std::optional<rt::DType> dtype = toDType(buffer->dtype);
  if (!dtype)
    return rt::makeError(what + ": dtype " +
                         llvm::Twine(static_cast<int>(buffer->dtype)) +
                         " is not a valid attn_dtype");
  if (buffer->rank < 1 || buffer->rank > ATTN_MAX_RANK)
    return rt::makeError(what + ": rank " + llvm::Twine(buffer->rank) +
                         " is outside [1, " + llvm::Twine(ATTN_MAX_RANK) + "]");
  if (!buffer->shape)
    return rt::makeError(what + ": shape is null");
  if (buffer->memory != ATTN_HOST && buffer->memory != ATTN_DEVICE)
    return rt::makeError(what + ": memory " +
                         llvm::Twine(static_cast<int>(buffer->memory)) +
                         " is not a valid attn_memory");
  rt::BufferRef ref;
  ref.data = buffer->data;
  ref.dtype = *dtype;
  ref.shape.assign(buffer->shape, buffer->shape + buffer->rank);
  for (int64_t d : ref.shape)
    if (d < 0)
      return rt::makeError(what + ": negative dimension in shape " +
                           ref.shapeString());
  if (buffer->strides)
    ref.strides.assign(buffer->strides, buffer->strides + buffer->rank);
  ref.space = buffer->memory == ATTN_DEVICE ? rt::MemorySpace::Device
                                            : rt::MemorySpace::Host;
  return ref;
}

namespace {
/// The runtime's role of a C API role: the same value up to the dropout
/// state; the block mask's roles follow it here but come after the
/// additive-attention roles (not in the C API) in rt::ArgRole.
rt::ArgRole roleOf(attn_arg_role role) {
  switch (role) {
  case ATTN_ARG_KV_NUM_BLOCKS:
    return rt::ArgRole::KvNumBlocks;
  case ATTN_ARG_KV_INDICES:
    return rt::ArgRole::KvIndices;
  default:
    return static_cast<rt::ArgRole>(role);
  }
}

/// The inverse of roleOf (additive-attention roles have no C API value:
/// attn_compile builds no additive kernel).
attn_arg_role capiRoleOf(rt::ArgRole role) {
  switch (role) {
  case rt::ArgRole::KvNumBlocks:
    return ATTN_ARG_KV_NUM_BLOCKS;
  case rt::ArgRole::KvIndices:
    return ATTN_ARG_KV_INDICES;
  default:
    return static_cast<attn_arg_role>(role);
  }
}

/// Buffers indexed by role as rt::AttentionArgs; errors name the role.
llvm::Expected<rt::AttentionArgs>
toArgsByRole(const attn_buffer *const *buffers, int32_t count) {
  rt::AttentionArgs out;
  for (int32_t i = 0; i < count; ++i) {
    if (!buffers[i])
      continue;
    rt::ArgRole role = roleOf(static_cast<attn_arg_role>(i));
    const char *name = rt::stringifyArgRole(role);
    llvm::Expected<rt::BufferRef> ref = toBufferRef(buffers[i], name);
    if (!ref)
      return ref.takeError();
    out.set(role, std::move(*ref));
  }
  return out;
}

/// The version-2 argument struct; its four data buffers are required.
llvm::Expected<rt::AttentionArgs> toArgs(const attn_args &args) {
  const attn_buffer *byRole[ATTN_NUM_ARG_ROLES] = {};
  byRole[ATTN_ARG_QUERY] = args.query;
  byRole[ATTN_ARG_KEY] = args.key;
  byRole[ATTN_ARG_VALUE] = args.value;
  byRole[ATTN_ARG_OUTPUT] = args.output;
  byRole[ATTN_ARG_BOOL_MASK] = args.bool_mask;
  byRole[ATTN_ARG_BIAS] = args.bias;
  byRole[ATTN_ARG_KV_LENGTHS] = args.kv_lengths;
  byRole[ATTN_ARG_Q_SEGMENT_IDS] = args.q_segment_ids;
  byRole[ATTN_ARG_KV_SEGMENT_IDS] = args.kv_segment_ids;
  byRole[ATTN_ARG_LSE] = args.lse;
  for (attn_arg_role role :
       {ATTN_ARG_QUERY, ATTN_ARG_KEY, ATTN_ARG_VALUE, ATTN_ARG_OUTPUT})
    if (!byRole[role])
      return rt::makeError(
          llvm::Twine(rt::stringifyArgRole(static_cast<rt::ArgRole>(role))) +
          ": buffer is null");
  return toArgsByRole(byRole, ATTN_NUM_ARG_ROLES);
}

attn_status runOrEnqueue(const attn_kernel *kernel,
                         llvm::Expected<rt::AttentionArgs> converted,
                         bool enqueue, void *stream, const char *fn) {
  if (!converted)
    return fromError(converted.takeError(), ATTN_ERROR_INVALID_ARGUMENT,
                     llvm::Twine(fn) + ": ");
  if (!enqueue)
    return fromError(kernel->kernel->run(*converted), ATTN_ERROR_BUFFER,
                     llvm::Twine(fn) + ": ");
  if (kernel->kernel->target() != rt::Target::Cuda)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                llvm::Twine(fn) + ": enqueue needs a CUDA kernel");
  rt::EnqueueOptions options;
  options.stream = stream;
  return fromError(kernel->kernel->enqueue(*converted, options),
                   ATTN_ERROR_BUFFER, llvm::Twine(fn) + ": ");
}

/// The C compile options as rt::CompileOptions (NULL: the defaults).
llvm::Expected<rt::CompileOptions>
toCompileOptions(const attn_compile_options *options) {
  rt::CompileOptions opts;
  if (!options)
    return opts;
  if (options->tile_rows < 0 || options->tile_kv < 0 ||
      options->vector_width < 0 || options->gpu_kv_splits < 0)
    return rt::makeError("options: sizes must be >= 0 (0: default)");
  if (options->tile_rows)
    opts.tileRows = options->tile_rows;
  if (options->tile_kv)
    opts.tileKv = options->tile_kv;
  opts.vectorWidth = options->vector_width;
  opts.gpuKvSplits = options->gpu_kv_splits;
  if (options->cpu)
    opts.cpu = options->cpu;
  if (options->gpu_chip)
    opts.gpuChip = options->gpu_chip;
  if (options->gpu_format && *options->gpu_format)
    opts.gpuFormat = options->gpu_format;
  return opts;
}

/// Checks attn_compile's arguments and converts its options; then `build`
/// compiles the trimmed text.
attn_status
compileWith(attn_runtime *runtime, const char *text, attn_target target,
            const attn_compile_options *options, attn_kernel **out,
            const char *fn,
            llvm::function_ref<llvm::Expected<rt::KernelRef>(
                llvm::StringRef, rt::Target, const rt::CompileOptions &)>
                build) {
  auto isNull = [&](const char *what) {
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                llvm::Twine(fn) + ": " + what + " is null");
  };
  if (!out)
    return isNull("out");
  *out = nullptr;
  if (!runtime)
    return isNull("runtime");
  if (!text)
    return isNull("text");
  if (target != ATTN_TARGET_CPU && target != ATTN_TARGET_CUDA)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                llvm::Twine(fn) + ": target " +
                    llvm::Twine(static_cast<int>(target)) +
                    " is not a valid value");
  llvm::Expected<rt::CompileOptions> opts = toCompileOptions(options);
  if (!opts)
    return fromError(opts.takeError(), ATTN_ERROR_INVALID_ARGUMENT,
                     llvm::Twine(fn) + ": ");
  rt::Target tgt =
      target == ATTN_TARGET_CUDA ? rt::Target::Cuda : rt::Target::Cpu;
  llvm::Expected<rt::KernelRef> kernel =
      build(llvm::StringRef(text).trim(), tgt, *opts);
  if (!kernel)
    return fromError(kernel.takeError(), ATTN_ERROR_COMPILE,
                     llvm::Twine(fn) + ": ");
  *out = new attn_kernel{std::move(*kernel)};
  return ok();
}

llvm::Expected<AttentionSpec> parseShorthand(llvm::StringRef source) {
  std::string error;
  std::optional<AttentionSpec> spec = parseSpecShorthand(source, error);
  if (!spec)
    return rt::makeError("spec '" + source + "': " + error);
  return *spec;
}

bool isShorthand(llvm::StringRef source) {
  llvm::StringRef kind = source.split(':').first;
  return kind == "mha" || kind == "mqa" || kind == "gqa";
}
} // namespace

extern "C" {

int attn_api_version(void) { return ATTN_C_API_VERSION; }

const char *attn_last_error(void) { return lastError.c_str(); }

const char *attn_status_name(attn_status status) {
  switch (status) {
  case ATTN_OK:
    return "ok";
  case ATTN_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case ATTN_ERROR_COMPILE:
    return "compile error";
  case ATTN_ERROR_BUFFER:
    return "buffer mismatch";
  case ATTN_ERROR_NO_DEVICE:
    return "no device";
  case ATTN_ERROR_KV_CACHE:
    return "kv cache error";
  }
  return "unknown status";
}

attn_status attn_runtime_create(int32_t num_threads, attn_runtime **out) {
  ATTN_CHECK_ARG(out, "attn_runtime_create");
  *out = nullptr;
  if (num_threads < 0 || num_threads > 4096)
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "attn_runtime_create: num_threads " + llvm::Twine(num_threads) +
                    " is outside [0, 4096]");
  rt::RuntimeOptions options;
  options.numThreads = static_cast<unsigned>(num_threads);
  *out = new attn_runtime{std::make_unique<rt::Runtime>(options)};
  return ok();
}

void attn_runtime_destroy(attn_runtime *runtime) { delete runtime; }

attn_status attn_runtime_num_threads(const attn_runtime *runtime,
                                     int32_t *out) {
  ATTN_CHECK_ARG(runtime, "attn_runtime_num_threads");
  ATTN_CHECK_ARG(out, "attn_runtime_num_threads");
  *out = static_cast<int32_t>(runtime->runtime->numThreads());
  return ok();
}

attn_status attn_runtime_cache_stats(const attn_runtime *runtime,
                                     attn_cache_stats *out) {
  ATTN_CHECK_ARG(runtime, "attn_runtime_cache_stats");
  ATTN_CHECK_ARG(out, "attn_runtime_cache_stats");
  rt::Runtime::CacheStats stats = runtime->runtime->cacheStats();
  *out = {stats.hits, stats.compiles, stats.entries, stats.diskHits};
  return ok();
}

attn_status attn_runtime_clear_cache(attn_runtime *runtime) {
  ATTN_CHECK_ARG(runtime, "attn_runtime_clear_cache");
  runtime->runtime->clearCache();
  return ok();
}

attn_status attn_cuda_available(int32_t *out) {
  ATTN_CHECK_ARG(out, "attn_cuda_available");
  llvm::Expected<cuda::Driver *> driver = cuda::Driver::get();
  *out = driver ? 1 : 0;
  if (!driver) {
    lastError = llvm::toString(driver.takeError());
    return ATTN_OK;
  }
  return ok();
}

attn_status attn_compile(attn_runtime *runtime, const char *text,
                         attn_target target,
                         const attn_compile_options *options,
                         attn_kernel **out) {
  return compileWith(
      runtime, text, target, options, out, "attn_compile",
      [&](llvm::StringRef source, rt::Target tgt,
          const rt::CompileOptions &opts) -> llvm::Expected<rt::KernelRef> {
        if (!isShorthand(source))
          return runtime->runtime->compileMlir(source, tgt, opts);
        llvm::Expected<AttentionSpec> spec = parseShorthand(source);
        if (!spec)
          return spec.takeError();
        return runtime->runtime->compile(*spec, tgt, opts);
      });
}

attn_status attn_compile_backward(attn_runtime *runtime, const char *text,
                                  attn_target target,
                                  const attn_compile_options *options,
                                  attn_kernel **out) {
  return compileWith(
      runtime, text, target, options, out, "attn_compile_backward",
      [&](llvm::StringRef source, rt::Target tgt,
          const rt::CompileOptions &opts) -> llvm::Expected<rt::KernelRef> {
        if (!isShorthand(source))
          return rt::makeError("the backward takes the shorthand "
                               "(mha:/mqa:/gqa:...), not MLIR text");
        llvm::Expected<AttentionSpec> spec = parseShorthand(source);
        if (!spec)
          return spec.takeError();
        return runtime->runtime->compileBackward(*spec, tgt, opts);
      });
}

void attn_kernel_destroy(attn_kernel *kernel) { delete kernel; }

attn_status attn_kernel_target(const attn_kernel *kernel, attn_target *out) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_target");
  ATTN_CHECK_ARG(out, "attn_kernel_target");
  *out = kernel->kernel->target() == rt::Target::Cuda ? ATTN_TARGET_CUDA
                                                      : ATTN_TARGET_CPU;
  return ok();
}

attn_status attn_kernel_num_args(const attn_kernel *kernel, int32_t *out) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_num_args");
  ATTN_CHECK_ARG(out, "attn_kernel_num_args");
  *out = static_cast<int32_t>(kernel->kernel->signature().args.size());
  return ok();
}

attn_status attn_kernel_arg(const attn_kernel *kernel, int32_t index,
                            attn_arg_info *out) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_arg");
  ATTN_CHECK_ARG(out, "attn_kernel_arg");
  const auto &args = kernel->kernel->signature().args;
  if (index < 0 || index >= static_cast<int32_t>(args.size()))
    return fail(ATTN_ERROR_INVALID_ARGUMENT,
                "attn_kernel_arg: index " + llvm::Twine(index) +
                    " is outside [0, " + llvm::Twine(args.size()) + ")");
  const rt::ArgInfo &info = args[index];
  *out = {};
  out->role = capiRoleOf(info.role);
  out->dtype = static_cast<attn_dtype>(info.dtype);
  out->rank = static_cast<int32_t>(info.shape.size());
  out->is_output = info.isOutput;
  for (size_t i = 0; i < info.shape.size() && i < ATTN_MAX_RANK; ++i)
    out->shape[i] = info.shape[i];
  return ok();
}

attn_status attn_kernel_compile_ms(const attn_kernel *kernel, double *out) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_compile_ms");
  ATTN_CHECK_ARG(out, "attn_kernel_compile_ms");
  *out = kernel->kernel->compileStats().totalMs();
  return ok();
}

attn_status attn_kernel_run(const attn_kernel *kernel, const attn_args *args) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_run");
  ATTN_CHECK_ARG(args, "attn_kernel_run");
  return runOrEnqueue(kernel, toArgs(*args), false, nullptr, "attn_kernel_run");
}

attn_status attn_kernel_enqueue(const attn_kernel *kernel,
                                const attn_args *args, void *stream) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_enqueue");
  ATTN_CHECK_ARG(args, "attn_kernel_enqueue");
  return runOrEnqueue(kernel, toArgs(*args), true, stream,
                      "attn_kernel_enqueue");
}

#define ATTN_CHECK_ROLES(buffers, count, fn)                                   \
  do {                                                                         \
    if ((count) < 0 || (count) > ATTN_NUM_ARG_ROLES)                           \
      return fail(ATTN_ERROR_INVALID_ARGUMENT,                                 \
                  fn ": count " + llvm::Twine(count) + " is outside [0, " +    \
                      llvm::Twine(ATTN_NUM_ARG_ROLES) + "]");                  \
    if ((count) > 0)                                                           \
      ATTN_CHECK_ARG(buffers, fn);                                             \
  } while (0)

attn_status attn_kernel_run_roles(const attn_kernel *kernel,
                                  const attn_buffer *const *buffers,
                                  int32_t count) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_run_roles");
  ATTN_CHECK_ROLES(buffers, count, "attn_kernel_run_roles");
  return runOrEnqueue(kernel, toArgsByRole(buffers, count), false, nullptr,
                      "attn_kernel_run_roles");
}

attn_status attn_kernel_enqueue_roles(const attn_kernel *kernel,
                                      const attn_buffer *const *buffers,
                                      int32_t count, void *stream) {
  ATTN_CHECK_ARG(kernel, "attn_kernel_enqueue_roles");
  ATTN_CHECK_ROLES(buffers, count, "attn_kernel_enqueue_roles");
  return runOrEnqueue(kernel, toArgsByRole(buffers, count), true, stream,
                      "attn_kernel_enqueue_roles");
}

} // extern "C"

static_assert(
    static_cast<int>(rt::ArgRole::Lse) == ATTN_ARG_LSE &&
        static_cast<int>(rt::ArgRole::Sinks) == ATTN_ARG_SINKS &&
        static_cast<int>(rt::ArgRole::GradOutput) == ATTN_ARG_GRAD_OUTPUT &&
        static_cast<int>(rt::ArgRole::GradBias) == ATTN_ARG_GRAD_BIAS &&
        static_cast<int>(rt::ArgRole::DropoutState) == ATTN_ARG_DROPOUT_STATE &&
        static_cast<int>(rt::ArgRole::DropoutState) + 1 ==
            ATTN_ARG_KV_NUM_BLOCKS &&
        ATTN_ARG_KV_INDICES + 1 == ATTN_NUM_ARG_ROLES &&
        static_cast<int>(rt::ArgRole::Output) == ATTN_ARG_OUTPUT &&
        static_cast<int>(rt::ArgRole::KvLengths) == ATTN_ARG_KV_LENGTHS,
    "attn_arg_role mirrors rt::ArgRole");
static_assert(static_cast<int>(rt::DType::I1) == ATTN_I1 &&
                  static_cast<int>(rt::DType::I64) == ATTN_I64 &&
                  static_cast<int>(rt::DType::BF16) == ATTN_BF16,
              "attn_dtype mirrors rt::DType");
