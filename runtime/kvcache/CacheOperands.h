//===- CacheOperands.h - the cache operands of the attn cache ops -*- C++ -*-=//
//
// attn.cache_append and attn.cache_attention share one group of operands:
// the K/V caches, the per-sequence lengths and, for a paged cache, the block
// table. CacheOperands holds them as BufferRefs. CacheAccess checks them the
// way the op verifiers do, plus what only run time can see (length values,
// page ids), because the kernels trust both: a bad page id would read or
// write outside the pool.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_CACHEOPERANDS_H
#define ATTN_RUNTIME_KVCACHE_CACHEOPERANDS_H

#include "dialect/AttnAttrs.h"
#include "runtime/Buffer.h"

#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace mlir::attn::kv {

struct CacheOperands {
  /// Contiguous: [B, Hkv, Smax, D] / [B, Hkv, Smax, Dv].
  /// Paged: [P, page_size, Hkv, D] / [P, page_size, Hkv, Dv] (NHD), or
  /// [P, Hkv, page_size, D] / [P, Hkv, page_size, Dv] (HND).
  rt::BufferRef keyCache, valueCache;
  /// [B] i32.
  rt::BufferRef lengths;
  /// [B, max_pages] i32; present exactly when the cache is paged.
  std::optional<rt::BufferRef> blockTable;
  /// Page layout of a paged cache (attn.cache_* `page_layout`).
  PageLayout pageLayout = PageLayout::NHD;

  bool isPaged() const { return blockTable.has_value(); }
};

/// The sizes CacheOperands imply.
struct CacheGeometry {
  int64_t batch = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t valueDim = 0;
  int64_t pageSize = 0;                    ///< 0: contiguous
  PageLayout pageLayout = PageLayout::NHD; ///< paged only
  int64_t numPages = 0;                    ///< paged only
  int64_t maxPages = 0;                    ///< block-table columns, paged only
  int64_t capacity = 0; ///< rows per sequence: Smax or max_pages * page_size
  rt::DType dtype = rt::DType::F32;
};

/// Host-side element addressing into checked CacheOperands.
class CacheAccess {
public:
  /// Checks ranks, shapes, dtypes, non-null data and non-negative strides
  /// of `ops`, and that every length lies in [0, capacity]. The error,
  /// prefixed by `what` ("cache_append", ...), names the operand.
  static llvm::Expected<CacheAccess> get(const CacheOperands &ops,
                                         llvm::StringRef what);

  const CacheOperands &operands() const { return ops; }
  const CacheGeometry &geometry() const { return g; }
  int64_t length(int64_t b) const;

  /// Checks that sequence b may hold rows [0, rows[b]): rows[b] <=
  /// capacity and, when paged, that the block-table entries covering them
  /// are page ids in [0, P).
  llvm::Error checkRows(llvm::ArrayRef<int64_t> rows) const;

  /// Element offsets of (sequence b, position s, K/V head h, channel 0) in
  /// the key / value cache; position s must have passed checkRows.
  int64_t keyOffset(int64_t b, int64_t s, int64_t h) const {
    return rowOffset(kStrides, b, s, h);
  }
  int64_t valueOffset(int64_t b, int64_t s, int64_t h) const {
    return rowOffset(vStrides, b, s, h);
  }
  int64_t keyChannelStride() const { return kStrides[3]; }
  int64_t valueChannelStride() const { return vStrides[3]; }

private:
  CacheAccess(const CacheOperands &ops, std::string what)
      : ops(ops), what(std::move(what)) {}
  int64_t rowOffset(llvm::ArrayRef<int64_t> strides, int64_t b, int64_t s,
                    int64_t h) const;
  int32_t page(int64_t b, int64_t i) const;

  CacheOperands ops;
  std::string what;
  CacheGeometry g;
  llvm::SmallVector<int64_t, 4> kStrides, vStrides, tableStrides;
  int64_t lengthStride = 1;
};

/// "[P, page_size, Hkv, D]" or "[P, Hkv, page_size, D]" (`dim` "D" or "Dv").
std::string pagedShapeMeaning(PageLayout layout, llvm::StringRef dim = "D");

/// Checks that `buf` has exactly `shape` (`meaning` names its dims in the
/// error), non-null data, non-negative strides, and `dtype` (nullopt: any
/// of f32, f16, bf16). The error reads "<what>: <name> ...".
llvm::Error checkBuffer(const rt::BufferRef &buf, llvm::StringRef what,
                        llvm::StringRef name, std::optional<rt::DType> dtype,
                        llvm::ArrayRef<int64_t> shape, llvm::StringRef meaning);

bool isFloatDType(rt::DType t);

/// The compiled kernels read caller buffers with unit inner stride.
llvm::Error checkInnerStride(const rt::BufferRef &b, llvm::StringRef what,
                             llvm::StringRef name);

} // namespace mlir::attn::kv

#endif
