// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// The backward op round-trips in both forms: every operand and attribute of
// attn.attention, the forward's output and lse, dO, and the gradients.

// CHECK-LABEL: func @mha
// CHECK: %{{.*}}, %{{.*}}, %{{.*}} = attn.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128xf32> -> tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>
func.func @mha(%q: tensor<2x8x128x64xf32>, %k: tensor<2x8x128x64xf32>,
               %v: tensor<2x8x128x64xf32>, %o: tensor<2x8x128x64xf32>,
               %do: tensor<2x8x128x64xf32>, %lse: tensor<2x8x128xf32>)
    -> (tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>,
        tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128xf32>
      -> tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>
  return %dq, %dk, %dv : tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>
}

// CHECK-LABEL: func @gqa_bshd_dv_softcap
// CHECK: attn.attention_grad {{.*}} kv_lengths(%{{.*}} : tensor<1xi32>) {layout = #attn.layout<bshd>, mask = #attn.mask<causal = true, q_offset = 16, window_left = 31>, scale = 1.250000e-01 : f32, softcap = 3.000000e+01 : f32} : {{.*}} -> tensor<1x40x32x64xbf16>, tensor<1x56x8x64xbf16>, tensor<1x56x8x48xbf16>
func.func @gqa_bshd_dv_softcap(
    %q: tensor<1x40x32x64xbf16>, %k: tensor<1x56x8x64xbf16>,
    %v: tensor<1x56x8x48xbf16>, %o: tensor<1x40x32x48xbf16>,
    %do: tensor<1x40x32x48xbf16>, %lse: tensor<1x32x40xf32>,
    %len: tensor<1xi32>) -> tensor<1x56x8x64xbf16> {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      kv_lengths(%len : tensor<1xi32>)
      {layout = #attn.layout<bshd>,
       mask = #attn.mask<causal = true, q_offset = 16, window_left = 31>,
       scale = 0.125 : f32, softcap = 30.0 : f32}
      : tensor<1x40x32x64xbf16>, tensor<1x56x8x64xbf16>, tensor<1x56x8x48xbf16>,
        tensor<1x40x32x48xbf16>, tensor<1x40x32x48xbf16>, tensor<1x32x40xf32>
      -> tensor<1x40x32x64xbf16>, tensor<1x56x8x64xbf16>, tensor<1x56x8x48xbf16>
  return %dk : tensor<1x56x8x64xbf16>
}

// CHECK-LABEL: func @bias_grad_masks_regions
// CHECK: %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} = attn.attention_grad {{.*}} bool_mask(%{{.*}} : tensor<1x1x16x24xi1>) bias(%{{.*}} : tensor<1x4x1x24xf32>) segment_ids(%{{.*}}, %{{.*}} : tensor<1x16xi32>, tensor<1x24xi32>) score_mod {
// CHECK: mask_mod {
// CHECK: -> tensor<1x4x16x32xf16>, tensor<1x1x24x32xf16>, tensor<1x1x24x32xf16>, tensor<1x4x1x24xf32>
func.func @bias_grad_masks_regions(
    %q: tensor<1x4x16x32xf16>, %k: tensor<1x1x24x32xf16>,
    %v: tensor<1x1x24x32xf16>, %o: tensor<1x4x16x32xf16>,
    %do: tensor<1x4x16x32xf16>, %lse: tensor<1x4x16xf32>,
    %m: tensor<1x1x16x24xi1>, %bias: tensor<1x4x1x24xf32>,
    %qs: tensor<1x16xi32>, %ks: tensor<1x24xi32>) -> tensor<1x4x1x24xf32> {
  %dq, %dk, %dv, %db = attn.attention_grad %q, %k, %v, %o, %do, %lse
      bool_mask(%m : tensor<1x1x16x24xi1>) bias(%bias : tensor<1x4x1x24xf32>)
      segment_ids(%qs, %ks : tensor<1x16xi32>, tensor<1x24xi32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 2.0 : f32
        %r = arith.mulf %s, %c : f32
        attn.yield %r : f32
      } mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %t = arith.cmpi sle, %j, %i : index
        attn.yield %t : i1
      }
      : tensor<1x4x16x32xf16>, tensor<1x1x24x32xf16>, tensor<1x1x24x32xf16>,
        tensor<1x4x16x32xf16>, tensor<1x4x16x32xf16>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf16>, tensor<1x1x24x32xf16>, tensor<1x1x24x32xf16>,
         tensor<1x4x1x24xf32>
  return %db : tensor<1x4x1x24xf32>
}

// CHECK-LABEL: func @derivative_region
// CHECK: attn.attention_grad {{.*}} score_mod {
// CHECK: math.tanh
// CHECK: } score_mod_grad {
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: arith.mulf
// CHECK: attn.yield %{{.*}} : f32
func.func @derivative_region(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>,
                             %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>,
                             %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>)
    -> tensor<1x4x16x32xf32> {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        attn.yield %t : f32
      } score_mod_grad {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %one = arith.constant 1.0 : f32
        %t = math.tanh %s : f32
        %t2 = arith.mulf %t, %t : f32
        %d = arith.subf %one, %t2 : f32
        attn.yield %d : f32
      }
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>,
        tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return %dq : tensor<1x4x16x32xf32>
}

// CHECK-LABEL: func @dynamic_sizes
// CHECK: attn.attention_grad {{.*}} -> tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
func.func @dynamic_sizes(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                         %v: tensor<?x2x?x64xf32>, %o: tensor<?x8x?x64xf32>,
                         %do: tensor<?x8x?x64xf32>, %lse: tensor<?x8x?xf32>)
    -> tensor<?x8x?x64xf32> {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>,
        tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?xf32>
      -> tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
  return %dq : tensor<?x8x?x64xf32>
}

// The forward's dropout: rate and [seed, offset] state.
// CHECK-LABEL: func @dropout
// CHECK: attn.attention_grad {{.*}} dropout(%{{.*}} : tensor<2xi64>) {dropout_p = 1.000000e-01 : f64, mask = #attn.mask<causal = true>} :
func.func @dropout(%q: tensor<1x4x16x32xf32>, %k: tensor<1x2x24x32xf32>,
                   %v: tensor<1x2x24x32xf32>, %o: tensor<1x4x16x32xf32>,
                   %do: tensor<1x4x16x32xf32>, %lse: tensor<1x4x16xf32>,
                   %state: tensor<2xi64>) -> tensor<1x4x16x32xf32> {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      dropout(%state : tensor<2xi64>)
      {dropout_p = 0.1 : f64, mask = #attn.mask<causal = true>}
      : tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>,
        tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x2x24x32xf32>, tensor<1x2x24x32xf32>
  return %dq : tensor<1x4x16x32xf32>
}
