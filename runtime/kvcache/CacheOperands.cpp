//===- CacheOperands.cpp - checking and addressing cache operands ---------===//
#include "runtime/kvcache/CacheOperands.h"
#include "runtime/Errors.h"

#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::BufferRef;
using rt::DType;
using rt::makeError;

std::string mlir::attn::kv::pagedShapeMeaning(PageLayout layout,
                                              llvm::StringRef dim) {
  return layout == PageLayout::HND ? "[P, Hkv, page_size, " + dim.str() + "]"
                                   : "[P, page_size, Hkv, " + dim.str() + "]";
}

bool mlir::attn::kv::isFloatDType(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

llvm::Error mlir::attn::kv::checkBuffer(const BufferRef &buf,
                                        llvm::StringRef what,
                                        llvm::StringRef name,
                                        std::optional<DType> dtype,
                                        llvm::ArrayRef<int64_t> shape,
                                        llvm::StringRef meaning) {
  auto fail = [&](const llvm::Twine &msg) {
    return makeError(what + ": " + name + " " + msg);
  };
  if (dtype ? buf.dtype != *dtype : !isFloatDType(buf.dtype))
    return fail("has element type " + llvm::Twine(stringifyDType(buf.dtype)) +
                ", expected " + (dtype ? stringifyDType(*dtype) : "a float"));
  if (buf.shape.size() != shape.size() || llvm::ArrayRef(buf.shape) != shape)
    return fail("has shape " + buf.shapeString() + ", expected " +
                rt::shapeString(shape) + " " + meaning);
  if (!buf.strides.empty() && buf.strides.size() != buf.shape.size())
    return fail("has " + llvm::Twine(buf.strides.size()) +
                " strides for rank " + llvm::Twine(buf.shape.size()));
  for (int64_t s : buf.strides)
    if (s < 0)
      return fail("has a negative stride");
  if (!buf.data && buf.numElements() > 0)
    return fail("has no data");
  return llvm::Error::success();
}

llvm::Expected<CacheAccess> CacheAccess::get(const CacheOperands &ops,
                                             llvm::StringRef what) {
  CacheAccess a(ops, what.str());
  CacheGeometry &g = a.g;
  const BufferRef &kc = ops.keyCache, &vc = ops.valueCache;
  bool hnd = ops.isPaged() && ops.pageLayout == PageLayout::HND;
  if (kc.shape.size() != 4 || vc.shape.size() != 4)
    return makeError(what + ": key_cache and value_cache must have rank 4 " +
                     (ops.isPaged()
                          ? pagedShapeMeaning(ops.pageLayout) + " (paged)"
                          : std::string("[B, Hkv, Smax, D] (contiguous)")) +
                     ", got " + kc.shapeString() + " and " + vc.shapeString());
  g.dtype = kc.dtype;
  g.headDim = kc.shape[3];
  g.valueDim = vc.shape[3];
  if (ops.isPaged()) {
    g.numPages = kc.shape[0];
    g.pageSize = kc.shape[hnd ? 2 : 1];
    g.numKvHeads = kc.shape[hnd ? 1 : 2];
    g.pageLayout = ops.pageLayout;
    const BufferRef &bt = *ops.blockTable;
    if (bt.shape.size() != 2)
      return makeError(what +
                       ": block_table must have rank 2 [B, max_pages]"
                       ", got " +
                       bt.shapeString());
    g.batch = bt.shape[0];
    g.maxPages = bt.shape[1];
    g.capacity = g.maxPages * g.pageSize;
    auto pool = [&](int64_t dim) -> llvm::SmallVector<int64_t, 4> {
      if (hnd)
        return {g.numPages, g.numKvHeads, g.pageSize, dim};
      return {g.numPages, g.pageSize, g.numKvHeads, dim};
    };
    if (llvm::Error e =
            checkBuffer(kc, what, "key_cache", std::nullopt, pool(g.headDim),
                        pagedShapeMeaning(ops.pageLayout)))
      return std::move(e);
    if (llvm::Error e =
            checkBuffer(vc, what, "value_cache", g.dtype, pool(g.valueDim),
                        pagedShapeMeaning(ops.pageLayout, "Dv")))
      return std::move(e);
    if (llvm::Error e = checkBuffer(bt, what, "block_table", DType::I32,
                                    {g.batch, g.maxPages}, "[B, max_pages]"))
      return std::move(e);
    a.tableStrides = bt.effectiveStrides();
  } else {
    g.batch = kc.shape[0];
    g.numKvHeads = kc.shape[1];
    g.capacity = kc.shape[2];
    if (llvm::Error e =
            checkBuffer(kc, what, "key_cache", std::nullopt,
                        {g.batch, g.numKvHeads, g.capacity, g.headDim},
                        "[B, Hkv, Smax, D]"))
      return std::move(e);
    if (llvm::Error e =
            checkBuffer(vc, what, "value_cache", g.dtype,
                        {g.batch, g.numKvHeads, g.capacity, g.valueDim},
                        "[B, Hkv, Smax, Dv]"))
      return std::move(e);
  }
  if (llvm::Error e = checkBuffer(ops.lengths, what, "cache_lengths",
                                  DType::I32, {g.batch}, "[B]"))
    return std::move(e);
  a.kStrides = kc.effectiveStrides();
  a.vStrides = vc.effectiveStrides();
  a.lengthStride = ops.lengths.effectiveStrides()[0];
  for (int64_t b = 0; b < g.batch; ++b) {
    int64_t len = a.length(b);
    if (len < 0 || len > g.capacity)
      return makeError(what + ": cache_lengths[" + llvm::Twine(b) +
                       "] = " + llvm::Twine(len) + " is outside [0, " +
                       llvm::Twine(g.capacity) + "]");
  }
  return a;
}

static int32_t loadI32(const BufferRef &buf, int64_t offset) {
  int32_t v;
  std::memcpy(&v, static_cast<const char *>(buf.data) + offset * 4, 4);
  return v;
}

int64_t CacheAccess::length(int64_t b) const {
  return loadI32(ops.lengths, b * lengthStride);
}

int32_t CacheAccess::page(int64_t b, int64_t i) const {
  return loadI32(*ops.blockTable, b * tableStrides[0] + i * tableStrides[1]);
}

llvm::Error CacheAccess::checkRows(llvm::ArrayRef<int64_t> rows) const {
  for (int64_t b = 0; b < g.batch; ++b) {
    if (rows[b] > g.capacity)
      return makeError(what + ": sequence " + llvm::Twine(b) + " needs " +
                       llvm::Twine(rows[b]) + " rows but the cache holds " +
                       llvm::Twine(g.capacity) + " per sequence");
    if (!ops.isPaged())
      continue;
    for (int64_t i = 0, e = (rows[b] + g.pageSize - 1) / g.pageSize; i < e;
         ++i) {
      int32_t p = page(b, i);
      if (p < 0 || p >= g.numPages)
        return makeError(what + ": block_table[" + llvm::Twine(b) + ", " +
                         llvm::Twine(i) + "] = " + llvm::Twine(p) +
                         " is not a page id in [0, " + llvm::Twine(g.numPages) +
                         ")");
    }
  }
  return llvm::Error::success();
}

int64_t CacheAccess::rowOffset(llvm::ArrayRef<int64_t> st, int64_t b, int64_t s,
                               int64_t h) const {
  if (!ops.isPaged())
    return b * st[0] + h * st[1] + s * st[2];
  if (g.pageLayout == PageLayout::HND)
    return page(b, s / g.pageSize) * st[0] + h * st[1] +
           (s % g.pageSize) * st[2];
  return page(b, s / g.pageSize) * st[0] + (s % g.pageSize) * st[1] + h * st[2];
}

llvm::Error mlir::attn::kv::checkInnerStride(const BufferRef &b,
                                             llvm::StringRef what,
                                             llvm::StringRef name) {
  if (!b.strides.empty() && b.strides.back() != 1)
    return makeError(what + ": " + name + " has innermost stride " +
                     llvm::Twine(b.strides.back()) +
                     ", the kernels need 1 (contiguous rows)");
  return llvm::Error::success();
}
