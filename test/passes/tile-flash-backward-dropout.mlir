// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash)' | FileCheck %s
// RUN: attn-opt %s --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=LLVM

// The backward of a forward with dropout regenerates the forward's keep
// mask Z with attn.tile_dropout (the forward's Philox words: query head
// hkv * group + column / 16, query q0 + column mod 16, key j0 + row):
// dP = Z (V · dOᵀ) before the softmax gradient in both kinds of items, and
// P Z for dV in the K/V item only (the dQ pass needs dS alone).

// CHECK-LABEL: func.func @grad_dropout
// CHECK: scf.if
// K/V item.
// CHECK: scf.for
// CHECK: attn.tile_matmul %{{.*}} into %[[S:.*]] :
// CHECK-NEXT: attn.tile_mask %[[S]]
// CHECK-NEXT: attn.tile_matmul %{{.*}} into %[[DP:.*]] :
// CHECK: %[[SEED:.*]] = memref.load %[[STATE:.*]][%c0
// CHECK: %[[OFF:.*]] = memref.load %[[STATE]][%c1
// CHECK: attn.tile_dropout %[[DP]] seed(%[[SEED]], %[[OFF]]) at({{.*}}) {num_heads = 8 : i64, p = 2.500000e-01 : f64, rows_per_head = 16 : i64}
// CHECK-NEXT: attn.tile_softmax_grad %[[S]], %[[DP]],
// CHECK: attn.tile_dropout %[[S]] seed
// CHECK-NEXT: attn.tile_matmul %[[S]], %{{.*}} into %{{.*}} {accumulate}
// CHECK: } {attn.q_tile_loop
// CHECK: } else {
// Query item: only dP.
// CHECK: scf.for
// CHECK: attn.tile_dropout %[[QDP:.*]] seed
// CHECK-NEXT: attn.tile_softmax_grad %{{.*}}, %[[QDP]],
// CHECK-NOT: attn.tile_dropout
// CHECK: } {attn.kv_tile_loop

// LLVM: llvm.func @grad_dropout
// LLVM-NOT: attn.
func.func @grad_dropout(%q: tensor<1x8x37x64xf32>, %k: tensor<1x2x45x64xf32>,
                        %v: tensor<1x2x45x64xf32>, %o: tensor<1x8x37x64xf32>,
                        %do: tensor<1x8x37x64xf32>, %lse: tensor<1x8x37xf32>,
                        %state: tensor<2xi64>)
    -> (tensor<1x8x37x64xf32>, tensor<1x2x45x64xf32>, tensor<1x2x45x64xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      dropout(%state : tensor<2xi64>)
      {mask = #attn.mask<causal = true, q_offset = 8>, dropout_p = 0.25 : f64}
      : tensor<1x8x37x64xf32>, tensor<1x2x45x64xf32>, tensor<1x2x45x64xf32>,
        tensor<1x8x37x64xf32>, tensor<1x8x37x64xf32>, tensor<1x8x37xf32>
      -> tensor<1x8x37x64xf32>, tensor<1x2x45x64xf32>, tensor<1x2x45x64xf32>
  return %dq, %dk, %dv : tensor<1x8x37x64xf32>, tensor<1x2x45x64xf32>, tensor<1x2x45x64xf32>
}

// dropout_p = 0 is the kernel without dropout: no mask is generated.
// CHECK-LABEL: func.func @grad_dropout_zero
// CHECK-NOT: attn.tile_dropout
// CHECK: return
func.func @grad_dropout_zero(%q: tensor<1x2x17x64xf32>, %k: tensor<1x2x17x64xf32>,
                             %v: tensor<1x2x17x64xf32>, %o: tensor<1x2x17x64xf32>,
                             %do: tensor<1x2x17x64xf32>, %lse: tensor<1x2x17xf32>,
                             %state: tensor<2xi64>)
    -> (tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      dropout(%state : tensor<2xi64>) {dropout_p = 0.0 : f64}
      : tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>,
        tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>, tensor<1x2x17xf32>
      -> tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>
  return %dq, %dk, %dv : tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>, tensor<1x2x17x64xf32>
}
