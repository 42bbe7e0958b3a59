//===- Errors.h - runtime error values -------------------------*- C++ -*-===//
//
// Every runtime failure is an llvm::Error carrying one human-readable line;
// nothing in the runtime aborts on bad input.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_ERRORS_H
#define ATTN_RUNTIME_ERRORS_H

#include "llvm/Support/Error.h"

#include <string>

namespace mlir::attn::rt {

inline llvm::Error makeError(const llvm::Twine &message) {
  return llvm::make_error<llvm::StringError>(message,
                                             llvm::inconvertibleErrorCode());
}

/// Consumes `e` and returns its message ("" for success).
inline std::string errorMessage(llvm::Error e) {
  return e ? llvm::toString(std::move(e)) : std::string();
}

} // namespace mlir::attn::rt

#endif
