//===- HostBuffers.cpp - owned random buffers -----------------------------===//
#include "runtime/HostBuffers.h"
#include "runtime/HalfFloat.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <random>

using namespace mlir::attn;
using namespace mlir::attn::rt;

/// Bytes of NaN before and after every buffer: writes just outside a
/// buffer land here instead of in someone else's heap memory.
constexpr size_t kGuardBytes = 256;

/// Inputs are checked against a hash per block of this many bytes, so
/// that checking costs no second copy of the (possibly huge) buffers.
constexpr size_t kHashBlock = 4096;

/// One buffer. Its only copy is `bytes`: outputs are checked against the
/// NaN pattern they were reset to (and their element positions, computed
/// from the strides), inputs against block hashes of what was filled in.
struct HostBuffers::Storage {
  ArgInfo info;
  std::vector<uint8_t> bytes; // guard, buffer (64-byte aligned), guard
  uint8_t *base = nullptr;    // the buffer
  size_t size = 0;            // bytes from `base`
  llvm::SmallVector<int64_t, 4> strides;
  std::vector<uint64_t> blockHashes; // inputs: per kHashBlock of `bytes`
};

namespace {

/// Calls `fn(offset)` with the element offset of every index of `shape`.
void forEachElement(llvm::ArrayRef<int64_t> shape,
                    llvm::ArrayRef<int64_t> strides,
                    llvm::function_ref<void(int64_t)> fn, size_t dim = 0,
                    int64_t offset = 0) {
  if (dim == shape.size()) {
    fn(offset);
    return;
  }
  for (int64_t i = 0; i < shape[dim]; ++i)
    forEachElement(shape, strides, fn, dim + 1, offset + i * strides[dim]);
}

/// A NaN (or 0xff.. for integers) of `dtype`, as bytes.
void fillNaN(uint8_t *p, size_t bytes, DType dtype) {
  switch (dtype) {
  case DType::F32: {
    const uint32_t nan = 0x7fc00000u;
    for (size_t i = 0; i + 4 <= bytes; i += 4)
      std::memcpy(p + i, &nan, 4);
    return;
  }
  case DType::F16:
  case DType::BF16: {
    const uint16_t nan = dtype == DType::F16 ? 0x7e00u : 0x7fc0u;
    for (size_t i = 0; i + 2 <= bytes; i += 2)
      std::memcpy(p + i, &nan, 2);
    return;
  }
  default:
    std::memset(p, 0xff, bytes);
  }
}

/// The byte fillNaN(p, ...) writes at p[i].
uint8_t nanByte(size_t i, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return (0x7fc00000u >> (8 * (i % 4))) & 0xff;
  case DType::F16:
    return (0x7e00u >> (8 * (i % 2))) & 0xff;
  case DType::BF16:
    return (0x7fc0u >> (8 * (i % 2))) & 0xff;
  default:
    return 0xff;
  }
}

/// FNV-1a over `n` bytes.
uint64_t hashBytes(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::vector<uint64_t> blockHashes(const std::vector<uint8_t> &bytes) {
  std::vector<uint64_t> hashes;
  for (size_t at = 0; at < bytes.size(); at += kHashBlock)
    hashes.push_back(
        hashBytes(bytes.data() + at, std::min(kHashBlock, bytes.size() - at)));
  return hashes;
}

/// True when element offset `off` is the offset of an index of `shape`
/// under `strides` (the nested, non-overlapping strides HostBuffers makes).
bool isElementOffset(int64_t off, llvm::ArrayRef<int64_t> shape,
                     llvm::ArrayRef<int64_t> strides) {
  llvm::SmallVector<size_t, 4> dims;
  for (size_t i = 0; i < shape.size(); ++i)
    dims.push_back(i);
  llvm::sort(dims, [&](size_t a, size_t b) { return strides[a] > strides[b]; });
  for (size_t d : dims) {
    int64_t idx = strides[d] > 0 ? off / strides[d] : 0;
    if (idx >= shape[d])
      return false;
    off -= idx * strides[d];
  }
  return off == 0;
}

void storeFloat(uint8_t *p, DType dtype, double v) {
  float f = static_cast<float>(v);
  if (dtype == DType::F32) {
    std::memcpy(p, &f, 4);
    return;
  }
  uint16_t h = dtype == DType::F16 ? floatToHalf(f) : floatToBFloat(f);
  std::memcpy(p, &h, 2);
}

} // namespace

