//===- CudaDriverTest.cpp - the run-time-loaded CUDA driver ---------------===//
//
// Without a GPU (CI), the driver must say "no CUDA device" and the device
// tests skip. On the GPU machine they move data, load PTX through the driver
// and launch. The PTX is a plumbing probe for this layer (attention kernels
// come from attn's passes).
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/CudaDriver.h"

#include "gtest/gtest.h"

#include <vector>

using namespace mlir::attn::cuda;

namespace {

constexpr const char *kAddOnePtx = R"(
.version 8.0
.target sm_80
.address_size 64
.visible .entry attn_test_add_one(.param .u64 x_ptr, .param .u64 y_ptr,
                                  .param .u32 n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [x_ptr];
  ld.param.u64 %rd2, [y_ptr];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p1, %r5, %r1;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd3, %rd1;
  cvta.to.global.u64 %rd4, %rd2;
  mul.wide.u32 %rd5, %r5, 4;
  add.s64 %rd6, %rd3, %rd5;
  add.s64 %rd7, %rd4, %rd5;
  ld.global.f32 %f1, [%rd6];
  add.f32 %f2, %f1, 0f3F800000;
  st.global.f32 [%rd7], %f2;
DONE:
  ret;
}
)";

/// The driver, or a skip (with the reason checked) where there is none.
Driver *driverOrSkip() {
  auto driver = Driver::get();
  if (driver)
    return *driver;
  std::string why = llvm::toString(driver.takeError());
  EXPECT_EQ(why.rfind("no CUDA device: ", 0), 0u) << why;
  return nullptr;
}

TEST(CudaDriver, NoDeviceIsAnErrorNotACrash) {
  auto first = Driver::get();
  auto second = Driver::get(); // the same answer, loaded once
  EXPECT_EQ(static_cast<bool>(first), static_cast<bool>(second));
  if (!first) {
    std::string why = llvm::toString(first.takeError());
    EXPECT_EQ(why.rfind("no CUDA device: ", 0), 0u) << why;
    llvm::consumeError(second.takeError());
    return;
  }
  EXPECT_EQ(*first, *second);
  EXPECT_GE((*first)->computeCapability(), 50);
  EXPECT_FALSE((*first)->deviceName().empty());
}

TEST(CudaDriver, CopyLoadLaunch) {
  Driver *driver = driverOrSkip();
  if (!driver)
    GTEST_SKIP() << "no CUDA device";
  const unsigned n = 1000; // not a multiple of the block size
  std::vector<float> x(n), y(n, -1.0f);
  for (unsigned i = 0; i < n; ++i)
    x[i] = 0.5f * float(i);
  auto dx = DeviceBuffer::create(*driver, n * sizeof(float));
  auto dy = DeviceBuffer::create(*driver, n * sizeof(float));
  ASSERT_TRUE(static_cast<bool>(dx)) << llvm::toString(dx.takeError());
  ASSERT_TRUE(static_cast<bool>(dy)) << llvm::toString(dy.takeError());
  ASSERT_FALSE(static_cast<bool>(
      driver->copyToDevice(dx->get(), x.data(), n * sizeof(float))));
  auto module = driver->loadModule(kAddOnePtx);
  ASSERT_TRUE(static_cast<bool>(module)) << llvm::toString(module.takeError());
  auto fn = driver->function(*module, "attn_test_add_one");
  ASSERT_TRUE(static_cast<bool>(fn)) << llvm::toString(fn.takeError());
  DevicePtr px = dx->get(), py = dy->get();
  unsigned count = n;
  void *params[] = {&px, &py, &count};
  ASSERT_FALSE(static_cast<bool>(
      driver->launch(*fn, {(n + 255) / 256, 1, 1}, {256, 1, 1}, 0, params)));
  ASSERT_FALSE(static_cast<bool>(driver->synchronize()));
  ASSERT_FALSE(static_cast<bool>(
      driver->copyToHost(y.data(), dy->get(), n * sizeof(float))));
  for (unsigned i = 0; i < n; ++i)
    ASSERT_EQ(y[i], x[i] + 1.0f) << "at " << i;
  ASSERT_FALSE(static_cast<bool>(driver->unloadModule(*module)));
}

TEST(CudaDriver, BadImageAndNameAreErrors) {
  Driver *driver = driverOrSkip();
  if (!driver)
    GTEST_SKIP() << "no CUDA device";
  auto bad = driver->loadModule("this is not PTX");
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("cuModuleLoadData failed"),
            std::string::npos);
  auto module = driver->loadModule(kAddOnePtx);
  ASSERT_TRUE(static_cast<bool>(module)) << llvm::toString(module.takeError());
  auto missing = driver->function(*module, "no_such_kernel");
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("cuModuleGetFunction"),
            std::string::npos);
  llvm::consumeError(driver->unloadModule(*module));
}

} // namespace
