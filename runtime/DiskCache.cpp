//===- DiskCache.cpp - persistent kernel cache: files and framing ---------===//
#include "runtime/DiskCache.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>

using namespace mlir::attn::rt;
namespace fs = llvm::sys::fs;

namespace {

constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'K', 'C', '\r', '\n'};
constexpr llvm::StringLiteral kEntrySuffix = ".attnk";
constexpr llvm::StringLiteral kTempMarker = ".tmp-";
/// magic + version + kind + key length + payload length + checksum.
constexpr size_t kFixedBytes = 8 + 4 + 4 + 8 + 8 + 8;

void putLE(std::string &out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t getLE(llvm::StringRef data, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= uint64_t(static_cast<uint8_t>(data[pos + i])) << (8 * i);
  return v;
}

bool isOff(llvm::StringRef s) {
  return s.empty() || s.equals_insensitive("off");
}

} // namespace

DiskCache::DiskCache(std::string dir, uint64_t maxBytes)
    : directory(std::move(dir)), limit(maxBytes) {}

std::optional<std::string>
DiskCache::resolveDir(const std::optional<std::string> &configured) {
  if (configured)
    return isOff(*configured) ? std::nullopt
                              : std::optional<std::string>(*configured);
  if (const char *env = std::getenv("ATTN_CACHE_DIR"))
    return isOff(env) ? std::nullopt : std::optional<std::string>(env);
  llvm::SmallString<256> dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    dir = xdg;
  } else if (const char *home = std::getenv("HOME"); home && *home) {
    dir = home;
    llvm::sys::path::append(dir, ".cache");
  } else {
    return std::nullopt; // nowhere sensible to put it
  }
  llvm::sys::path::append(dir, "attn");
  return std::string(dir);
}

std::string DiskCache::pathFor(llvm::StringRef key) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx",
                static_cast<unsigned long long>(llvm::xxh3_64bits(key)));
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, llvm::Twine(name) + kEntrySuffix);
  return std::string(path);
}

std::string DiskCache::encode(llvm::StringRef key, uint32_t kind,
                              llvm::StringRef payload, uint32_t version) {
  std::string out(kMagic, sizeof kMagic);
  out.reserve(kFixedBytes + key.size() + payload.size());
  putLE(out, version, 4);
  putLE(out, kind, 4);
  putLE(out, key.size(), 8);
  out += key;
  putLE(out, payload.size(), 8);
  out += payload;
  putLE(out, llvm::xxh3_64bits(out), 8);
  return out;
}

std::optional<std::string> DiskCache::load(llvm::StringRef key,
                                           uint32_t &kind) const {
  std::string path = pathFor(key);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return std::nullopt;
  llvm::StringRef data = (*buffer)->getBuffer();
  if (data.size() < kFixedBytes + key.size() ||
      std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    return std::nullopt;
  size_t pos = sizeof kMagic;
  if (getLE(data, pos, 4) != kFormatVersion)
    return std::nullopt;
  kind = static_cast<uint32_t>(getLE(data, pos + 4, 4));
  pos += 8;
  uint64_t keyBytes = getLE(data, pos, 8);
  pos += 8;
  // Lengths are checked against the file before use: a corrupt length
  // must not send the reader past the end.
  if (keyBytes != key.size() || data.substr(pos, keyBytes) != key)
    return std::nullopt; // another key with the same file name
  pos += keyBytes;
  uint64_t payloadBytes = getLE(data, pos, 8);
  pos += 8;
  if (payloadBytes != data.size() - pos - 8)
    return std::nullopt; // truncated or padded
  uint64_t checksum = getLE(data, data.size() - 8, 8);
  if (llvm::xxh3_64bits(data.drop_back(8)) != checksum)
    return std::nullopt;
  // Least recently used is by mtime: a hit makes the entry young again.
  (void)::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  return data.substr(pos, payloadBytes).str();
}

bool DiskCache::store(llvm::StringRef key, uint32_t kind,
                      llvm::StringRef payload) const {
  if (fs::create_directories(directory))
    return false;
  std::string path = pathFor(key);
  // The temporary lives in the cache directory (same file system), so the
  // rename is atomic; its name never ends in .attnk, so no reader opens it.
  llvm::SmallString<256> tmp;
  int fd = -1;
  if (fs::createUniqueFile(path + kTempMarker + "%%%%%%%%", fd, tmp))
    return false;
  std::string bytes = encode(key, kind, payload);
  bool ok;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << bytes;
    os.flush();
    ok = !os.has_error();
    if (os.has_error())
      os.clear_error();
  }
  if (!ok || fs::rename(tmp, path)) {
    (void)fs::remove(tmp);
    return false;
  }
  evict();
  return true;
}

void DiskCache::evict() const {
  struct File {
    std::string path;
    uint64_t size;
    std::chrono::system_clock::time_point mtime;
  };
  std::vector<File> entries;
  uint64_t total = 0;
  auto now = std::chrono::system_clock::now();
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end;
       it.increment(ec)) {
    fs::file_status st;
    if (fs::status(it->path(), st) || st.type() != fs::file_type::regular_file)
      continue;
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    std::chrono::system_clock::time_point mtime = st.getLastModificationTime();
    if (name.contains(kTempMarker)) {
      // A writer that died between create and rename; live writers take
      // milliseconds.
      if (now - mtime > std::chrono::hours(1))
        (void)fs::remove(it->path());
      continue;
    }
    if (!name.ends_with(kEntrySuffix))
      continue; // not ours
    entries.push_back({it->path(), st.getSize(), mtime});
    total += st.getSize();
  }
  if (total <= limit)
    return;
  std::sort(entries.begin(), entries.end(),
            [](const File &a, const File &b) { return a.mtime < b.mtime; });
  for (const File &f : entries) {
    if (total <= limit)
      break;
    // Another process may have removed or replaced it already; either way
    // it no longer counts.
    (void)fs::remove(f.path);
    total -= f.size;
  }
}

void PayloadWriter::u32(uint32_t v) { putLE(out, v, 4); }
void PayloadWriter::u64(uint64_t v) { putLE(out, v, 8); }
void PayloadWriter::f64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  u64(bits);
}
void PayloadWriter::bytes(llvm::StringRef s) {
  u64(s.size());
  out += s;
}

uint32_t PayloadReader::u32() {
  if (failed || data.size() - pos < 4) {
    failed = true;
    return 0;
  }
  pos += 4;
  return static_cast<uint32_t>(getLE(data, pos - 4, 4));
}

uint64_t PayloadReader::u64() {
  if (failed || data.size() - pos < 8) {
    failed = true;
    return 0;
  }
  pos += 8;
  return getLE(data, pos - 8, 8);
}

double PayloadReader::f64() {
  uint64_t bits = u64();
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

std::string PayloadReader::bytes() {
  uint64_t n = u64();
  if (failed || data.size() - pos < n) {
    failed = true;
    return {};
  }
  pos += n;
  return data.substr(pos - n, n).str();
}
