//===- KvBenchUtil.h - pieces shared by the KV-cache benchmarks -*- C++ -*-===//
#ifndef ATTN_BENCH_KVBENCHUTIL_H
#define ATTN_BENCH_KVBENCHUTIL_H

#include "runtime/kvcache/CacheReference.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <random>
#include <vector>

namespace attn::bench {

namespace rt = mlir::attn::rt;

/// The value, or exit(1) printing `what` and the error.
template <typename T> T orDie(llvm::Expected<T> e, const char *what) {
  if (!e) {
    llvm::errs() << what << ": " << llvm::toString(e.takeError()) << "\n";
    std::exit(1);
  }
  return std::move(*e);
}

inline void orDie(llvm::Error e, const char *what) {
  if (e) {
    llvm::errs() << what << ": " << llvm::toString(std::move(e)) << "\n";
    std::exit(1);
  }
}

/// A host tensor of random N(0, 1) elements.
struct Tensor {
  std::vector<uint8_t> bytes;
  rt::BufferRef ref;
  Tensor(rt::DType t, llvm::ArrayRef<int64_t> shape, std::mt19937_64 &rng) {
    ref = rt::BufferRef::contiguous(nullptr, t, shape);
    bytes.resize(ref.numElements() * rt::dtypeBytes(t));
    ref.data = bytes.data();
    std::normal_distribution<double> dist;
    for (int64_t i = 0; i < ref.numElements(); ++i)
      mlir::attn::kv::storeFromDouble(ref, i, dist(rng));
  }
};

} // namespace attn::bench

#endif
