//===- Safetensors.cpp - read and write .safetensors checkpoints ----------===//

#include "runtime/convert/Safetensors.h"

#include "runtime/HalfFloat.h"
#include "runtime/convert/Rounding.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::st;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
namespace endian = llvm::support::endian;

namespace {
struct DTypeInfo {
  DType type;
  const char *name;
  int64_t bytes;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::F8E5M2, "F8_E5M2", 1},
    {DType::F8E4M3, "F8_E4M3", 1}, {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},        {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},      {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},        {DType::F32, "F32", 4},
    {DType::I64, "I64", 8},        {DType::U64, "U64", 8},
    {DType::F64, "F64", 8},
};
const DTypeInfo &info(DType t) { return kDTypes[static_cast<int>(t)]; }

/// The reference reader's limit: a larger header is rejected before it is
/// parsed (a corrupt length must not make us allocate gigabytes).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

Error fail(StringRef source, const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 source + ": " + msg);
}

/// One header entry, checked: dtype, shape, [begin, end) within `dataBytes`
/// and of the size dtype x shape requires.
Expected<std::pair<Tensor, std::pair<uint64_t, uint64_t>>>
parseEntry(StringRef source, StringRef name, const llvm::json::Value &value,
           uint64_t dataBytes) {
  auto bad = [&](const llvm::Twine &msg) {
    return fail(source, "tensor '" + name + "': " + msg);
  };
  const llvm::json::Object *obj = value.getAsObject();
  if (!obj)
    return bad("entry is not a JSON object");
  Tensor t;
  t.name = name.str();
  std::optional<StringRef> dtype = obj->getString("dtype");
  if (!dtype)
    return bad("missing string 'dtype'");
  std::optional<DType> parsed = parseDType(*dtype);
  if (!parsed)
    return bad("unknown dtype '" + *dtype + "'");
  t.dtype = *parsed;
  const llvm::json::Array *shape = obj->getArray("shape");
  if (!shape)
    return bad("missing array 'shape'");
  uint64_t elements = 1;
  for (const llvm::json::Value &d : *shape) {
    std::optional<int64_t> n = d.getAsInteger();
    if (!n || *n < 0)
      return bad("shape holds a non-integer or negative dimension");
    if (*n != 0 && elements > (uint64_t(1) << 62) / uint64_t(*n))
      return bad("shape overflows 64 bits");
    elements *= uint64_t(*n);
    t.shape.push_back(*n);
  }
  const llvm::json::Array *offsets = obj->getArray("data_offsets");
  if (!offsets || offsets->size() != 2)
    return bad("missing 'data_offsets' [begin, end]");
  std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
  std::optional<int64_t> end = (*offsets)[1].getAsInteger();
  if (!begin || !end || *begin < 0 || *end < *begin)
    return bad("data_offsets must be integers 0 <= begin <= end");
  if (uint64_t(*end) > dataBytes)
    return bad(llvm::formatv("data_offsets [{0}, {1}] run past the {2}-byte "
                             "data buffer (truncated file?)",
                             *begin, *end, dataBytes));
  uint64_t want = elements * uint64_t(info(t.dtype).bytes);
  if (uint64_t(*end - *begin) != want)
    return bad(llvm::formatv("{0} bytes, but {1} x shape needs {2}",
                             *end - *begin, *dtype, want));
  return std::make_pair(std::move(t),
                        std::make_pair(uint64_t(*begin), uint64_t(*end)));
}

Error parseMetadata(StringRef source, const llvm::json::Value &value,
                    File &file) {
  const llvm::json::Object *obj = value.getAsObject();
  if (!obj)
    return fail(source, "__metadata__ is not a JSON object");
  for (const auto &[key, v] : *obj) {
    std::optional<StringRef> s = v.getAsString();
    if (!s)
      return fail(source, "__metadata__ value of '" + StringRef(key) +
                              "' is not a string");
    file.metadata[key.str()] = s->str();
  }
  return Error::success();
}
} // namespace

const char *mlir::attn::st::stringifyDType(DType t) { return info(t).name; }

std::optional<DType> mlir::attn::st::parseDType(StringRef s) {
  for (const DTypeInfo &i : kDTypes)
    if (s == i.name)
      return i.type;
  return std::nullopt;
}

int64_t mlir::attn::st::dtypeBytes(DType t) { return info(t).bytes; }

