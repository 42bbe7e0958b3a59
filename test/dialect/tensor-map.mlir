// #attn.tensor_map: parse, verify, print back unchanged (AttnAttrs.td).
// RUN: attn-opt %s | FileCheck %s
// RUN: attn-opt %s | attn-opt | FileCheck %s

// CHECK-LABEL: func @key_map
func.func @key_map(%k: memref<1x2x128x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  // CHECK: memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128, 2, 1], strides = [128, 16384, 32768], box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128, 2, 1], strides = [128, 16384, 32768], box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
  return
}

// A box past the tensor's end and no swizzle are legal.
// CHECK-LABEL: func @rank1
func.func @rank1(%k: memref<64xf16>) {
  // CHECK: #attn.tensor_map<source = 0, dims = [64], strides = [], box = [256], swizzle = 0>
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64], strides = [], box = [256], swizzle = 0>} : memref<16xi64>
  return
}

// Run-time sizes: 0 entries (batch and Skv here) come from the source
// buffer at launch.
// CHECK-LABEL: func @run_time_map
func.func @run_time_map(%k: memref<?x2x?x64xbf16>) {
  // CHECK: #attn.tensor_map<source = 0, dims = [64, 0, 2, 0], strides = [128, 0, 0], box = [64, 64, 1, 1], swizzle = 128>
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 0, 2, 0], strides = [128, 0, 0], box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
  return
}
