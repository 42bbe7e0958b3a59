//===- CapiInternal.h - shared pieces of the C API -------------*- C++ -*-===//
#ifndef ATTN_RUNTIME_CAPI_CAPIINTERNAL_H
#define ATTN_RUNTIME_CAPI_CAPIINTERNAL_H

#include "runtime/Runtime.h"
#include "runtime/capi/attn.h"

#include "llvm/Support/Error.h"

#include <memory>

struct attn_runtime {
  std::unique_ptr<mlir::attn::rt::Runtime> runtime;
};

struct attn_kernel {
  mlir::attn::rt::KernelRef kernel;
};

namespace mlir::attn::capi {

/// Records `message` as this thread's last error and returns `status`.
attn_status fail(attn_status status, const llvm::Twine &message);
/// Consumes `e`: ATTN_OK when it is success, else its message with
/// `status` (ATTN_ERROR_NO_DEVICE instead when the message says so).
attn_status fromError(llvm::Error e, attn_status status,
                      const llvm::Twine &prefix = "");
/// Clears this thread's last error; returns ATTN_OK.
attn_status ok();

/// Converts a C buffer description; `what` names it in errors.
llvm::Expected<rt::BufferRef> toBufferRef(const attn_buffer *buffer,
                                          llvm::StringRef what);
std::optional<rt::DType> toDType(attn_dtype dtype);

} // namespace mlir::attn::capi

/// Fails the calling function with ATTN_ERROR_INVALID_ARGUMENT when `ptr`
/// is null.
#define ATTN_CHECK_ARG(ptr, fn)                                                \
  do {                                                                         \
    if (!(ptr))                                                                \
      return ::mlir::attn::capi::fail(ATTN_ERROR_INVALID_ARGUMENT,             \
                                      fn ": " #ptr " is null");                \
  } while (0)

#endif
