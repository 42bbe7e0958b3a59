//===- AttentionArgs.cpp - validate a call's buffers against a kernel -----===//
//
// Everything the JIT code assumes about its memrefs is checked here, because
// the generated code itself checks nothing: a wrong shape or a length past
// Skv would read out of bounds instead of failing.
//
//===----------------------------------------------------------------------===//
#include "runtime/AttentionArgs.h"
#include "runtime/GpuBlockMask.h"
#include "runtime/Errors.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <optional>

using namespace mlir::attn;
using namespace mlir::attn::rt;

const BufferRef *AttentionArgs::get(ArgRole role) const {
  return const_cast<AttentionArgs *>(this)->get(role);
}

BufferRef *AttentionArgs::get(ArgRole role) {
  auto opt = [](std::optional<BufferRef> &b) { return b ? &*b : nullptr; };
  switch (role) {
  case ArgRole::Query:
    return &query;
  case ArgRole::Key:
    return &key;
  case ArgRole::Value:
    return &value;
  case ArgRole::Output:
    return &output;
  case ArgRole::BoolMask:
    return opt(boolMask);
  case ArgRole::Bias:
    return opt(bias);
  case ArgRole::KvLengths:
    return opt(kvLengths);
  case ArgRole::QSegmentIds:
    return opt(qSegmentIds);
  case ArgRole::KvSegmentIds:
    return opt(kvSegmentIds);
  case ArgRole::Sinks:
    return opt(sinks);
  case ArgRole::Lse:
    return opt(lse);
  case ArgRole::GradOutput:
    return opt(gradOutput);
  case ArgRole::GradQuery:
    return opt(gradQuery);
  case ArgRole::GradKey:
    return opt(gradKey);
  case ArgRole::GradValue:
    return opt(gradValue);
  case ArgRole::GradBias:
    return opt(gradBias);
  case ArgRole::DropoutState:
    return opt(dropoutState);
  case ArgRole::QueryWeight:
    return opt(queryWeight);
  case ArgRole::KeyWeight:
    return opt(keyWeight);
  case ArgRole::ScoreWeight:
    return opt(scoreWeight);
  case ArgRole::ScoreBias:
    return opt(scoreBias);
  case ArgRole::Weights:
    return opt(weights);
  case ArgRole::ValueWeight:
    return opt(valueWeight);
  case ArgRole::QkvWeight:
    return opt(qkvWeight);
  case ArgRole::QkvBias:
    return opt(qkvBias);
  case ArgRole::QueryBias:
    return opt(queryBias);
  case ArgRole::KeyBias:
    return opt(keyBias);
  case ArgRole::ValueBias:
    return opt(valueBias);
  case ArgRole::OutWeight:
    return opt(outWeight);
  case ArgRole::OutBias:
    return opt(outBias);
  case ArgRole::KvNumBlocks:
    return opt(kvNumBlocks);
  case ArgRole::KvIndices:
    return opt(kvIndices);
  }
  return nullptr;
}

