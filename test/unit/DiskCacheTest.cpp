//===- DiskCacheTest.cpp - the persistent kernel cache --------------------===//
//
// Each test gets its own cache directory (ctest runs the binary with
// ATTN_CACHE_DIR=off; RuntimeOptions::cacheDir overrides that). A "second
// process" is a second Runtime on the same directory: nothing in memory is
// shared, so a hit can only come from the file. One test forks real
// processes.
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"
#include "RuntimeTestUtils.h"
#include "SpecTestUtils.h"

#include "runtime/Check.h"
#include "runtime/DiskCache.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"
#include "runtime/Runtime.h"

#include "dialect/AttentionSpec.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/xxhash.h"

#include "gtest/gtest.h"

#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::ok;
using attn_test::specOf;

namespace {

/// A fresh empty directory, removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    llvm::SmallString<128> p;
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("attn-diskcache", p));
    path = std::string(p);
  }
  ~TempDir() { (void)llvm::sys::fs::remove_directories(path); }
};

RuntimeOptions inDir(const std::string &dir, uint64_t maxBytes = 1 << 30) {
  RuntimeOptions o;
  o.numThreads = 2;
  o.cacheDir = dir;
  o.cacheMaxBytes = maxBytes;
  return o;
}

/// The entry files (*.attnk) of `dir`.
std::vector<std::string> entries(const std::string &dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec))
    if (llvm::StringRef(it->path()).ends_with(".attnk"))
      out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// Runs `kernel` on inputs from `seed`, checks it against the float64
/// reference and returns the output bytes (and lse, if any).
std::string runAndCheck(const Kernel &kernel, uint64_t seed) {
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers(kernel.signature(), fill);
  if (!ok(kernel.run(buffers.args())))
    return "";
  auto ref = referenceAttention(kernel.signature(), buffers.args());
  if (!ref) {
    ADD_FAILURE() << llvm::toString(ref.takeError());
    return "";
  }
  DType dtype = kernel.signature().spec.dtype == ElementType::F32 ? DType::F32
                : kernel.signature().spec.dtype == ElementType::F16
                    ? DType::F16
                    : DType::BF16;
  CheckReport report = checkAgainstReference(kernel.signature(), buffers.args(),
                                             *ref, toleranceFor(dtype));
  EXPECT_TRUE(report.passed) << report.summary() << " " << report.firstFailure;
  std::string bytes;
  for (ArgRole role : {ArgRole::Output, ArgRole::Lse})
    if (const BufferRef *b = buffers.args().get(role))
      bytes.append(static_cast<const char *>(b->data),
                   b->numElements() * dtypeBytes(b->dtype));
  return bytes;
}

/// Compiles `spec` in a fresh Runtime on `dir`; `diskHit` says what must
/// have happened.
KernelRef compileIn(const std::string &dir, const AttentionSpec &spec,
                    bool diskHit, uint64_t maxBytes = 1 << 30) {
  Runtime runtime(inDir(dir, maxBytes));
  auto kernel = runtime.compile(spec);
  if (!kernel) {
    ADD_FAILURE() << llvm::toString(kernel.takeError());
    return nullptr;
  }
  Runtime::CacheStats stats = runtime.cacheStats();
  EXPECT_EQ(stats.diskHits, diskHit ? 1 : 0) << spec.key();
  EXPECT_EQ(stats.compiles, diskHit ? 0 : 1) << spec.key();
  EXPECT_EQ((*kernel)->compileStats().fromDisk, diskHit);
  return *kernel;
}

const char *kPrefill = "gqa:b=1,hq=4,hkv=2,s=67,d=64,causal";

