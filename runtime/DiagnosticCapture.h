//===- DiagnosticCapture.h - MLIR diagnostics as errors --------*- C++ -*-===//
//
// The runtime is a library: MLIR errors (parse errors, verifier failures,
// pass failures) must reach the caller as values, not as text on stderr.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_DIAGNOSTICCAPTURE_H
#define ATTN_RUNTIME_DIAGNOSTICCAPTURE_H

#include "runtime/Errors.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"

#include <algorithm>
#include <string>

namespace mlir::attn::rt {

/// Collects error diagnostics emitted in `ctx` while alive.
class DiagnosticCapture : public ScopedDiagnosticHandler {
public:
  explicit DiagnosticCapture(MLIRContext *ctx) : ScopedDiagnosticHandler(ctx) {
    setHandler([this](Diagnostic &diag) {
      if (diag.getSeverity() != DiagnosticSeverity::Error)
        return success();
      if (!messages.empty())
        messages += "; ";
      // Line:column helps with MLIR text input; built IR has no file.
      if (auto loc = dyn_cast<FileLineColLoc>(diag.getLocation()))
        messages += std::to_string(loc.getLine()) + ":" +
                    std::to_string(loc.getColumn()) + ": ";
      messages += diag.str();
      for (Diagnostic &note : diag.getNotes())
        messages += " (" + note.str() + ")";
      // One line per error, whatever the notes hold.
      std::replace(messages.begin(), messages.end(), '\n', ' ');
      return success();
    });
  }

  /// "`prefix`: <first error>; <second error>..." or `prefix` alone.
  llvm::Error takeError(const llvm::Twine &prefix) {
    std::string text = prefix.str();
    if (!messages.empty())
      text += ": " + messages;
    messages.clear();
    return makeError(text);
  }

private:
  std::string messages;
};

} // namespace mlir::attn::rt

#endif