void AttentionArgs::set(ArgRole role, BufferRef buffer) {
  switch (role) {
  case ArgRole::Query:
    query = std::move(buffer);
    return;
  case ArgRole::Key:
    key = std::move(buffer);
    return;
  case ArgRole::Value:
    value = std::move(buffer);
    return;
  case ArgRole::Output:
    output = std::move(buffer);
    return;
  case ArgRole::BoolMask:
    boolMask = std::move(buffer);
    return;
  case ArgRole::Bias:
    bias = std::move(buffer);
    return;
  case ArgRole::KvLengths:
    kvLengths = std::move(buffer);
    return;
  case ArgRole::QSegmentIds:
    qSegmentIds = std::move(buffer);
    return;
  case ArgRole::KvSegmentIds:
    kvSegmentIds = std::move(buffer);
    return;
  case ArgRole::Sinks:
    sinks = std::move(buffer);
    return;
  case ArgRole::Lse:
    lse = std::move(buffer);
    return;
  case ArgRole::GradOutput:
    gradOutput = std::move(buffer);
    return;
  case ArgRole::GradQuery:
    gradQuery = std::move(buffer);
    return;
  case ArgRole::GradKey:
    gradKey = std::move(buffer);
    return;
  case ArgRole::GradValue:
    gradValue = std::move(buffer);
    return;
  case ArgRole::GradBias:
    gradBias = std::move(buffer);
    return;
  case ArgRole::DropoutState:
    dropoutState = std::move(buffer);
    return;
  case ArgRole::QueryWeight:
    queryWeight = std::move(buffer);
    return;
  case ArgRole::KeyWeight:
    keyWeight = std::move(buffer);
    return;
  case ArgRole::ScoreWeight:
    scoreWeight = std::move(buffer);
    return;
  case ArgRole::ScoreBias:
    scoreBias = std::move(buffer);
    return;
  case ArgRole::Weights:
    weights = std::move(buffer);
    return;
  case ArgRole::ValueWeight:
    valueWeight = std::move(buffer);
    return;
  case ArgRole::QkvWeight:
    qkvWeight = std::move(buffer);
    return;
  case ArgRole::QkvBias:
    qkvBias = std::move(buffer);
    return;
  case ArgRole::QueryBias:
    queryBias = std::move(buffer);
    return;
  case ArgRole::KeyBias:
    keyBias = std::move(buffer);
    return;
  case ArgRole::ValueBias:
    valueBias = std::move(buffer);
    return;
  case ArgRole::OutWeight:
    outWeight = std::move(buffer);
    return;
  case ArgRole::OutBias:
    outBias = std::move(buffer);
    return;
  case ArgRole::KvNumBlocks:
    kvNumBlocks = std::move(buffer);
    return;
  case ArgRole::KvIndices:
    kvIndices = std::move(buffer);
    return;
  }
}

AttentionArgs mlir::attn::rt::forwardArgsOf(const AttentionArgs &backward) {
  AttentionArgs f = backward;
  f.gradOutput.reset();
  f.gradQuery.reset();
  f.gradKey.reset();
  f.gradValue.reset();
  f.gradBias.reset();
  return f;
}

namespace {

/// A buffer written by several threads must not map two indices to one
/// address. Sufficient test: sorted by stride, each dim's stride clears the
/// extent of all smaller ones (size-1 dims never advance).
bool elementsOverlap(llvm::ArrayRef<int64_t> shape,
                     llvm::ArrayRef<int64_t> strides) {
  if (llvm::is_contained(shape, 0))
    return false; // no elements at all
  llvm::SmallVector<size_t, 4> dims;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 1)
      dims.push_back(i);
  llvm::sort(dims, [&](size_t a, size_t b) { return strides[a] < strides[b]; });
  int64_t extent = 1; // elements spanned by the dims seen so far
  for (size_t d : dims) {
    if (strides[d] < extent)
      return true;
    extent = strides[d] * (shape[d] - 1) + extent;
  }
  return false;
}