TEST(DiskCache, HitRunsBitIdenticalToTheFreshCompile) {
  TempDir dir;
  for (const char *s :
       {kPrefill, "gqa:b=3,hq=8,hkv=2,sq=1,skv=300,d=128,ragged,lse",
        "mha:b=1,h=2,s=33,d=64,dtype=bf16,window=8:0"}) {
    SCOPED_TRACE(s);
    AttentionSpec spec = specOf(s);
    KernelRef fresh = compileIn(dir.path, spec, /*diskHit=*/false);
    KernelRef loaded = compileIn(dir.path, spec, /*diskHit=*/true);
    ASSERT_TRUE(fresh && loaded);
    EXPECT_EQ(loaded->workItems(), fresh->workItems());
    EXPECT_EQ(loaded->compileStats().jitMs, fresh->compileStats().jitMs)
        << "the stored compile stats come back";
    uint64_t seed = attn_test::testSeed();
    std::string a = runAndCheck(*fresh, seed), b = runAndCheck(*loaded, seed);
    EXPECT_FALSE(a.empty());
    EXPECT_TRUE(a == b) << "the loaded kernel computes other bits";
  }
  EXPECT_EQ(entries(dir.path).size(), 3u);
}

TEST(DiskCache, SplitKvDecodeScratchRoundTrips) {
  // Long KV with kv-splits: the kernel takes per-run scratch, whose size
  // comes from the entry.
  TempDir dir;
  AttentionSpec spec = specOf("gqa:b=1,hq=8,hkv=2,sq=1,skv=4000,d=64");
  CompileOptions options;
  Runtime first(inDir(dir.path));
  auto fresh = first.compile(spec, Target::Cpu, options);
  ASSERT_TRUE(static_cast<bool>(fresh)) << llvm::toString(fresh.takeError());
  Runtime second(inDir(dir.path));
  auto loaded = second.compile(spec, Target::Cpu, options);
  ASSERT_TRUE(static_cast<bool>(loaded)) << llvm::toString(loaded.takeError());
  EXPECT_EQ(second.cacheStats().diskHits, 1);
  uint64_t seed = attn_test::testSeed();
  EXPECT_EQ(runAndCheck(**fresh, seed), runAndCheck(**loaded, seed));
}

TEST(DiskCache, MemoryHitsDoNotTouchTheDisk) {
  TempDir dir;
  Runtime runtime(inDir(dir.path));
  AttentionSpec spec = specOf(kPrefill);
  ASSERT_TRUE(static_cast<bool>(runtime.compile(spec)));
  ASSERT_TRUE(static_cast<bool>(runtime.compile(spec)));
  Runtime::CacheStats s = runtime.cacheStats();
  EXPECT_EQ(s.compiles, 1);
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.diskHits, 0);
  // After clearCache the disk still has it.
  runtime.clearCache();
  ASSERT_TRUE(static_cast<bool>(runtime.compile(spec)));
  EXPECT_EQ(runtime.cacheStats().diskHits, 1);
}

/// Rewrites the trailing checksum so that only the field under test is off.
void reseal(std::string &bytes) {
  uint64_t h = llvm::xxh3_64bits(llvm::StringRef(bytes).drop_back(8));
  std::memcpy(&bytes[bytes.size() - 8], &h, 8);
}

/// Ways to damage an entry, each of which must make it a miss.
std::vector<std::pair<std::string, std::function<void(std::string &)>>>
damages() {
  std::vector<std::pair<std::string, std::function<void(std::string &)>>> d;
  for (double at : {0.0, 0.001, 0.02, 0.3, 0.7, 0.9999, 1.0})
    d.push_back({"flip at " + std::to_string(at), [at](std::string &b) {
                   b[static_cast<size_t>(at * (b.size() - 1))] ^= 0x10;
                 }});
  for (size_t keep : {size_t(0), size_t(7), size_t(40), size_t(5000)})
    d.push_back({"truncate to " + std::to_string(keep),
                 [keep](std::string &b) { b.resize(keep); }});
  d.push_back({"drop the last byte", [](std::string &b) { b.pop_back(); }});
  d.push_back({"append a byte", [](std::string &b) { b.push_back('x'); }});
  d.push_back({"other format version", [](std::string &b) {
                 uint32_t v = DiskCache::kFormatVersion + 1;
                 std::memcpy(&b[8], &v, 4); // after the 8-byte magic
                 reseal(b);
               }});
  d.push_back({"payload length past the end", [](std::string &b) {
                 uint64_t keyLen;
                 std::memcpy(&keyLen, &b[16], 8);
                 uint64_t huge = ~uint64_t(0) - 3;
                 std::memcpy(&b[24 + keyLen], &huge, 8);
                 reseal(b);
               }});
  return d;
}

