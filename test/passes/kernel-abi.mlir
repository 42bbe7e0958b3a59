// RUN: attn-opt %s -split-input-file --attn-kernel-abi | FileCheck %s

// A plain tensor function: arguments become identity-layout buffers read
// through to_tensor, the result a trailing buffer it is materialized into.
// CHECK-LABEL: func.func @plain(
// CHECK-SAME: %[[Q:.*]]: memref<1x8x128x64xbf16>, %[[K:.*]]: memref<1x2x128x64xbf16>, %[[V:.*]]: memref<1x2x128x64xbf16>, %[[O:.*]]: memref<1x8x128x64xbf16>) {
// CHECK-DAG: %[[QT:.*]] = bufferization.to_tensor %[[Q]] restrict : memref<1x8x128x64xbf16> to tensor<1x8x128x64xbf16>
// CHECK-DAG: %[[KT:.*]] = bufferization.to_tensor %[[K]] restrict
// CHECK-DAG: %[[VT:.*]] = bufferization.to_tensor %[[V]] restrict
// CHECK: %[[R:.*]] = attn.attention %[[QT]], %[[KT]], %[[VT]] {mask = #attn.mask<causal = true>}
// CHECK: bufferization.materialize_in_destination %[[R]] in restrict writable %[[O]]
// CHECK-NEXT: return{{$}}
func.func @plain(%q: tensor<1x8x128x64xbf16>, %k: tensor<1x2x128x64xbf16>,
                 %v: tensor<1x2x128x64xbf16>) -> tensor<1x8x128x64xbf16> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>
      -> tensor<1x8x128x64xbf16>
  return %o : tensor<1x8x128x64xbf16>
}

// -----

// Two results (output, lse) become two trailing buffers in result order;
// dynamic dims stay dynamic (attn-gpu-flash is the one that needs static
// shapes); a non-tensor result stays a result; result attributes move to the
// new arguments; K and V read from one argument stay one buffer.
// CHECK-LABEL: func.func @lse(
// CHECK-SAME: %[[Q:.*]]: memref<?x4x16x64xf16>, %[[KV:.*]]: memref<?x4x32x64xf16>, %[[N:.*]]: index, %[[O:.*]]: memref<?x4x16x64xf16> {test.out}, %[[L:.*]]: memref<?x4x16xf32>) -> index {
// CHECK: %[[KVT:.*]] = bufferization.to_tensor %[[KV]] restrict
// CHECK: %[[R:.*]], %[[RL:.*]] = attn.attention %{{.*}}, %[[KVT]], %[[KVT]] :
// CHECK: bufferization.materialize_in_destination %[[R]] in restrict writable %[[O]]
// CHECK: bufferization.materialize_in_destination %[[RL]] in restrict writable %[[L]]
// CHECK-NEXT: return %[[N]] : index
func.func @lse(%q: tensor<?x4x16x64xf16>, %kv: tensor<?x4x32x64xf16>, %n: index)
    -> (tensor<?x4x16x64xf16> {test.out}, index, tensor<?x4x16xf32>) {
  %o, %lse = attn.attention %q, %kv, %kv
      : tensor<?x4x16x64xf16>, tensor<?x4x32x64xf16>, tensor<?x4x32x64xf16>
      -> tensor<?x4x16x64xf16>, tensor<?x4x16xf32>
  return %o, %n, %lse : tensor<?x4x16x64xf16>, index, tensor<?x4x16xf32>
}

// -----

// Two independent attentions in one function: each result gets its buffer
// (attn-gpu-flash then launches both).
// CHECK-LABEL: func.func @two(
// CHECK-SAME: %{{.*}}: memref<1x2x64x64xbf16>, %{{.*}}: memref<1x2x64x64xbf16>, %[[O1:.*]]: memref<1x2x64x64xbf16>, %[[O2:.*]]: memref<1x2x64x64xbf16>)
// CHECK: %[[A:.*]] = attn.attention
// CHECK: %[[B:.*]] = attn.attention
// CHECK: bufferization.materialize_in_destination %[[B]] in restrict writable %[[O1]]
// CHECK: bufferization.materialize_in_destination %[[A]] in restrict writable %[[O2]]
func.func @two(%x: tensor<1x2x64x64xbf16>, %y: tensor<1x2x64x64xbf16>)
    -> (tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>) {
  %a = attn.attention %x, %y, %y
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  %b = attn.attention %y, %x, %x
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  return %b, %a : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
}

// -----

// Already on the kernel ABI (the runtime's wrapper), on memrefs (cache ops)
// or holding no attn op: unchanged.
// CHECK-LABEL: func.func @wrapper(
// CHECK-SAME: %{{.*}}: memref<1x2x64x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %{{.*}}: memref<1x2x64x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %{{.*}}: memref<1x2x64x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %{{.*}}: memref<1x2x64x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
// CHECK-COUNT-3: bufferization.to_tensor
// CHECK-NOT: bufferization.to_tensor
// CHECK: attn.attention
// CHECK: bufferization.materialize_in_destination
// CHECK-LABEL: func.func @cache(
// CHECK-SAME: %{{.*}}: memref<2x4x1x64xbf16>
// CHECK-NOT: bufferization
// CHECK: attn.cache_attention
// CHECK-LABEL: func.func @helper(%{{.*}}: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT: return %{{.*}} : tensor<4xf32>
!buf = memref<1x2x64x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
func.func @wrapper(%q: !buf, %k: !buf, %v: !buf, %o: !buf) {
  %qt = bufferization.to_tensor %q restrict : !buf to tensor<1x2x64x64xbf16>
  %kt = bufferization.to_tensor %k restrict : !buf to tensor<1x2x64x64xbf16>
  %vt = bufferization.to_tensor %v restrict : !buf to tensor<1x2x64x64xbf16>
  %r = attn.attention %qt, %kt, %vt
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>
      -> tensor<1x2x64x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o
      : (tensor<1x2x64x64xbf16>, !buf) -> ()
  return
}
func.func @cache(%q: memref<2x4x1x64xbf16>, %kc: memref<2x4x256x64xbf16>,
                 %vc: memref<2x4x256x64xbf16>, %len: memref<2xi32>,
                 %out: memref<2x4x1x64xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%out)
      : memref<2x4x1x64xbf16>, memref<2x4x256x64xbf16>, memref<2x4x256x64xbf16>,
        memref<2xi32> -> memref<2x4x1x64xbf16>
  return
}
func.func @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
