//===- HostBuffers.h - owned random buffers for a kernel -------*- C++ -*-===//
//
// Test and benchmark inputs: one allocation per buffer of a signature,
// inputs filled from a seeded generator, outputs pre-filled with NaN so an
// element the kernel never writes cannot pass a check. Optional row padding
// gives every buffer non-trivial strides; padding and guard zones around
// every buffer are NaN too, and are verified untouched afterwards, as are
// the inputs (a stray write shows up there, not as heap corruption). Each
// buffer is held once: inputs are verified through block hashes, outputs
// against the NaN pattern.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_HOSTBUFFERS_H
#define ATTN_RUNTIME_HOSTBUFFERS_H

#include "runtime/AttentionArgs.h"
#include "runtime/KernelSignature.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlir::attn::rt {

struct FillOptions {
  uint64_t seed = 0;
  /// q, k, v and bias elements are N(0, inputStd^2), rounded to the dtype.
  double inputStd = 1.0;
  /// Extra elements after every innermost row (0: contiguous buffers).
  int64_t rowPadding = 0;
  /// Probability that a bool_mask element is true.
  double maskDensity = 0.8;
  /// Probability that a KV block is in a block-sparse mask's list.
  double blockDensity = 0.5;
};

class HostBuffers {
public:
  HostBuffers(const KernelSignature &sig, const FillOptions &options);
  ~HostBuffers();
  HostBuffers(const HostBuffers &) = delete;
  HostBuffers &operator=(const HostBuffers &) = delete;

  /// The buffers, ready for Kernel::run.
  const AttentionArgs &args() const { return callArgs; }
  /// Overwrites kv_lengths (which must exist) with `lengths`.
  void setKvLengths(llvm::ArrayRef<int32_t> lengths);
  /// Overwrites the sinks (which must exist) with `sinks` ([Hq]).
  void setSinks(llvm::ArrayRef<float> sinks);
  /// Overwrites the block mask (which must exist): `counts` holds
  /// kv_num_blocks and `indices` kv_indices, both row-major in their
  /// buffers' shapes.
  void setBlockMask(llvm::ArrayRef<int32_t> counts,
                    llvm::ArrayRef<int32_t> indices);
  /// Re-fills every output with NaN.
  void resetOutputs();
  /// Takes the inputs as they are now as what strayWrites compares with
  /// (after a forward kernel wrote a backward's output and lse inputs).
  void rehashInputs();
  /// Empty when the kernel wrote nothing but output elements (inputs,
  /// padding and guards unchanged); otherwise what it overwrote.
  std::string strayWrites() const;
  /// Bytes of q + k + v + output: what one kernel call must move.
  int64_t qkvoBytes() const;
  /// An upper bound on the host memory HostBuffers(sig, options) takes
  /// (every buffer once, with its padding and guards); int64 max when that
  /// overflows.
  static int64_t bytesFor(const KernelSignature &sig,
                          const FillOptions &options);

private:
  struct Storage;
  std::vector<std::unique_ptr<Storage>> storage;
  AttentionArgs callArgs;
};

} // namespace mlir::attn::rt

#endif
