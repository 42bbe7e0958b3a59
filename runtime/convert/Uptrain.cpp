//===- Uptrain.cpp - MHA -> GQA/MQA checkpoint conversion -----------------===//

#include "runtime/convert/Uptrain.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/GlobPattern.h"

using namespace mlir::attn;
using namespace mlir::attn::convert;
using llvm::Error;
using llvm::Expected;

namespace {
Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}
} // namespace

Error mlir::attn::convert::checkPooling(const HeadPooling &p) {
  if (p.heads <= 0)
    return fail(llvm::formatv("heads must be positive, got {0}", p.heads));
  if (p.groups <= 0)
    return fail(llvm::formatv("groups must be positive, got {0}", p.groups));
  if (p.heads % p.groups != 0)
    return fail(llvm::formatv("{0} heads do not divide into {1} groups",
                              p.heads, p.groups));
  if (p.headDim < 0)
    return fail(llvm::formatv("head dim must be positive, got {0}", p.headDim));
  return Error::success();
}

Expected<st::Tensor> mlir::attn::convert::poolHeads(const st::Tensor &t,
                                                    const HeadPooling &p) {
  auto bad = [&](const llvm::Twine &msg) {
    return fail("tensor '" + t.name + "': " + msg);
  };
  if (Error e = checkPooling(p))
    return bad(llvm::toString(std::move(e)));
  if (t.shape.size() != 1 && t.shape.size() != 2)
    return bad(llvm::formatv("expected a [H*D, E] weight or [H*D] bias, got "
                             "rank {0}",
                             t.shape.size()));
  if (!st::isConvertibleFloat(t.dtype))
    return bad(llvm::formatv("dtype {0} cannot be averaged (F16, BF16, F32 "
                             "or F64)",
                             st::stringifyDType(t.dtype)));
  int64_t rows = t.shape[0];
  int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
  if (rows % p.heads != 0)
    return bad(
        llvm::formatv("{0} rows do not divide into {1} heads", rows, p.heads));
  int64_t d = rows / p.heads;
  if (p.headDim != 0 && d != p.headDim)
    return bad(llvm::formatv("{0} rows are {1} heads of {2}, not of head dim "
                             "{3}",
                             rows, p.heads, d, p.headDim));

  int64_t per = p.heads / p.groups;
  st::Tensor out;
  out.name = t.name;
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.shape[0] = p.groups * d;
  out.data.resize(out.numElements() * st::dtypeBytes(t.dtype));
  std::vector<double> acc(cols);
  for (int64_t g = 0; g < p.groups; ++g) {
    for (int64_t r = 0; r < d; ++r) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < per; ++j) {
        int64_t src = ((g * per + j) * d + r) * cols;
        for (int64_t c = 0; c < cols; ++c)
          acc[c] += t.get(src + c);
      }
      int64_t dst = (g * d + r) * cols;
      for (int64_t c = 0; c < cols; ++c)
        out.set(dst + c, acc[c] / static_cast<double>(per));
    }
  }
  return out;
}

std::vector<TensorPattern> ConvertOptions::defaultPatterns() {
  return {{"k-weight", "*k_proj.weight", true},
          {"v-weight", "*v_proj.weight", true},
          {"k-bias", "*k_proj.bias", false},
          {"v-bias", "*v_proj.bias", false}};
}

Expected<std::vector<std::string>>
mlir::attn::convert::convertCheckpoint(st::File &file,
                                       const ConvertOptions &options) {
  if (Error e = checkPooling(options.pooling))
    return std::move(e);
  // Which pattern claims each tensor (-1: none).
  std::vector<int> owner(file.tensors.size(), -1);
  std::vector<int64_t> matches(options.patterns.size(), 0);
  for (size_t pi = 0; pi < options.patterns.size(); ++pi) {
    const TensorPattern &pat = options.patterns[pi];
    Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pat.glob);
    if (!glob)
      return fail("--" + pat.role + "=" + pat.glob +
                  ": invalid pattern: " + llvm::toString(glob.takeError()));
    for (size_t ti = 0; ti < file.tensors.size(); ++ti) {
      if (!glob->match(file.tensors[ti].name))
        continue;
      if (owner[ti] >= 0)
        return fail("tensor '" + file.tensors[ti].name + "' matches both --" +
                    options.patterns[owner[ti]].role + " and --" + pat.role);
      owner[ti] = static_cast<int>(pi);
      ++matches[pi];
    }
    if (pat.required && matches[pi] == 0)
      return fail("missing tensor: no tensor matches --" + pat.role + "=" +
                  pat.glob);
  }
  auto countOf = [&](llvm::StringRef role) -> std::optional<int64_t> {
    for (size_t pi = 0; pi < options.patterns.size(); ++pi)
      if (options.patterns[pi].role == role)
        return matches[pi];
    return std::nullopt;
  };
  std::optional<int64_t> kw = countOf("k-weight"), vw = countOf("v-weight");
  if (kw && vw && *kw != *vw)
    return fail(llvm::formatv("--k-weight matches {0} tensors but --v-weight "
                              "matches {1}",
                              *kw, *vw));

  // Pool into new tensors first so that an error leaves `file` unchanged.
  std::vector<std::pair<size_t, st::Tensor>> pooled;
  for (size_t ti = 0; ti < file.tensors.size(); ++ti) {
    if (owner[ti] < 0)
      continue;
    Expected<st::Tensor> t = poolHeads(file.tensors[ti], options.pooling);
    if (!t)
      return t.takeError();
    pooled.emplace_back(ti, std::move(*t));
  }
  std::vector<std::string> names;
  for (auto &[ti, t] : pooled) {
    names.push_back(t.name);
    file.tensors[ti] = std::move(t);
  }
  file.metadata["attn.uptrain"] =
      llvm::formatv("heads={0} groups={1}", options.pooling.heads,
                    options.pooling.groups)
          .str();
  return names;
}