/// Random ascending block lists: each of the kvBlocks blocks listed with
/// probability `density` (at most the lists' capacity); unused slots -1.
static void fillBlockMask(const BufferRef &num, const BufferRef &idx,
                          int64_t kvBlocks, double density,
                          std::mt19937_64 &rng) {
  std::bernoulli_distribution pick(density);
  int64_t capacity = idx.shape[3];
  for (int64_t b = 0; b < num.shape[0]; ++b)
    for (int64_t h = 0; h < num.shape[1]; ++h)
      for (int64_t q = 0; q < num.shape[2]; ++q) {
        int64_t base =
            b * idx.strides[0] + h * idx.strides[1] + q * idx.strides[2];
        int32_t n = 0;
        for (int64_t blk = 0; blk < kvBlocks && n < capacity; ++blk)
          if (pick(rng)) {
            auto v = static_cast<int32_t>(blk);
            std::memcpy(static_cast<char *>(idx.data) +
                            (base + n++ * idx.strides[3]) * 4,
                        &v, 4);
          }
        for (int64_t i = n; i < capacity; ++i) {
          int32_t unused = -1;
          std::memcpy(static_cast<char *>(idx.data) +
                          (base + i * idx.strides[3]) * 4,
                      &unused, 4);
        }
        std::memcpy(
            static_cast<char *>(num.data) +
                (b * num.strides[0] + h * num.strides[1] + q * num.strides[2]) *
                    4,
            &n, 4);
      }
}

HostBuffers::HostBuffers(const KernelSignature &sig,
                         const FillOptions &options) {
  std::mt19937_64 rng(options.seed);
  std::normal_distribution<double> normal(0.0, options.inputStd);
  int64_t pad = std::max<int64_t>(0, options.rowPadding);
  for (const ArgInfo &info : sig.args) {
    auto st = std::make_unique<Storage>();
    st->info = info;
    BufferRef ref;
    ref.dtype = info.dtype;
    ref.shape = info.shape;
    if (info.unitInnerStride) {
      llvm::SmallVector<int64_t, 4> padded = info.shape;
      padded.back() += pad;
      ref.strides = rowMajorStrides(padded);
    } else {
      ref.strides = rowMajorStrides(info.shape);
      for (int64_t &s : ref.strides)
        s *= 1 + pad;
    }
    int64_t extent = 1;
    for (size_t i = 0; i < info.shape.size(); ++i)
      extent += (info.shape[i] - 1) * ref.strides[i];
    extent += pad; // trailing padding after the last row
    if (llvm::is_contained(info.shape, 0))
      extent = 0; // no elements
    int64_t esize = dtypeBytes(info.dtype);
    st->size = static_cast<size_t>(extent * esize);
    st->bytes.resize(kGuardBytes + 64 + st->size + kGuardBytes);
    auto addr = reinterpret_cast<uintptr_t>(st->bytes.data() + kGuardBytes);
    st->base = st->bytes.data() + kGuardBytes + ((64 - addr % 64) % 64);
    ref.data = st->base;
    // Padding and guards read as NaN: a kernel that reads past a row
    // poisons its result instead of passing silently.
    fillNaN(st->bytes.data(), st->bytes.size(), info.dtype);

    st->strides = ref.strides;
    if (info.isOutput) {
      // Stays NaN: checked against the pattern.
    } else if (info.role == ArgRole::KvLengths) {
      std::uniform_int_distribution<int32_t> len(
          0, static_cast<int32_t>(sig.spec.kvLen));
      forEachElement(info.shape, ref.strides, [&](int64_t off) {
        int32_t v = len(rng);
        std::memcpy(st->base + off * 4, &v, 4);
      });
    } else if (info.role == ArgRole::QSegmentIds ||
               info.role == ArgRole::KvSegmentIds) {
      // Packed sequences: ids never decrease along a row; a new segment
      // starts with probability 1/16.
      std::bernoulli_distribution next(1.0 / 16);
      for (int64_t b = 0; b < info.shape[0]; ++b) {
        int32_t id = 0;
        for (int64_t s = 0; s < info.shape[1]; ++s) {
          id += (s > 0 && next(rng));
          std::memcpy(st->base + (b * ref.strides[0] + s * ref.strides[1]) * 4,
                      &id, 4);
        }
      }
    } else if (info.role == ArgRole::KvNumBlocks) {
      // Filled with kv_indices, which follows it.
    } else if (info.role == ArgRole::KvIndices) {
      fillBlockMask(*callArgs.get(ArgRole::KvNumBlocks), ref,
                    (sig.spec.kvLen + sig.spec.blockSparse->kvBlock - 1) /
                        sig.spec.blockSparse->kvBlock,
                    options.blockDensity, rng);
      storage.back()->blockHashes = blockHashes(storage.back()->bytes);
    } else if (info.role == ArgRole::DropoutState) {
      // Any seed and offset: the full 64-bit range of the seed.
      std::uniform_int_distribution<int64_t> any;
      for (int64_t i = 0; i < 2; ++i) {
        int64_t v = any(rng);
        std::memcpy(st->base + i * ref.strides[0] * 8, &v, 8);
      }
    } else if (info.dtype == DType::I1) {
      std::bernoulli_distribution on(options.maskDensity);
      forEachElement(info.shape, ref.strides,
                     [&](int64_t off) { st->base[off] = on(rng) ? 1 : 0; });
    } else {
      forEachElement(info.shape, ref.strides, [&](int64_t off) {
        storeFloat(st->base + off * esize, info.dtype, normal(rng));
      });
    }
    if (!info.isOutput)
      st->blockHashes = blockHashes(st->bytes);
    callArgs.set(info.role, ref);
    storage.push_back(std::move(st));
  }
}