llvm::Error checkBuffer(const ArgInfo &info, const BufferRef &buf,
                        BufferRef &bound) {
  const char *name = stringifyArgRole(info.role);
  if (!buf.data)
    return makeError(llvm::Twine(name) + ": null data pointer");
  if (buf.dtype != info.dtype)
    return makeError(llvm::Twine(name) + ": dtype " +
                     stringifyDType(buf.dtype) + " but the kernel expects " +
                     stringifyDType(info.dtype));
  if (buf.shape.size() != info.shape.size())
    return makeError(
        llvm::Twine(name) + ": rank " + llvm::Twine(buf.shape.size()) + " " +
        buf.shapeString() + " but the kernel expects rank " +
        llvm::Twine(info.shape.size()) + " " + shapeString(info.shape));
  if (!llvm::equal(buf.shape, info.shape))
    return makeError(llvm::Twine(name) + ": shape " + buf.shapeString() +
                     " but the kernel expects " + shapeString(info.shape));
  if (!buf.strides.empty() && buf.strides.size() != buf.shape.size())
    return makeError(llvm::Twine(name) + ": " +
                     llvm::Twine(buf.strides.size()) + " strides for rank " +
                     llvm::Twine(buf.shape.size()));
  llvm::SmallVector<int64_t, 4> strides = buf.effectiveStrides();
  for (auto [i, s] : llvm::enumerate(strides))
    if (s < 0)
      return makeError(llvm::Twine(name) + ": negative stride " +
                       llvm::Twine(s) + " in dim " + llvm::Twine(i));
  // The innermost stride is static 1 in the ABI; a size-1 dim never moves,
  // so any stride there is equivalent and normalised.
  if (info.unitInnerStride && !strides.empty() && strides.back() != 1) {
    if (buf.shape.back() != 1)
      return makeError(llvm::Twine(name) + ": innermost stride " +
                       llvm::Twine(strides.back()) +
                       " but the kernel needs 1 (contiguous rows)");
    strides.back() = 1;
  }
  if (info.isOutput && elementsOverlap(buf.shape, strides))
    return makeError(llvm::Twine(name) + ": strides " + shapeString(strides) +
                     " make distinct elements share memory; an output "
                     "needs one address per element");
  bound = buf;
  bound.strides = std::move(strides);
  return llvm::Error::success();
}

llvm::Error checkKvLengths(const BufferRef &buf, int64_t kvLen) {
  const auto *data = static_cast<const int32_t *>(buf.data);
  for (int64_t b = 0; b < buf.shape[0]; ++b) {
    int32_t len = data[b * buf.strides[0]];
    if (len < 0 || len > kvLen)
      return makeError("kv_lengths: value " + llvm::Twine(len) + " at batch " +
                       llvm::Twine(b) +
                       " is outside [0, Skv = " + llvm::Twine(kvLen) + "]");
  }
  return llvm::Error::success();
}

/// "[0, 1, 2]".
std::string positionString(llvm::ArrayRef<int64_t> at) {
  std::string s = "[";
  for (auto [i, v] : llvm::enumerate(at))
    s += (i ? ", " : "") + std::to_string(v);
  return s + "]";
}

/// Every list of a block mask: its count in [0, maxBlocks], its entries in
/// [0, kvBlocks) and strictly ascending (so no block is visited twice).
llvm::Error checkBlockMask(const BufferRef &num, const BufferRef &idx,
                           int64_t kvBlocks) {
  const auto *counts = static_cast<const int32_t *>(num.data);
  const auto *entries = static_cast<const int32_t *>(idx.data);
  int64_t maxBlocks = idx.shape[3];
  for (int64_t b = 0; b < num.shape[0]; ++b)
    for (int64_t h = 0; h < num.shape[1]; ++h)
      for (int64_t q = 0; q < num.shape[2]; ++q) {
        int32_t n = counts[b * num.strides[0] + h * num.strides[1] +
                           q * num.strides[2]];
        if (n < 0 || n > maxBlocks)
          return makeError(
              "kv_num_blocks: value " + llvm::Twine(n) + " at " +
              positionString({b, h, q}) +
              " is outside [0, maxBlocks = " + llvm::Twine(maxBlocks) + "]");
        int64_t prev = -1;
        for (int64_t i = 0; i < n; ++i) {
          int32_t blk = entries[b * idx.strides[0] + h * idx.strides[1] +
                                q * idx.strides[2] + i * idx.strides[3]];
          std::string at = positionString({b, h, q, i});
          if (blk < 0 || blk >= kvBlocks)
            return makeError("kv_indices: value " + llvm::Twine(blk) + " at " +
                             at + " is outside [0, ceil(Skv / kv_block) = " +
                             llvm::Twine(kvBlocks) + ")");
          if (blk <= prev)
            return makeError("kv_indices: value " + llvm::Twine(blk) + " at " +
                             at + " is not above the entry before it (" +
                             llvm::Twine(prev) +
                             "); a query block's KV blocks must be strictly "
                             "ascending");
          prev = blk;
        }
      }
  return llvm::Error::success();
}

