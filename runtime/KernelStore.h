//===- KernelStore.h - compiled kernels as disk cache payloads -*- C++ -*-===//
//
// Encodings of compiled code for the disk cache (DiskCache.h), shared by
// the Runtime's kernels and the KV-cache kernels (kvcache/CacheKernels).
// Readers check every length and index and return nothing on any mismatch;
// the caller then compiles.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KERNELSTORE_H
#define ATTN_RUNTIME_KERNELSTORE_H

#include "runtime/DiskCache.h"
#include "runtime/GpuKernel.h"
#include "runtime/JitCompiler.h"

#include <optional>
#include <string>

namespace mlir::attn::rt {

/// `key` (a runtime cache key) behind what else decides the code: the
/// entry format, attn's version and source id, LLVM's version, the host
/// CPU and its features, $ATTN_CUDA_TOOLKIT.
std::string diskCacheKey(llvm::StringRef key);

/// Work items, scratch bytes per item and the object of a CPU kernel.
void writeCpuCode(PayloadWriter &w, const CpuKernelCode &code);
/// Reads what writeCpuCode wrote (the rest of `r`) and links the object;
/// nullopt when anything is off, including the linked kernel disagreeing
/// with the stored counts.
std::optional<CpuKernelCode> readCpuCode(PayloadReader &r,
                                         llvm::StringRef name);

/// The binary, format, chip and launch plan of a CUDA kernel.
void writeGpuCode(PayloadWriter &w, const GpuKernelCode &code);
/// Reads what writeGpuCode wrote (the rest of `r`); false when anything is
/// off, including a parameter naming a buffer past `numBuffers`.
bool readGpuCode(PayloadReader &r, GpuKernelCode &code, size_t numBuffers);

} // namespace mlir::attn::rt

#endif
