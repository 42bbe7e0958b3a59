// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash)' | FileCheck %s
// RUN: attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash,func.func(attn-mask-aware-iteration,attn-vectorize-tiles{vector-width=16}))' | FileCheck %s --check-prefix=VEC
// RUN: attn-opt %s --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=LLVM

// The backward's per-score steps. score_mod (softcap written as a region,
// differentiated at compile time) runs per score right after S = K·Qᵀ in
// both kinds of items, writing the modified score back and its derivative
// into a slope tile that tile_softmax_grad multiplies into dS.

// CHECK-LABEL: func.func @score_mod
// CHECK: scf.forall
// K/V item (144 keys x 64 rows).
// CHECK: attn.tile_matmul %{{.*}}, %{{.*}} into %[[S:.*]] : memref<144x64xf32>, memref<64x64xf32> into memref<144x64xf32>
// CHECK: scf.for %[[M:.*]] = %{{.*}} to %c64
// CHECK: scf.for %[[N:.*]] = %{{.*}} to %c144
// CHECK: %[[RAW:.*]] = memref.load %[[S]][%[[N]], %[[M]]]
// The derivative (the pass's score_mod_grad), then the modified score.
// CHECK: %[[X:.*]] = arith.divf %[[RAW]], %[[CAP:.*]] : f32
// CHECK: math.tanh %[[X]]
// CHECK: arith.subf
// CHECK: %[[DMOD:.*]] = arith.mulf %[[CAP]], %{{.*}} : f32
// CHECK: %[[X1:.*]] = arith.divf %[[RAW]], %[[CAP1:.*]] : f32
// CHECK: %[[T1:.*]] = math.tanh %[[X1]]
// CHECK: %[[MOD:.*]] = arith.mulf %[[CAP1]], %[[T1]] : f32
// CHECK: memref.store %[[MOD]], %[[S]][%[[N]], %[[M]]]
// CHECK-NEXT: memref.store %[[DMOD]], %[[G:.*]][%[[N]], %[[M]]]
// CHECK: attn.tile_mask %[[S]]
// CHECK: attn.tile_softmax_grad %[[S]], %{{.*}}, %{{.*}}, %{{.*}} slope %[[G]] : {{.*}}, memref<144x64xf32>
// CHECK: } else {
// Query item (64 keys x 64 rows): the same steps on its own tiles.
// CHECK: attn.tile_matmul %{{.*}}, %{{.*}} into %[[QS:.*]] : memref<64x64xf32>, memref<64x64xf32> into memref<64x64xf32>
// CHECK: math.tanh
// CHECK: memref.store %{{.*}}, %[[QS]][%{{.*}}, %{{.*}}]
// CHECK-NEXT: memref.store %{{.*}}, %[[QG:.*]][%{{.*}}, %{{.*}}]
// CHECK: attn.tile_softmax_grad %[[QS]], %{{.*}}, %{{.*}}, %{{.*}} slope %[[QG]]

// The vector code multiplies dS by the slope and zeroes it where P is 0.
// VEC-LABEL: func.func @score_mod
// VEC: %[[P:.*]] = math.exp %{{.*}} : vector<16xf32>
// VEC: %[[DS:.*]] = arith.mulf %[[P]], %{{.*}} : vector<16xf32>
// VEC: %[[SL:.*]] = vector.load
// VEC: %[[DSG:.*]] = arith.mulf %[[DS]], %[[SL]] : vector<16xf32>
// VEC: %[[SEEN:.*]] = arith.cmpf une, %[[P]], %{{.*}} : vector<16xf32>
// VEC: arith.select %[[SEEN]], %[[DSG]], %{{.*}} : vector<16xi1>, vector<16xf32>

// LLVM-LABEL: llvm.func @score_mod
// LLVM-NOT: attn.
func.func @score_mod(%q: tensor<1x8x100x64xf32>, %k: tensor<1x2x130x64xf32>,
                     %v: tensor<1x2x130x64xf32>, %o: tensor<1x8x100x64xf32>,
                     %do: tensor<1x8x100x64xf32>, %lse: tensor<1x8x100xf32>)
    -> (tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 5.000000e+00 : f32
        %x = arith.divf %s, %c : f32
        %t = math.tanh %x : f32
        %r = arith.mulf %c, %t : f32
        attn.yield %r : f32
      } {mask = #attn.mask<causal = true, q_offset = 30>}
      : tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>,
        tensor<1x8x100x64xf32>, tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
      -> tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>
  return %dq, %dk, %dv : tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>
}

// A bias (no grad_bias: a constant of the loss), a bool mask, segment ids
// and a mask_mod: the bias is added to the scaled logit (slope 1, so no
// slope tile), the custom masks set -inf after tile_mask, as in the
// forward.

// CHECK-LABEL: func.func @operands
// CHECK: attn.tile_matmul %{{.*}}, %{{.*}} into %[[S2:.*]] : memref<144x64xf32>
// CHECK: %[[R2:.*]] = memref.load %[[S2]]
// CHECK: %[[B2:.*]] = memref.load %{{.*}} : memref<1x1x100x130xf32
// CHECK: %[[A2:.*]] = arith.addf %[[R2]], %[[B2]] : f32
// CHECK: memref.store %[[A2]], %[[S2]]
// CHECK: attn.tile_mask %[[S2]]
// CHECK: memref.load %{{.*}} : memref<1x1x100x130xi1
// CHECK: arith.cmpi eq
// CHECK: arith.cmpi sle
// CHECK: %[[KEEP:.*]] = arith.andi
// CHECK: %[[X2:.*]] = memref.load %[[S2]]
// CHECK: %[[SEL:.*]] = arith.select %[[KEEP]], %[[X2]], %{{.*}} : f32
// CHECK: memref.store %[[SEL]], %[[S2]]
// CHECK: attn.tile_softmax_grad %[[S2]], %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK-NOT: slope
// CHECK: } else {
func.func @operands(%q: tensor<1x8x100x64xf32>, %k: tensor<1x2x130x64xf32>,
                    %v: tensor<1x2x130x64xf32>, %o: tensor<1x8x100x64xf32>,
                    %do: tensor<1x8x100x64xf32>, %lse: tensor<1x8x100xf32>,
                    %bias: tensor<1x1x100x130xf32>, %m: tensor<1x1x100x130xi1>,
                    %qs: tensor<1x100xi32>, %ks: tensor<1x130xi32>)
    -> (tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      bool_mask(%m : tensor<1x1x100x130xi1>) bias(%bias : tensor<1x1x100x130xf32>)
      segment_ids(%qs, %ks : tensor<1x100xi32>, tensor<1x130xi32>)
      mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %t = arith.cmpi sle, %j, %i : index
        attn.yield %t : i1
      }
      : tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>,
        tensor<1x8x100x64xf32>, tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
      -> tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>
  return %dq, %dk, %dv : tensor<1x8x100x64xf32>, tensor<1x2x130x64xf32>, tensor<1x2x130x64xf32>
}
