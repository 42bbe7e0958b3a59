//===- GpuBlockMask.h - block-mask checks of CUDA calls --------*- C++ -*-===//
//
// Block-sparse lists in device memory are checked like host ones (strictly
// ascending, in range: checkBlockMaskLists) before a CUDA launch: copied to
// the host on the call's stream first, as device kv_lengths are.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_GPUBLOCKMASK_H
#define ATTN_RUNTIME_GPUBLOCKMASK_H

#include "runtime/Buffer.h"
#include "runtime/KernelSignature.h"
#include "runtime/cuda/CudaDriver.h"

#include "llvm/Support/Error.h"

namespace mlir::attn::rt {

/// A block mask's lists (host memory): every count in [0, maxBlocks], the
/// counted entries in [0, kvBlocks) and strictly ascending; the error names
/// the operand and the position (AttentionArgs.cpp: the check every call's
/// host lists get when it is bound).
llvm::Error checkBlockMaskLists(const BufferRef &num, const BufferRef &idx,
                                int64_t kvBlocks);

/// Checks the lists of `bound` (enqueue: gated with the kv_lengths check by
/// GpuEnqueueOptions::checkKvLengths) (in `sig`'s order) when either is in
/// device memory (host ones were checked when the call was bound).
llvm::Error checkDeviceBlockMask(cuda::Driver &driver,
                                 const KernelSignature &sig,
                                 llvm::ArrayRef<BufferRef> bound, void *stream);

} // namespace mlir::attn::rt

#endif
