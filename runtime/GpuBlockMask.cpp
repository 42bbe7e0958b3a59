//===- GpuBlockMask.cpp - block-mask checks of CUDA calls -----------------===//
#include "runtime/GpuBlockMask.h"
#include "runtime/AttentionArgs.h"

#include <vector>

using namespace mlir::attn;
using namespace mlir::attn::rt;

llvm::Error mlir::attn::rt::checkDeviceBlockMask(
    cuda::Driver &driver, const KernelSignature &sig,
    llvm::ArrayRef<BufferRef> bound, void *stream) {
  if (!sig.spec.blockSparse)
    return llvm::Error::success();
  const BufferRef *num = nullptr, *idx = nullptr;
  for (auto [info, buf] : llvm::zip(sig.args, bound)) {
    if (info.role == ArgRole::KvNumBlocks)
      num = &buf;
    if (info.role == ArgRole::KvIndices)
      idx = &buf;
  }
  if (!num || !idx ||
      (num->space == MemorySpace::Host && idx->space == MemorySpace::Host))
    return llvm::Error::success();
  // Device buffers are dense (checkDeviceBuffer): copy them whole.
  std::vector<std::vector<int32_t>> host(2);
  BufferRef views[2] = {*num, *idx};
  for (int i = 0; i < 2; ++i) {
    if (views[i].space == MemorySpace::Host)
      continue;
    int64_t n = 1;
    for (int64_t d : views[i].shape)
      n *= d;
    host[i].resize(size_t(n));
    if (llvm::Error e = driver.copyToHostAsync(
            host[i].data(), views[i].devicePtr(), host[i].size() * 4, stream))
      return e;
    views[i] =
        BufferRef::contiguous(host[i].data(), DType::I32, views[i].shape);
  }
  if (llvm::Error e = driver.synchronizeStream(stream))
    return e;
  int64_t kvBlock = sig.spec.blockSparse->kvBlock;
  return checkBlockMaskLists(views[0], views[1],
                             (sig.spec.kvLen + kvBlock - 1) / kvBlock);
}
