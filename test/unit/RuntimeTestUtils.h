//===- RuntimeTestUtils.h - shared pieces of the runtime tests -*- C++ -*-===//
#ifndef ATTN_TEST_UNIT_RUNTIMETESTUTILS_H
#define ATTN_TEST_UNIT_RUNTIMETESTUTILS_H

#include "SpecTestUtils.h"
#include "runtime/HostBuffers.h"
#include "runtime/Runtime.h"

#include "gtest/gtest.h"

#include <chrono>
#include <cstdlib>
#include <string>

namespace attn_test {

/// One runtime per test process, so that tests of one binary run share
/// compiled kernels (ctest runs each test in its own process anyway).
/// Deliberately leaked: kernels destroyed during static destruction would
/// run JIT deinitializers after parts of LLVM are gone.
inline mlir::attn::rt::Runtime &sharedRuntime() {
  static auto *runtime = new mlir::attn::rt::Runtime();
  return *runtime;
}

/// Fresh inputs every run; ATTN_TEST_SEED=N reproduces a failure.
inline uint64_t testSeed() {
  if (const char *env = std::getenv("ATTN_TEST_SEED"))
    return std::strtoull(env, nullptr, 10);
  return static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch().count());
}

/// Fails the current test with the message of `e` (if any); true on
/// success.
inline bool ok(llvm::Error e) {
  if (!e)
    return true;
  ADD_FAILURE() << llvm::toString(std::move(e));
  return false;
}

/// The message of an expected error; fails the test on success.
inline std::string errorOf(llvm::Error e) {
  if (!e) {
    ADD_FAILURE() << "expected an error, got success";
    return "";
  }
  return llvm::toString(std::move(e));
}

template <typename T> std::string errorOf(llvm::Expected<T> e) {
  if (e) {
    ADD_FAILURE() << "expected an error, got success";
    return "";
  }
  return llvm::toString(e.takeError());
}

/// The error of one run of `spec`'s CPU kernel on random buffers with
/// `buffer` passed as `role` ("" and a test failure on success).
inline std::string runErrorWith(const mlir::attn::AttentionSpec &spec,
                                mlir::attn::rt::ArgRole role,
                                const mlir::attn::rt::BufferRef &buffer) {
  auto kernel = sharedRuntime().compile(spec);
  if (!kernel)
    return "compile: " + llvm::toString(kernel.takeError());
  mlir::attn::rt::HostBuffers buffers((*kernel)->signature(), {1});
  mlir::attn::rt::AttentionArgs args = buffers.args();
  args.set(role, buffer);
  return errorOf((*kernel)->run(args));
}

} // namespace attn_test

#endif
