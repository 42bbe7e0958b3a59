// REQUIRES: ptxas
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90})' | %python %attn_src/scripts/extract-ptx.py > %t.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --implicit-check-not=warning
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-to-nvvm{chip=sm_90a})' | %python %attn_src/scripts/extract-ptx.py > %t90a.ptx
// RUN: %cuda_toolkit/bin/ptxas -arch=sm_90a -v %t90a.ptx -o %t90a.cubin 2>&1 | FileCheck %s --check-prefix=WGMMA --implicit-check-not=warning

// ptxas on the kernels of the new head dims (mma.sync, sm_90): none spills.
// The tile choice (Geometry.cpp) comes from these reports: with 64-key
// tiles the causal prefill spills 8-108 bytes from d = 88 to 248 (32-key
// tiles: none), and decode with 4 key warps spills up to 56 bytes from
// d = 136 with 128-key tiles (64: none). ptxas lists the kernels last
// defined first.
// sm_90a: d = 192 and 256 prefill run wgmma (two warpgroups, 64-key
// tiles): no spills, and no "wgmma serialized" warning.
// WGMMA-LABEL: Function properties for d256_flash
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// WGMMA-LABEL: Function properties for d192_flash
// WGMMA-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for dec256_combine
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for dec256_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for dec192_combine
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for dec192_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for dv128_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for d59_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for d256_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for d192_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for d104_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for d72_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-LABEL: Function properties for d40_flash
// CHECK-NEXT: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @d40(%q: memref<1x8x200x40xbf16>, %k: memref<1x2x200x40xbf16>, %v: memref<1x2x200x40xbf16>, %o: memref<1x8x200x40xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x200x40xbf16> to tensor<1x8x200x40xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x200x40xbf16> to tensor<1x2x200x40xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x200x40xbf16> to tensor<1x2x200x40xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x8x200x40xbf16>, tensor<1x2x200x40xbf16>, tensor<1x2x200x40xbf16> -> tensor<1x8x200x40xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x200x40xbf16>, memref<1x8x200x40xbf16>) -> ()
  return
}

func.func @d72(%q: memref<1x4x130x72xf16>, %k: memref<1x4x130x72xf16>, %v: memref<1x4x130x72xf16>, %o: memref<1x4x130x72xf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x130x72xf16> to tensor<1x4x130x72xf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x4x130x72xf16> to tensor<1x4x130x72xf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x4x130x72xf16> to tensor<1x4x130x72xf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x4x130x72xf16>, tensor<1x4x130x72xf16>, tensor<1x4x130x72xf16> -> tensor<1x4x130x72xf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x130x72xf16>, memref<1x4x130x72xf16>) -> ()
  return
}

func.func @d104(%q: memref<1x8x300x104xbf16>, %k: memref<1x2x300x104xbf16>, %v: memref<1x2x300x104xbf16>, %o: memref<1x8x300x104xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x300x104xbf16> to tensor<1x8x300x104xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x300x104xbf16> to tensor<1x2x300x104xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x300x104xbf16> to tensor<1x2x300x104xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x8x300x104xbf16>, tensor<1x2x300x104xbf16>, tensor<1x2x300x104xbf16> -> tensor<1x8x300x104xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x300x104xbf16>, memref<1x8x300x104xbf16>) -> ()
  return
}

func.func @d192(%q: memref<1x16x300x192xbf16>, %k: memref<1x8x300x192xbf16>, %v: memref<1x8x300x192xbf16>, %o: memref<1x16x300x192xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x300x192xbf16> to tensor<1x16x300x192xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x8x300x192xbf16> to tensor<1x8x300x192xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x8x300x192xbf16> to tensor<1x8x300x192xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x300x192xbf16>, tensor<1x8x300x192xbf16>, tensor<1x8x300x192xbf16> -> tensor<1x16x300x192xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x300x192xbf16>, memref<1x16x300x192xbf16>) -> ()
  return
}

func.func @d256(%q: memref<1x16x300x256xbf16>, %k: memref<1x8x300x256xbf16>, %v: memref<1x8x300x256xbf16>, %o: memref<1x16x300x256xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x300x256xbf16> to tensor<1x16x300x256xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x8x300x256xbf16> to tensor<1x8x300x256xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x8x300x256xbf16> to tensor<1x8x300x256xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x300x256xbf16>, tensor<1x8x300x256xbf16>, tensor<1x8x300x256xbf16> -> tensor<1x16x300x256xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x300x256xbf16>, memref<1x16x300x256xbf16>) -> ()
  return
}

func.func @d59(%q: memref<1x4x100x59xbf16>, %k: memref<1x1x100x59xbf16>, %v: memref<1x1x100x59xbf16>, %o: memref<1x4x100x59xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x100x59xbf16> to tensor<1x4x100x59xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x1x100x59xbf16> to tensor<1x1x100x59xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x1x100x59xbf16> to tensor<1x1x100x59xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x4x100x59xbf16>, tensor<1x1x100x59xbf16>, tensor<1x1x100x59xbf16> -> tensor<1x4x100x59xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x100x59xbf16>, memref<1x4x100x59xbf16>) -> ()
  return
}

func.func @dv128(%q: memref<1x16x200x192xbf16>, %k: memref<1x16x200x192xbf16>, %v: memref<1x16x200x128xbf16>, %o: memref<1x16x200x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x200x192xbf16> to tensor<1x16x200x192xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x16x200x192xbf16> to tensor<1x16x200x192xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x16x200x128xbf16> to tensor<1x16x200x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x200x192xbf16>, tensor<1x16x200x192xbf16>, tensor<1x16x200x128xbf16> -> tensor<1x16x200x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x200x128xbf16>, memref<1x16x200x128xbf16>) -> ()
  return
}

func.func @dec192(%q: memref<2x32x1x192xbf16>, %k: memref<2x8x3000x192xbf16>, %v: memref<2x8x3000x192xbf16>, %o: memref<2x32x1x192xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x1x192xbf16> to tensor<2x32x1x192xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x3000x192xbf16> to tensor<2x8x3000x192xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x3000x192xbf16> to tensor<2x8x3000x192xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<2x32x1x192xbf16>, tensor<2x8x3000x192xbf16>, tensor<2x8x3000x192xbf16> -> tensor<2x32x1x192xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x1x192xbf16>, memref<2x32x1x192xbf16>) -> ()
  return
}

func.func @dec256(%q: memref<2x32x1x256xbf16>, %k: memref<2x8x3000x256xbf16>, %v: memref<2x8x3000x256xbf16>, %o: memref<2x32x1x256xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x1x256xbf16> to tensor<2x32x1x256xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x3000x256xbf16> to tensor<2x8x3000x256xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x3000x256xbf16> to tensor<2x8x3000x256xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<2x32x1x256xbf16>, tensor<2x8x3000x256xbf16>, tensor<2x8x3000x256xbf16> -> tensor<2x32x1x256xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x1x256xbf16>, memref<2x32x1x256xbf16>) -> ()
  return
}
