// RUN: attn-opt %s --attn-to-cpu="vector-width=16 amx=true" | FileCheck %s
// RUN: attn-opt %s --attn-to-cpu="vector-width=16" | FileCheck %s --check-prefix=FMA

// bf16 prefill through the whole CPU pipeline with amx=true: the tile
// products reach LLVM as AMX intrinsics (the JIT's target machine must
// have amx-tile/amx-bf16; the runtime checks before it sets the option).
// Q·Kᵀ: 2 × 2 C tiles × 2 reduction steps (D 40 = 32 + 8); P·V: 2 × 1
// C tiles (Dv 48) × 2 steps of 32 keys.
// CHECK-COUNT-4: llvm.call_intrinsic "llvm.x86.tilezero.internal"
// CHECK-COUNT-8: llvm.call_intrinsic "llvm.x86.tdpbf16ps.internal"
// CHECK-COUNT-4: llvm.call_intrinsic "llvm.x86.tilestored64.internal"
// CHECK: llvm.call_intrinsic "llvm.x86.tileloadd64.internal"
// CHECK-COUNT-4: llvm.call_intrinsic "llvm.x86.tdpbf16ps.internal"
// CHECK-COUNT-2: llvm.call_intrinsic "llvm.x86.tilestored64.internal"
// CHECK-NOT: llvm.x86.t
// CHECK: llvm.func @_mlir_ciface_attention(
// The default (amx off) has no AMX intrinsic.
// FMA-NOT: llvm.x86.t
// FMA: llvm.intr.fmuladd{{.*}} : (vector<16xf32>, vector<16xf32>, vector<16xf32>)
// FMA-NOT: llvm.x86.t
func.func @attention(%q: memref<1x8x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>>,
                     %k: memref<1x2x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>>,
                     %v: memref<1x2x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>>,
                     %o: memref<1x8x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>>)
    attributes {llvm.emit_c_interface} {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x8x100x40xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x40xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x40xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>}
      : tensor<1x8x100x40xbf16>, tensor<1x2x100x40xbf16>, tensor<1x2x100x40xbf16> -> tensor<1x8x100x40xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o
      : (tensor<1x8x100x40xbf16>, memref<1x8x100x40xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}