bool mlir::attn::st::isConvertibleFloat(DType t) {
  return t == DType::F16 || t == DType::BF16 || t == DType::F32 ||
         t == DType::F64;
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

double Tensor::get(int64_t i) const {
  const uint8_t *p = data.data() + i * dtypeBytes(dtype);
  switch (dtype) {
  case DType::F16:
    return rt::halfToFloat(endian::read16le(p));
  case DType::BF16:
    return rt::bfloatToFloat(endian::read16le(p));
  case DType::F32: {
    uint32_t bits = endian::read32le(p);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case DType::F64: {
    uint64_t bits = endian::read64le(p);
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  default:
    llvm_unreachable("Tensor::get on a non-float dtype");
  }
}

void Tensor::set(int64_t i, double v) {
  uint8_t *p = data.data() + i * dtypeBytes(dtype);
  switch (dtype) {
  case DType::F16:
    endian::write16le(p, rt::floatToHalf(convert::roundToOddFloat(v)));
    return;
  case DType::BF16:
    endian::write16le(p, rt::floatToBFloat(convert::roundToOddFloat(v)));
    return;
  case DType::F32: {
    float f = static_cast<float>(v);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    endian::write32le(p, bits);
    return;
  }
  case DType::F64: {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    endian::write64le(p, bits);
    return;
  }
  default:
    llvm_unreachable("Tensor::set on a non-float dtype");
  }
}

Tensor *File::find(StringRef name) {
  for (Tensor &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

const Tensor *File::find(StringRef name) const {
  return const_cast<File *>(this)->find(name);
}

Expected<File> mlir::attn::st::parse(StringRef bytes, StringRef source) {
  if (bytes.size() < 8)
    return fail(source, llvm::formatv("truncated: {0} bytes, shorter than "
                                      "the 8-byte header length",
                                      bytes.size()));
  uint64_t headerBytes = endian::read64le(bytes.data());
  if (headerBytes > kMaxHeaderBytes || headerBytes > bytes.size() - 8)
    return fail(source, llvm::formatv("header length {0} exceeds the {1} "
                                      "bytes after it (truncated or not a "
                                      "safetensors file?)",
                                      headerBytes, bytes.size() - 8));
  StringRef header = bytes.substr(8, headerBytes);
  if (!header.starts_with("{"))
    return fail(source, "header does not start with '{'");
  Expected<llvm::json::Value> json = llvm::json::parse(header);
  if (!json)
    return fail(source, "header is not valid JSON: " +
                            llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail(source, "header is not a JSON object");

  StringRef buffer = bytes.drop_front(8 + headerBytes);
  File file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto &[key, value] : *root) {
    if (key == "__metadata__") {
      if (Error e = parseMetadata(source, value, file))
        return std::move(e);
      continue;
    }
    auto entry = parseEntry(source, key, value, buffer.size());
    if (!entry)
      return entry.takeError();
    file.tensors.push_back(std::move(entry->first));
    ranges.push_back(entry->second);
  }

  // Buffer order, then the tiling check: each tensor starts where the
  // previous one ended, and the last ends at the end of the file.
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  llvm::sort(order, [&](size_t a, size_t b) {
    return ranges[a] < ranges[b] ||
           (ranges[a] == ranges[b] &&
            file.tensors[a].name < file.tensors[b].name);
  });
  uint64_t at = 0;
  std::vector<Tensor> sorted;
  for (size_t i : order) {
    Tensor &t = file.tensors[i];
    if (ranges[i].first != at)
      return fail(source,
                  llvm::formatv("tensor '{0}' at bytes [{1}, {2}] {3} the "
                                "previous tensor ending at {4}",
                                t.name, ranges[i].first, ranges[i].second,
                                ranges[i].first < at ? "overlaps"
                                                     : "leaves a "
                                                       "gap after",
                                at));
    at = ranges[i].second;
    StringRef slice = buffer.slice(ranges[i].first, ranges[i].second);
    t.data.assign(slice.bytes_begin(), slice.bytes_end());
    sorted.push_back(std::move(t));
  }
  if (at != buffer.size())
    return fail(source, llvm::formatv("{0} bytes after the last tensor "
                                      "(tensors cover {1} of {2})",
                                      buffer.size() - at, at, buffer.size()));
  file.tensors = std::move(sorted);
  return file;
}

/// The length prefix and padded JSON header of `file` (everything before
/// the data), after checking names and sizes.
static Expected<std::string> headerOf(const File &file) {
  llvm::json::Object root;
  if (!file.metadata.empty()) {
    llvm::json::Object meta;
    for (const auto &[k, v] : file.metadata)
      meta[k] = v;
    root["__metadata__"] = std::move(meta);
  }
  llvm::StringSet<> names;
  uint64_t at = 0;
  for (const Tensor &t : file.tensors) {
    if (t.name == "__metadata__")
      return fail("serialize", "invalid tensor name '" + t.name + "'");
    if (!names.insert(t.name).second)
      return fail("serialize", "duplicate tensor name '" + t.name + "'");
    if (llvm::any_of(t.shape, [](int64_t d) { return d < 0; }) ||
        uint64_t(t.numElements() * dtypeBytes(t.dtype)) != t.data.size())
      return fail("serialize", "tensor '" + t.name +
                                   "': data size does not match dtype x shape");
    llvm::json::Array shape;
    for (int64_t d : t.shape)
      shape.push_back(d);
    uint64_t end = at + t.data.size();
    root[t.name] = llvm::json::Object{
        {"dtype", stringifyDType(t.dtype)},
        {"shape", std::move(shape)},
        {"data_offsets", llvm::json::Array{int64_t(at), int64_t(end)}}};
    at = end;
  }
  std::string header;
  llvm::raw_string_ostream(header) << llvm::json::Value(std::move(root));
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  endian::write64le(out.data(), header.size());
  return out + header;
}

Expected<std::string> mlir::attn::st::serialize(const File &file) {
  Expected<std::string> out = headerOf(file);
  if (!out)
    return out.takeError();
  for (const Tensor &t : file.tensors)
    out->append(reinterpret_cast<const char *>(t.data.data()), t.data.size());
  return out;
}

Expected<File> mlir::attn::st::readFile(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, "cannot read: " + buffer.getError().message());
  return parse((*buffer)->getBuffer(), path);
}

Error mlir::attn::st::writeFile(const File &file, StringRef path) {
  // Streamed: no second copy of the tensors in memory.
  Expected<std::string> header = headerOf(file);
  if (!header)
    return header.takeError();
  // writeToOutput writes a temporary next to `path` and renames it into
  // place only when everything was written.
  Error e = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << *header;
    for (const Tensor &t : file.tensors)
      os.write(reinterpret_cast<const char *>(t.data.data()), t.data.size());
    return Error::success();
  });
  if (e)
    return fail(path, "cannot write: " + llvm::toString(std::move(e)));
  return Error::success();
}