TEST(DiskCache, DamagedEntriesAreMisses) {
  // At the file level, without compiling: every damage is a miss.
  TempDir dir;
  DiskCache cache(dir.path);
  std::string payload(20000, 'p');
  ASSERT_TRUE(cache.store("key", 1, payload));
  std::string good = readFile(cache.pathFor("key"));
  uint32_t kind = 0;
  ASSERT_EQ(cache.load("key", kind), payload);
  for (auto &[what, damage] : damages()) {
    std::string bytes = good;
    damage(bytes);
    ASSERT_NE(bytes, good) << what;
    writeFile(cache.pathFor("key"), bytes);
    EXPECT_FALSE(cache.load("key", kind).has_value()) << what;
  }
  // Another key's valid entry under this key's name.
  writeFile(cache.pathFor("key"), DiskCache::encode("other", 1, payload));
  EXPECT_FALSE(cache.load("key", kind).has_value());
  writeFile(cache.pathFor("key"), good);
  EXPECT_TRUE(cache.load("key", kind).has_value());
}

/// Damages the one entry a compile left, then checks that a new runtime
/// compiles (no disk hit, correct output) and rewrites a loadable entry.
void expectRecompiledAfter(const std::function<void(std::string &)> &damage) {
  TempDir dir;
  AttentionSpec spec = specOf(kPrefill);
  ASSERT_TRUE(compileIn(dir.path, spec, false));
  auto files = entries(dir.path);
  ASSERT_EQ(files.size(), 1u);
  std::string bytes = readFile(files[0]);
  size_t goodSize = bytes.size();
  damage(bytes);
  writeFile(files[0], bytes);
  KernelRef kernel = compileIn(dir.path, spec, /*diskHit=*/false);
  ASSERT_TRUE(kernel);
  EXPECT_FALSE(runAndCheck(*kernel, attn_test::testSeed()).empty());
  EXPECT_EQ(readFile(files[0]).size(), goodSize) << "rewritten whole";
  EXPECT_TRUE(compileIn(dir.path, spec, /*diskHit=*/true));
}

TEST(DiskCache, FlippedByteIsRecompiled) {
  // In the object code: it passes no check but the checksum.
  expectRecompiledAfter([](std::string &b) { b[b.size() - 300] ^= 0x10; });
}

TEST(DiskCache, TruncatedEntryIsRecompiled) {
  expectRecompiledAfter([](std::string &b) { b.resize(b.size() / 2); });
}

TEST(DiskCache, OtherFormatVersionIsRecompiled) {
  for (auto &[what, damage] : damages())
    if (what == "other format version")
      expectRecompiledAfter(damage);
}

TEST(DiskCache, CorruptPayloadWithValidChecksumIsRecompiled) {
  // A writer bug rather than disk damage: the frame is valid, the payload
  // (here its buffer list) is not what the caller's signature says.
  expectRecompiledAfter([](std::string &b) {
    uint64_t keyLen;
    std::memcpy(&keyLen, &b[16], 8);
    size_t payload = 24 + keyLen + 8;
    b[payload + 5 * 8 + 8 + 4] ^= 1; // first buffer's dtype, after 5 stats
    reseal(b);
  });
}

