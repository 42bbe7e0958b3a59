//===- HostBuffers.cpp - owned random buffers -----------------------------===//
#include "runtime/HostBuffers.h"
#include "runtime/HalfFloat.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <cassert>
#include <cstring>
#include <random>

using namespace mlir::attn;
using namespace mlir::attn::rt;

/// Bytes of NaN before and after every buffer: writes just outside a
/// buffer land here instead of in someone else's heap memory.
constexpr size_t kGuardBytes = 256;

struct HostBuffers::Storage {
  ArgInfo info;
  std::vector<uint8_t> bytes;     // guard, buffer (64-byte aligned), guard
  uint8_t *base = nullptr;        // the buffer
  size_t size = 0;                // bytes from `base`
  std::vector<uint8_t> isElement; // per byte of `bytes`, outputs only
  std::vector<uint8_t> filled;    // `bytes` as filled (outputs: as reset)
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
    int64_t esize = dtypeBytes(info.dtype);
    st->size = static_cast<size_t>(extent * esize);
    st->bytes.resize(kGuardBytes + 64 + st->size + kGuardBytes);
    auto addr = reinterpret_cast<uintptr_t>(st->bytes.data() + kGuardBytes);
    st->base = st->bytes.data() + kGuardBytes + ((64 - addr % 64) % 64);
    ref.data = st->base;
    // Padding and guards read as NaN: a kernel that reads past a row
    // poisons its result instead of passing silently.
    fillNaN(st->bytes.data(), st->bytes.size(), info.dtype);

    if (info.isOutput) {
      st->isElement.assign(st->bytes.size(), 0);
      size_t start = st->base - st->bytes.data();
      forEachElement(info.shape, ref.strides, [&](int64_t off) {
        std::memset(&st->isElement[start + off * esize], 1, esize);
      });
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
    } else if (info.dtype == DType::I1) {
      std::bernoulli_distribution on(options.maskDensity);
      forEachElement(info.shape, ref.strides,
                     [&](int64_t off) { st->base[off] = on(rng) ? 1 : 0; });
    } else {
      forEachElement(info.shape, ref.strides, [&](int64_t off) {
        storeFloat(st->base + off * esize, info.dtype, normal(rng));
      });
    }
    st->filled = st->bytes;
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
      st->filled = st->bytes;
}

void HostBuffers::resetOutputs() {
  for (auto &st : storage)
    if (st->info.isOutput)
      st->bytes = st->filled;
}

std::string HostBuffers::strayWrites() const {
  for (auto &st : storage)
    for (size_t i = 0; i < st->bytes.size(); ++i) {
      if (st->bytes[i] == st->filled[i] ||
          (st->info.isOutput && st->isElement[i]))
        continue;
      const char *name = stringifyArgRole(st->info.role);
      ptrdiff_t at = (st->bytes.data() + i) - st->base;
      if (!st->info.isOutput)
        return std::string("the kernel wrote into input ") + name + " (byte " +
               std::to_string(at) + ")";
      return std::string("the kernel wrote outside the elements of ") + name +
             " (byte " + std::to_string(at) + " from its start)";
    }
  return "";
}

int64_t HostBuffers::qkvoBytes() const {
  int64_t total = 0;
  for (ArgRole role :
       {ArgRole::Query, ArgRole::Key, ArgRole::Value, ArgRole::Output})
    if (const BufferRef *b = callArgs.get(role))
      total += b->numElements() * dtypeBytes(b->dtype);
  return total;
}
