// RUN: attn-opt %s --attn-to-cpu="vector-width=16" | FileCheck %s
// RUN: attn-opt %s --attn-to-cpu="vector-width=8 tile-kv=32" | FileCheck %s --check-prefix=AVX2

// The whole CPU pipeline reaches the LLVM dialect: FMAs on vectors, no
// libm exp, and the C-interface entry points the runtime calls.
// CHECK-NOT: attn.
// CHECK: llvm.func @attention({{.*}}, %{{.*}}: i64, %{{.*}}: i64)
// CHECK: llvm.intr.fmuladd{{.*}} : (vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-NOT: llvm.intr.exp
// CHECK: llvm.func @_mlir_ciface_attention(
// CHECK: llvm.func @attention_work_items() -> i64
// AVX2: llvm.intr.fmuladd{{.*}} : (vector<8xf32>, vector<8xf32>, vector<8xf32>)
func.func @attention(%q: memref<1x8x100x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
                     %k: memref<1x2x100x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
                     %v: memref<1x2x100x64xf32, strided<[?, ?, ?, 1], offset: ?>>,
                     %o: memref<1x8x100x64xf32, strided<[?, ?, ?, 1], offset: ?>>)
    attributes {llvm.emit_c_interface} {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x100x64xf32, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x8x100x64xf32>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x100x64xf32, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x64xf32>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x100x64xf32, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x64xf32>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>}
      : tensor<1x8x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x8x100x64xf32>
  bufferization.materialize_in_destination %r in restrict writable %o
      : (tensor<1x8x100x64xf32>, memref<1x8x100x64xf32, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}