TEST(DiskCache, ForeignEntryUnderTheSameNameIsNotLoaded) {
  // A valid entry of another key where this key's file should be (what a
  // hash collision would leave): ignored, never run.
  TempDir dir;
  AttentionSpec a = specOf(kPrefill), b = specOf("mha:b=1,h=2,s=40,d=64");
  ASSERT_TRUE(compileIn(dir.path, a, false));
  std::string fileA = entries(dir.path).at(0);
  TempDir other;
  ASSERT_TRUE(compileIn(other.path, b, false));
  llvm::sys::fs::copy_file(entries(other.path).at(0), fileA);
  KernelRef kernel = compileIn(dir.path, a, /*diskHit=*/false);
  ASSERT_TRUE(kernel);
  EXPECT_EQ(kernel->signature().spec, a);
  EXPECT_FALSE(runAndCheck(*kernel, attn_test::testSeed()).empty());
}

TEST(DiskCache, UnusableDirectoryFallsBackToCompiling) {
  TempDir dir;
  std::string file = dir.path + "/plain-file";
  writeFile(file, "not a directory");
  for (std::string bad : {std::string("/proc/attn-no-such-cache"), file,
                          file + "/below-a-file"}) {
    SCOPED_TRACE(bad);
    KernelRef kernel = compileIn(bad, specOf(kPrefill), false);
    ASSERT_TRUE(kernel);
    EXPECT_FALSE(runAndCheck(*kernel, 1).empty());
  }
  // A missing directory is created on the first store.
  std::string fresh = dir.path + "/a/b/c";
  ASSERT_TRUE(compileIn(fresh, specOf(kPrefill), false));
  EXPECT_EQ(entries(fresh).size(), 1u);
}

TEST(DiskCache, SizeBoundEvictsLeastRecentlyUsed) {
  TempDir dir;
  DiskCache cache(dir.path, /*maxBytes=*/2500);
  std::string payload(1000, 'x');
  auto age = [&](const char *key, int seconds) {
    struct timespec t[2];
    t[0].tv_sec = t[1].tv_sec = time(nullptr) - seconds;
    t[0].tv_nsec = t[1].tv_nsec = 0;
    ASSERT_EQ(utimensat(AT_FDCWD, cache.pathFor(key).c_str(), t, 0), 0);
  };
  ASSERT_TRUE(cache.store("k1", 7, payload));
  ASSERT_TRUE(cache.store("k2", 7, payload));
  age("k1", 20);
  age("k2", 10);
  uint32_t kind = 0;
  ASSERT_TRUE(cache.load("k1", kind)); // k1 is now the most recent
  EXPECT_EQ(kind, 7u);
  // A writer that died long ago left a temporary file: swept too.
  std::string stale = cache.pathFor("k9") + ".tmp-deadbeef";
  writeFile(stale, "partial");
  struct timespec old[2] = {{time(nullptr) - 7200, 0},
                            {time(nullptr) - 7200, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, stale.c_str(), old, 0), 0);
  ASSERT_TRUE(cache.store("k3", 7, payload));
  EXPECT_TRUE(cache.load("k1", kind));
  EXPECT_FALSE(cache.load("k2", kind)) << "least recently used goes first";
  EXPECT_TRUE(cache.load("k3", kind));
  EXPECT_FALSE(llvm::sys::fs::exists(stale));
  EXPECT_EQ(entries(dir.path).size(), 2u);
}

TEST(DiskCache, RuntimeRespectsItsSizeBound) {
  TempDir dir;
  AttentionSpec a = specOf(kPrefill), b = specOf("mha:b=1,h=2,s=40,d=64");
  ASSERT_TRUE(compileIn(dir.path, a, false));
  uint64_t one = readFile(entries(dir.path).at(0)).size();
  // Room for one entry: storing b evicts a.
  ASSERT_TRUE(compileIn(dir.path, b, false, /*maxBytes=*/one + one / 2));
  EXPECT_EQ(entries(dir.path).size(), 1u);
  EXPECT_TRUE(compileIn(dir.path, b, true));
  EXPECT_TRUE(compileIn(dir.path, a, false));
}

