//===- GpuTestMain.cpp - attn-gpu-tests: GPU tests, or the GPU bench ------===//
//
// One statically linked binary is carried to the GPU machine (its size is
// what the carry limit bounds), so the GPU benchmark lives in it too:
//
//   attn-gpu-tests [gtest flags]      the GPU GoogleTests
//   attn-gpu-tests --bench [options]  attn-bench-gpu (bench/GpuBench.h)
//   attn-gpu-tests --serving [options]  attn-bench-serving
//                                       (bench/ServingBench.h)
//
//===----------------------------------------------------------------------===//
#include "bench/GpuBench.h"
#include "bench/ServingBench.h"

#include "gtest/gtest.h"

#include <cstring>

int main(int argc, char **argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0)
    return attn::bench::gpuBenchMain(argc - 1, argv + 1);
  if (argc > 1 && std::strcmp(argv[1], "--serving") == 0)
    return attn::bench::servingBenchMain(argc - 1, argv + 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
