//===- GpuRuntimeErrorsTest.cpp - buffer errors of the CUDA backend ------===//
//
// Buffers a CUDA kernel refuses, each an error naming the buffer: those
// checked before the device is touched run everywhere, the others skip
// without a device (binary attn-gpu-tests, GpuRuntimeTest.cpp says more).
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtils.h"
#include "SpecTestUtils.h"

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

ElementType f16 = ElementType::F16, bf16 = ElementType::BF16;

//===----------------------------------------------------------------------===//
// Buffer errors (those checked before the device is touched run in CI)
//===----------------------------------------------------------------------===//

class GpuErrors : public ::testing::Test {
protected:
  void SetUp() override {
    auto k = compileNaive(spec);
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    kernel = *k;
    buffers = std::make_unique<HostBuffers>(kernel->signature(), FillOptions{});
    args = buffers->args();
  }
  AttentionSpec spec = makeSpec(1, 2, 2, 5, 9, 64, f16);
  KernelRef kernel;
  std::unique_ptr<HostBuffers> buffers;
  AttentionArgs args;
};

TEST_F(GpuErrors, NonDenseBuffer) {
  std::vector<uint16_t> padded(2 * 9 * 72);
  args.key = BufferRef::contiguous(padded.data(), DType::F16, {1, 2, 9, 64});
  args.key.strides = {2 * 9 * 72, 9 * 72, 72, 1};
  EXPECT_EQ(errorOf(kernel->run(args)),
            "key: strides [1296, 648, 72, 1] are not dense row-major "
            "[1152, 576, 64, 1]; CUDA kernels need dense row-major buffers");
}

TEST_F(GpuErrors, ShapeMismatchNamesTheBuffer) {
  args.value.shape = {1, 2, 8, 64};
  EXPECT_NE(errorOf(kernel->run(args)).find("value: shape [1, 2, 8, 64]"),
            std::string::npos);
}

TEST_F(GpuErrors, DeviceBufferOnACpuKernel) {
  auto cpu = sharedRuntime().compile(spec, Target::Cpu);
  ASSERT_TRUE(static_cast<bool>(cpu)) << llvm::toString(cpu.takeError());
  AttentionArgs a = args;
  a.query = BufferRef::device(0x1000, DType::F16, spec.queryShape());
  EXPECT_EQ(errorOf((*cpu)->run(a)),
            "query: device memory, but the kernel runs on the CPU");
  EXPECT_NE(errorOf((*cpu)->enqueue(args)).find("a CPU kernel runs"),
            std::string::npos);
}

TEST_F(GpuErrors, HostPointerMarkedAsDevice) {
  SKIP_WITHOUT_DEVICE();
  args.query = BufferRef::device(reinterpret_cast<uintptr_t>(args.query.data),
                                 DType::F16, spec.queryShape());
  std::string e = errorOf(kernel->run(args));
  EXPECT_NE(e.find("query: 0x"), std::string::npos) << e;
  EXPECT_NE(e.find("is not CUDA device memory"), std::string::npos) << e;
}

TEST_F(GpuErrors, EnqueueTakesDeviceBuffersOnly) {
  SKIP_WITHOUT_DEVICE();
  std::string e = errorOf(kernel->enqueue(args));
  EXPECT_NE(e.find("query: host memory; a queued CUDA call takes device "
                   "buffers only"),
            std::string::npos)
      << e;
}

TEST_F(GpuErrors, DeviceAllocationTooSmall) {
  DEVICE_OR_SKIP(driver);
  auto small = cuda::DeviceBuffer::create(*driver, 100);
  ASSERT_TRUE(static_cast<bool>(small));
  args.key = BufferRef::device(small->get(), DType::F16, spec.keyShape());
  std::string e = errorOf(kernel->run(args));
  EXPECT_NE(e.find("key: needs 2304 bytes from 0x"), std::string::npos) << e;
}

TEST_F(GpuErrors, MisalignedDeviceBuffer) {
  DEVICE_OR_SKIP(driver);
  auto buf = cuda::DeviceBuffer::create(*driver, 8192);
  ASSERT_TRUE(static_cast<bool>(buf));
  args.value = BufferRef::device(buf->get() + 2, DType::F16, spec.valueShape());
  std::string e = errorOf(kernel->run(args));
  EXPECT_NE(e.find("value: 0x"), std::string::npos) << e;
  EXPECT_NE(e.find(" is not 16-byte aligned"), std::string::npos) << e;
}

TEST(GpuErrorsRagged, DeviceKvLengthsOutOfRange) {
  DEVICE_OR_SKIP(driver);
  AttentionSpec spec = makeSpec(2, 4, 1, 1, 100, 64, bf16);
  spec.withKvLengths = true;
  auto kernel = sharedRuntime().compile(spec, Target::Cuda);
  if (!kernel) {
    std::string e = llvm::toString(kernel.takeError());
    if (e.find(kPassMissing) != std::string::npos)
      GTEST_SKIP() << "attn-gpu-flash is not built yet";
    FAIL() << e;
  }
  HostBuffers host((*kernel)->signature(), {});
  auto lengths = cuda::DeviceBuffer::create(*driver, 8);
  ASSERT_TRUE(static_cast<bool>(lengths));
  int32_t bad[2] = {3, 101};
  ASSERT_TRUE(ok(driver->copyToDevice(lengths->get(), bad, 8)));
  AttentionArgs args = host.args();
  args.kvLengths = BufferRef::device(lengths->get(), DType::I32, {2});
  EXPECT_EQ(errorOf((*kernel)->run(args)),
            "kv_lengths: value 101 at batch 1 is outside [0, Skv = 100]");
}

} // namespace