TEST(DiskCache, EnvironmentAndOptionsChooseTheDirectory) {
  TempDir dir;
  ::setenv("ATTN_CACHE_DIR", dir.path.c_str(), 1);
  EXPECT_EQ(Runtime().diskCacheDir(), dir.path);
  for (const char *off : {"off", "OFF", ""}) {
    ::setenv("ATTN_CACHE_DIR", off, 1);
    Runtime runtime;
    EXPECT_EQ(runtime.diskCacheDir(), "") << "'" << off << "'";
    if (llvm::StringRef(off) == "off")
      ASSERT_TRUE(static_cast<bool>(runtime.compile(specOf(kPrefill))));
  }
  EXPECT_TRUE(entries(dir.path).empty()) << "disabled: nothing written";
  // The option wins over the variable, either way.
  EXPECT_EQ(Runtime(inDir(dir.path)).diskCacheDir(), dir.path);
  ::setenv("ATTN_CACHE_DIR", dir.path.c_str(), 1);
  EXPECT_EQ(Runtime(inDir("off")).diskCacheDir(), "");
  ::unsetenv("ATTN_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/somewhere/xdg", 1);
  EXPECT_EQ(Runtime().diskCacheDir(), "/somewhere/xdg/attn");
  ::unsetenv("XDG_CACHE_HOME");
  std::string home = std::getenv("HOME") ? std::getenv("HOME") : "";
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(Runtime().diskCacheDir(), "/home/someone/.cache/attn");
  ::setenv("HOME", home.c_str(), 1);
}

TEST(DiskCache, TwoProcessesFillOneCacheAtOnce) {
  // Both compile one shared spec and one of their own at the same time;
  // each checks its outputs. Afterwards every entry must load.
  TempDir dir;
  const char *shared = kPrefill;
  const char *own[2] = {"mha:b=1,h=2,s=40,d=64", "mqa:b=2,h=4,s=24,d=64"};
  pid_t pids[2];
  for (int i = 0; i < 2; ++i) {
    pids[i] = fork();
    ASSERT_GE(pids[i], 0);
    if (pids[i] == 0) {
      Runtime runtime(inDir(dir.path));
      bool good = true;
      for (const char *s : {shared, own[i], shared}) {
        auto kernel = runtime.compile(specOf(s));
        good &=
            static_cast<bool>(kernel) && !runAndCheck(**kernel, 7 + i).empty();
        if (!kernel)
          llvm::consumeError(kernel.takeError());
      }
      _exit(good && !::testing::Test::HasFailure() ? 0 : 1);
    }
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(entries(dir.path).size(), 3u);
  for (const char *s : {shared, own[0], own[1]})
    EXPECT_TRUE(compileIn(dir.path, specOf(s), /*diskHit=*/true)) << s;
  // No temporary file left behind.
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir.path, ec), end;
       !ec && it != end; it.increment(ec))
    EXPECT_TRUE(llvm::StringRef(it->path()).ends_with(".attnk")) << it->path();
}

