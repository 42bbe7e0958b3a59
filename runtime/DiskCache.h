//===- DiskCache.h - persistent kernel cache: files and framing -*- C++ -*-===//
//
// A directory of compiled kernels shared by every process of the same attn
// build. One file per key, `<xxh3 of the key>.attnk`:
//
//   magic "ATTNKC\r\n" | u32 format version | u32 payload kind
//   | u64 key bytes | key | u64 payload bytes | payload
//   | u64 xxh3 of everything before it
//
// (little-endian). A reader accepts an entry only when the magic, version,
// lengths and checksum are right and the stored key equals the asked one;
// anything else (a torn or truncated file, a flipped byte, another version,
// another key with the same hash) is a miss, and the next store replaces
// it. Writers write a unique temporary file in the directory and rename it
// into place, so readers see either the old or the new whole entry, never
// part of one, with any number of processes at once. Loads refresh the
// entry's mtime; after a store, the least recently used entries are
// deleted while the directory holds more than its size bound.
//
// Nothing here fails loudly: a directory that cannot be created, read or
// written makes the cache a no-op and the runtime compiles as without one.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_DISKCACHE_H
#define ATTN_RUNTIME_DISKCACHE_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::attn::rt {

class DiskCache {
public:
  /// Bumped whenever the framing or any payload encoding changes (3: CPU
  /// kernels of run-time sizes, whose objects export packed size
  /// functions and store -1 work items; 4: CUDA launch plans of run-time
  /// sizes, with grid and parameter expressions; 5: run-time split counts,
  /// conditional launches and scratch of run-time size).
  static constexpr uint32_t kFormatVersion = 5;
  static constexpr uint64_t kDefaultMaxBytes = uint64_t(1) << 30;

  DiskCache(std::string dir, uint64_t maxBytes = kDefaultMaxBytes);

  /// The directory to use: `configured` when given (the RuntimeOptions
  /// field), else $ATTN_CACHE_DIR when set, else $XDG_CACHE_HOME/attn or
  /// ~/.cache/attn. Empty or "off" (either way) disables the cache:
  /// returns nullopt.
  static std::optional<std::string>
  resolveDir(const std::optional<std::string> &configured);

  const std::string &dir() const { return directory; }
  uint64_t maxBytes() const { return limit; }

  /// The payload stored under `key` (and its kind, in `kind`), or nullopt
  /// (absent, unreadable, corrupt, foreign, other version).
  std::optional<std::string> load(llvm::StringRef key, uint32_t &kind) const;
  /// Stores `payload` under `key`; false when it could not be written
  /// (the cache then simply misses next time).
  bool store(llvm::StringRef key, uint32_t kind, llvm::StringRef payload) const;

  /// The entry file of `key` (tests corrupt it on purpose).
  std::string pathFor(llvm::StringRef key) const;
  /// Deletes least recently used entries (and temporary files older than
  /// an hour, left by crashed writers) until the directory holds at most
  /// maxBytes of entries.
  void evict() const;

  /// The framed bytes of an entry (what store writes).
  static std::string encode(llvm::StringRef key, uint32_t kind,
                            llvm::StringRef payload,
                            uint32_t version = kFormatVersion);

private:
  std::string directory;
  uint64_t limit;
};

/// Appends/reads little-endian fields of a payload; a read past the end
/// or of an impossible length sets `failed` and returns zeros.
class PayloadWriter {
public:
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  void bytes(llvm::StringRef s);
  std::string take() { return std::move(out); }

private:
  std::string out;
};

class PayloadReader {
public:
  explicit PayloadReader(llvm::StringRef data) : data(data) {}
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64();
  std::string bytes();
  bool ok() const { return !failed; }
  bool atEnd() const { return pos == data.size(); }

private:
  llvm::StringRef data;
  size_t pos = 0;
  bool failed = false;
};

} // namespace mlir::attn::rt

#endif