/// [first byte, one past the last byte) of `b`; empty for no elements.
std::pair<uintptr_t, uintptr_t> byteRange(const BufferRef &b) {
  auto strides = b.effectiveStrides();
  int64_t last = 0;
  for (auto [size, stride] : llvm::zip(b.shape, strides)) {
    if (size == 0)
      return {0, 0};
    last += (size - 1) * stride;
  }
  auto lo = reinterpret_cast<uintptr_t>(b.data);
  int64_t esize = dtypeBytes(b.dtype);
  return {lo, lo + uintptr_t((last + 1) * esize)};
}

/// `sig` with its run-time sizes (batch, Sq, Skv) read from the query and
/// key buffers and checked against the limits the kernel was built under
/// (AttentionSpec::validate): the signature this call must match.
/// resolveSizes for an additive kernel: batch and Sq from the [B, Sq, Dq]
/// query, Skv from the [B, Skv, Dk] key.
llvm::Expected<KernelSignature>
resolveAdditiveSizes(const KernelSignature &sig, const AttentionArgs &args) {
  const KernelSignature expected = signatureForAdditiveSpec(*sig.additive);
  for (auto [name, buf, role] :
       {std::tuple<const char *, const BufferRef *, ArgRole>{
            "query", &args.query, ArgRole::Query},
        {"key", &args.key, ArgRole::Key}})
    if (buf->shape.size() != 3)
      return makeError(llvm::Twine(name) + ": rank " +
                       llvm::Twine(buf->shape.size()) + " " +
                       buf->shapeString() + " but the kernel expects rank 3 " +
                       shapeString(expected.find(role)->shape));
  int64_t b = args.query.shape[0], sq = args.query.shape[1],
          skv = args.key.shape[1];
  AdditiveSpec resolved = sig.additive->withSizes(b, sq, skv);
  if (std::string err = resolved.validate(); !err.empty())
    return makeError("run-time sizes (batch " + llvm::Twine(b) + ", Sq " +
                     llvm::Twine(sq) + ", Skv " + llvm::Twine(skv) +
                     " from the query and key buffers): " + err);
  return signatureForAdditiveSpec(resolved);
}

llvm::Expected<KernelSignature> resolveSizes(const KernelSignature &sig,
                                             const AttentionArgs &args) {
  if (sig.additive)
    return resolveAdditiveSizes(sig, args);
  const AttentionSpec &spec = sig.spec;
  unsigned seqDim = spec.layout == Layout::BSHD ? 1 : 2;
  for (auto [name, buf] :
       {std::pair<const char *, const BufferRef *>{"query", &args.query},
        {"key", &args.key}})
    if (buf->shape.size() != 4)
      return makeError(
          llvm::Twine(name) + ": rank " + llvm::Twine(buf->shape.size()) + " " +
          buf->shapeString() + " but the kernel expects rank 4 " +
          shapeString(name[0] == 'q' ? spec.queryShape() : spec.keyShape()));
  int64_t b = args.query.shape[0], sq = args.query.shape[seqDim],
          skv = args.key.shape[seqDim];
  AttentionSpec resolved = spec.withSizes(b, sq, skv);
  if (std::string err = resolved.validate(); !err.empty())
    return makeError("run-time sizes (batch " + llvm::Twine(b) + ", Sq " +
                     llvm::Twine(sq) + ", Skv " + llvm::Twine(skv) +
                     " from the query and key buffers): " + err);
  KernelSignature out = sig;
  out.spec = resolved;
  KernelSignature fresh = sig.isBackward ? signatureForBackwardSpec(resolved)
                                         : signatureForSpec(resolved);
  if (fresh.args.size() == out.args.size())
    for (auto [arg, f] : llvm::zip(out.args, fresh.args))
      arg.shape = f.shape;
  return out;
}

} // namespace