TEST(DiskCache, CudaPtxAndLaunchPlanRoundTrip) {
  // The compile path needs no GPU; sm_90a adds the wgmma kernels' tensor
  // maps to the plan.
  TempDir dir;
  for (const char *chip : {"sm_90", "sm_90a"})
    for (const char *s : {"gqa:b=1,hq=8,hkv=2,s=100,d=128,dtype=bf16,causal",
                          "gqa:b=2,hq=8,hkv=2,sq=1,skv=2000,d=128,dtype=f16"}) {
      SCOPED_TRACE(std::string(chip) + " " + s);
      CompileOptions options;
      options.gpuChip = chip;
      Runtime first(inDir(dir.path)), second(inDir(dir.path));
      auto fresh = first.compile(specOf(s), Target::Cuda, options);
      ASSERT_TRUE(static_cast<bool>(fresh))
          << llvm::toString(fresh.takeError());
      auto loaded = second.compile(specOf(s), Target::Cuda, options);
      ASSERT_TRUE(static_cast<bool>(loaded))
          << llvm::toString(loaded.takeError());
      EXPECT_EQ(second.cacheStats().diskHits, 1);
      EXPECT_EQ(second.cacheStats().compiles, 0);
      EXPECT_EQ((*loaded)->target(), Target::Cuda);
      EXPECT_FALSE((*fresh)->gpuBinary().empty());
      EXPECT_EQ((*loaded)->gpuBinary(), (*fresh)->gpuBinary());
      EXPECT_EQ((*loaded)->gpuLaunchPlan(), (*fresh)->gpuLaunchPlan());
      EXPECT_EQ((*loaded)->workItems(), (*fresh)->workItems());
      EXPECT_EQ((*loaded)->signature().args.size(),
                (*fresh)->signature().args.size());
    }
}

TEST(DiskCache, KvCacheKernelsLoadFromDisk) {
  // A paged GQA decode step (append + cache attention kernels) in two
  // steppers with separate in-memory kernel caches on one directory: the
  // second loads both kernels and produces the same bits.
  using namespace kv_test;
  TempDir dir;
  std::mt19937_64 rng(attn_test::testSeed());
  const int64_t n = 2, hq = 4, hkv = 2, d = 64, snew = 5;
  HostTensor k(rt::DType::F32, {n, hkv, snew, d}), v = k;
  HostTensor q(rt::DType::F32, {n, hq, 1, d});
  k.fillRandom(rng);
  v.fillRandom(rng);
  q.fillRandom(rng);
  std::string outputs[2];
  for (int run = 0; run < 2; ++run) {
    auto cache = makePaged(8, 16, 4, n, hkv, d);
    std::vector<SeqId> ids;
    for (int64_t i = 0; i < n; ++i)
      ids.push_back(get(cache->addSequence()));
    auto kernels = std::make_shared<kv::CacheKernels>(dir.path, 1 << 30);
    kv::KvStepper stepper(*cache, attn_test::sharedRuntime(), {}, kernels);
    ASSERT_TRUE(attn_test::ok(stepper.appendStep(ids, k.ref, v.ref)));
    HostTensor out(rt::DType::F32, {n, hq, 1, d});
    ASSERT_TRUE(attn_test::ok(stepper.decodeStep(ids, q.ref, out.ref)));
    outputs[run].assign(out.bytes.begin(), out.bytes.end());
    kv::CacheKernels::Stats s = kernels->stats();
    EXPECT_EQ(s.compiles, run == 0 ? 2 : 0);
    EXPECT_EQ(s.diskHits, run == 0 ? 0 : 2);
  }
  EXPECT_TRUE(outputs[0] == outputs[1]);
  // And it is right: against the float64 cache reference.
  auto cache = makePaged(8, 16, 4, n, hkv, d);
  std::vector<SeqId> ids;
  for (int64_t i = 0; i < n; ++i)
    ids.push_back(get(cache->addSequence()));
  kv::KvStepper reference = referenceStepper(*cache);
  ASSERT_TRUE(attn_test::ok(reference.appendStep(ids, k.ref, v.ref)));
  HostTensor want(rt::DType::F32, {n, hq, 1, d});
  ASSERT_TRUE(attn_test::ok(reference.decodeStep(ids, q.ref, want.ref)));
  HostTensor got = want;
  std::memcpy(got.bytes.data(), outputs[1].data(), outputs[1].size());
  double maxErr = 0, maxRef = 0;
  for (int64_t i = 0; i < want.size(); ++i) {
    maxErr = std::max(maxErr, std::abs(got.at(i) - want.at(i)));
    maxRef = std::max(maxRef, std::abs(want.at(i)));
  }
  EXPECT_LE(maxErr / maxRef, rt::toleranceFor(rt::DType::F32).output);
}

} // namespace
