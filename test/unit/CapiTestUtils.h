//===- CapiTestUtils.h - helpers of the C API tests -----------------------===//
//
// Shared by the tests that link libattn.so only: the last error, a status +
// message check, and random inputs.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_UNIT_CAPITESTUTILS_H
#define ATTN_TEST_UNIT_CAPITESTUTILS_H

#include "runtime/capi/attn.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace attn_capi_test {

inline std::string lastError() { return attn_last_error(); }

inline std::vector<float> randomVec(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (float &x : v)
    x = nd(rng);
  return v;
}

} // namespace attn_capi_test

/// `call` returns `status` and attn_last_error() contains `text`.
#define EXPECT_FAILS(call, status, text)                                       \
  do {                                                                         \
    EXPECT_EQ((call), (status)) << #call;                                      \
    EXPECT_NE(attn_capi_test::lastError().find(text), std::string::npos)       \
        << "message '" << attn_capi_test::lastError() << "' lacks '" << (text) \
        << "'";                                                                \
  } while (0)

#endif // ATTN_TEST_UNIT_CAPITESTUTILS_H
