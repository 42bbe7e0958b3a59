// attn-run --check on dropout kernels: the float64 reference regenerates
// the Philox stream from the (random) seed and offset of the call.

// RUN: attn-run 'gqa:b=2,hq=8,hkv=2,sq=65,skv=130,d=64,causal,lse,dropout=0.1' --check --seed=7 | FileCheck %s --check-prefix=SHORTHAND
// SHORTHAND: spec: gqa:b=2,hq=8,hkv=2,sq=65,skv=130,d=64,dtype=f32,layout=bhsd,causal,lse,dropout=0.1
// SHORTHAND: check: seed 7: {{.*}}: PASS (tolerance 2e-05, lse 2e-05)

// RUN: attn-run 'mha:b=1,h=4,sq=1,skv=2000,d=64,dtype=bf16,dropout=0.5' --check --static-sizes | FileCheck %s --check-prefix=DECODE
// DECODE: check: seed {{[0-9]+}}: {{.*}}: PASS (tolerance 0.016, lse 2e-05)

// The function below: the state operand from MLIR (signatureForOp).
// RUN: attn-run %s --check --threads=2 | FileCheck %s --check-prefix=FILE
// FILE: check: seed {{[0-9]+}}: {{.*}}: PASS (tolerance 0.002, lse 2e-05)

// The backward through dropout, checked against the float64 backward with
// the same Philox mask (odd lengths, GQA 4:1).
// RUN: attn-run 'gqa:hq=8,hkv=2,sq=37,skv=45,d=64,causal,dropout=0.3' --backward --check | FileCheck %s --check-prefix=BACKWARD
// BACKWARD: dropout=0.3 (backward)
// BACKWARD: check: seed {{[0-9]+}}: dq {{.*}}: PASS

func.func @dropped(%q: tensor<1x4x40x64xf16>, %k: tensor<1x2x70x64xf16>,
                   %v: tensor<1x2x70x64xf16>, %r: tensor<2xi64>)
    -> tensor<1x4x40x64xf16> {
  %o = attn.attention %q, %k, %v dropout(%r : tensor<2xi64>)
      {dropout_p = 0.3 : f64, mask = #attn.mask<causal = true, q_offset = 30>}
      : tensor<1x4x40x64xf16>, tensor<1x2x70x64xf16>, tensor<1x2x70x64xf16>
      -> tensor<1x4x40x64xf16>
  return %o : tensor<1x4x40x64xf16>
}