llvm::Error mlir::attn::rt::checkBlockMaskLists(const BufferRef &num,
                                                const BufferRef &idx,
                                                int64_t kvBlocks) {
  return checkBlockMask(num, idx, kvBlocks);
}

llvm::Error mlir::attn::rt::checkDisjoint(llvm::ArrayRef<BufferUse> uses,
                                          llvm::StringRef what) {
  for (size_t i = 0; i < uses.size(); ++i) {
    if (!uses[i].buffer || !uses[i].written)
      continue;
    auto [lo, hi] = byteRange(*uses[i].buffer);
    if (lo == hi)
      continue;
    for (size_t j = 0; j < uses.size(); ++j) {
      if (j == i || !uses[j].buffer ||
          uses[j].buffer->space != uses[i].buffer->space ||
          (uses[j].written && j < i))
        continue;
      auto [olo, ohi] = byteRange(*uses[j].buffer);
      if (olo < hi && lo < ohi)
        return makeError((what.empty() ? "" : what + ": ") +
                         llvm::Twine(uses[i].name) + " overlaps " +
                         uses[j].name + " in memory; " + uses[i].name +
                         " is written by the kernel and must not alias "
                         "another buffer");
    }
  }
  return llvm::Error::success();
}

llvm::Expected<llvm::SmallVector<BufferRef, 6>>
mlir::attn::rt::bindArguments(const KernelSignature &kernelSig,
                              const AttentionArgs &args) {
  // A kernel with run-time sizes takes this call's sizes from its buffers.
  std::optional<KernelSignature> resolved;
  if (kernelSig.additive ? kernelSig.additive->hasDynamicSizes()
                         : kernelSig.spec.hasDynamicSizes()) {
    auto r = resolveSizes(kernelSig, args);
    if (!r)
      return r.takeError();
    resolved = std::move(*r);
  }
  const KernelSignature &sig = resolved ? *resolved : kernelSig;
  for (ArgRole role : allArgRoles())
    if (args.get(role) && !sig.has(role) && role != ArgRole::Query &&
        role != ArgRole::Key && role != ArgRole::Value &&
        role != ArgRole::Output)
      return makeError(llvm::Twine(stringifyArgRole(role)) +
                       ": given, but the kernel takes no such buffer");
  llvm::SmallVector<BufferRef, 6> bound;
  for (const ArgInfo &info : sig.args) {
    const BufferRef *buf = args.get(info.role);
    if (!buf)
      return makeError(llvm::Twine(stringifyArgRole(info.role)) +
                       ": missing; the kernel needs this buffer");
    bound.emplace_back();
    if (llvm::Error e = checkBuffer(info, *buf, bound.back()))
      return std::move(e);
    // Device-resident lengths are checked by the CUDA backend, which can
    // read them.
    if (info.role == ArgRole::KvLengths &&
        bound.back().space == MemorySpace::Host)
      if (llvm::Error e = checkKvLengths(bound.back(), sig.spec.kvLen))
        return std::move(e);
    // kv_indices follows kv_num_blocks in every signature.
    if (info.role == ArgRole::KvIndices &&
        bound.back().space == MemorySpace::Host &&
        bound[bound.size() - 2].space == MemorySpace::Host)
      if (llvm::Error e = checkBlockMask(
              bound[bound.size() - 2], bound.back(),
              (sig.spec.kvLen + sig.spec.blockSparse->kvBlock - 1) /
                  sig.spec.blockSparse->kvBlock))
        return std::move(e);
  }
  llvm::SmallVector<BufferUse, 10> uses;
  for (auto [info, buf] : llvm::zip(sig.args, bound))
    uses.push_back({stringifyArgRole(info.role), &buf, info.isOutput});
  if (llvm::Error e = checkDisjoint(uses))
    return std::move(e);
  return bound;
}