HostBuffers::~HostBuffers() = default;

void HostBuffers::setKvLengths(llvm::ArrayRef<int32_t> lengths) {
  BufferRef *buf = callArgs.get(ArgRole::KvLengths);
  assert(buf && static_cast<int64_t>(lengths.size()) == buf->shape[0]);
  for (size_t b = 0; b < lengths.size(); ++b)
    static_cast<int32_t *>(buf->data)[b * buf->strides[0]] = lengths[b];
  for (auto &st : storage)
    if (st->info.role == ArgRole::KvLengths)
      st->blockHashes = blockHashes(st->bytes);
}

void HostBuffers::setSinks(llvm::ArrayRef<float> sinks) {
  BufferRef *buf = callArgs.get(ArgRole::Sinks);
  assert(buf && static_cast<int64_t>(sinks.size()) == buf->shape[0]);
  for (size_t h = 0; h < sinks.size(); ++h)
    static_cast<float *>(buf->data)[h * buf->strides[0]] = sinks[h];
  for (auto &st : storage)
    if (st->info.role == ArgRole::Sinks)
      st->blockHashes = blockHashes(st->bytes);
}

void HostBuffers::setBlockMask(llvm::ArrayRef<int32_t> counts,
                               llvm::ArrayRef<int32_t> indices) {
  for (auto [role, values] : {std::pair{ArgRole::KvNumBlocks, counts},
                              std::pair{ArgRole::KvIndices, indices}}) {
    BufferRef *buf = callArgs.get(role);
    assert(buf);
    size_t i = 0;
    forEachElement(buf->shape, buf->strides, [&](int64_t off) {
      assert(i < values.size());
      std::memcpy(static_cast<char *>(buf->data) + off * 4, &values[i++], 4);
    });
    assert(i == values.size());
    for (auto &st : storage)
      if (st->info.role == role)
        st->blockHashes = blockHashes(st->bytes);
  }
}

void HostBuffers::resetOutputs() {
  for (auto &st : storage)
    if (st->info.isOutput)
      fillNaN(st->bytes.data(), st->bytes.size(), st->info.dtype);
}

void HostBuffers::rehashInputs() {
  for (auto &st : storage)
    if (!st->info.isOutput)
      st->blockHashes = blockHashes(st->bytes);
}

std::string HostBuffers::strayWrites() const {
  for (auto &st : storage) {
    const char *name = stringifyArgRole(st->info.role);
    if (!st->info.isOutput) {
      std::vector<uint64_t> now = blockHashes(st->bytes);
      for (size_t blk = 0; blk < now.size(); ++blk)
        if (now[blk] != st->blockHashes[blk]) {
          ptrdiff_t at = (st->bytes.data() + blk * kHashBlock) - st->base;
          return std::string("the kernel wrote into input ") + name +
                 " (bytes " + std::to_string(at) + " to " +
                 std::to_string(at + ptrdiff_t(kHashBlock)) + ")";
        }
      continue;
    }
    int64_t esize = dtypeBytes(st->info.dtype);
    size_t start = st->base - st->bytes.data();
    for (size_t i = 0; i < st->bytes.size(); ++i) {
      if (st->bytes[i] == nanByte(i, st->info.dtype))
        continue;
      ptrdiff_t at = ptrdiff_t(i) - ptrdiff_t(start);
      if (at >= 0 && size_t(at) < st->size &&
          isElementOffset(at / esize, st->info.shape, st->strides)) {
        i = start + (at / esize + 1) * esize - 1; // skip to the next element
        continue;
      }
      return std::string("the kernel wrote outside the elements of ") + name +
             " (byte " + std::to_string(at) + " from its start)";
    }
  }
  return "";
}

int64_t HostBuffers::bytesFor(const KernelSignature &sig,
                              const FillOptions &options) {
  int64_t total = 0, pad = std::max<int64_t>(0, options.rowPadding);
  for (const ArgInfo &info : sig.args) {
    // Padding adds at most `pad` elements per element.
    int64_t n = dtypeBytes(info.dtype) * (1 + pad);
    for (int64_t d : info.shape)
      if (__builtin_mul_overflow(n, d, &n))
        return std::numeric_limits<int64_t>::max();
    if (__builtin_add_overflow(total, n + int64_t(2 * kGuardBytes + 64),
                               &total))
      return std::numeric_limits<int64_t>::max();
  }
  return total;
}

int64_t HostBuffers::qkvoBytes() const {
  int64_t total = 0;
  for (ArgRole role :
       {ArgRole::Query, ArgRole::Key, ArgRole::Value, ArgRole::Output})
    if (const BufferRef *b = callArgs.get(role))
      total += b->numElements() * dtypeBytes(b->dtype);
  return total;
}
