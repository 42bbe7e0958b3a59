// attn-run compiles a spec (shorthand or this file), runs it, checks it
// against the float64 reference and times it.

// RUN: attn-run 'gqa:b=2,hq=8,hkv=2,sq=65,skv=130,d=64,causal,offset=65,lse' --check --seed=7 | FileCheck %s --check-prefix=SHORTHAND
// SHORTHAND: spec: gqa:b=2,hq=8,hkv=2,sq=65,skv=130,d=64,dtype=f32,layout=bhsd,causal,offset=65,lse
// SHORTHAND: compile: {{[0-9.]+}} ms (build {{[0-9.]+}}, lower {{[0-9.]+}}, jit {{[0-9.]+}}), {{[0-9]+}} work items, {{[0-9]+}} threads
// SHORTHAND: check: seed 7: max abs err {{.*}}, max rel err {{.*}}, lse err {{.*}}: PASS (tolerance 2e-05, lse 2e-05)

// The same, specialised to its sizes (the default kernel takes them at run
// time).
// RUN: attn-run 'gqa:b=2,hq=8,hkv=2,sq=65,skv=130,d=64,causal,offset=65,lse' --check --seed=7 --static-sizes | FileCheck %s --check-prefix=STATIC
// STATIC: check: seed 7: {{.*}}: PASS (tolerance 2e-05, lse 2e-05)

// The function below, with a bias operand passed through as a buffer.
// RUN: attn-run %s --check --threads=2 | FileCheck %s --check-prefix=FILE
// FILE: spec: {{.*}}attn-run.mlir
// FILE: check: seed {{[0-9]+}}: {{.*}}: PASS (tolerance 0.016, lse 2e-05)

// RUN: attn-run 'mqa:b=1,h=4,s=128,d=64,dtype=f16,causal' --bench --runs=3 --warmup=1 --json --seed=3 | FileCheck %s --check-prefix=JSON
// JSON: {
// JSON-DAG: "spec": "gqa:b=1,hq=4,hkv=1,sq=128,skv=128,d=64,dtype=f16,layout=bhsd,causal"
// JSON-DAG: "target": "cpu"
// JSON-DAG: "seed": 3
// JSON-DAG: "compile_ms":
// JSON-DAG: "work_items":
// JSON-DAG: "bench": {
// JSON-DAG: "gflops":
// JSON-DAG: "gbytes_per_s":
// JSON-DAG: "time_ms":

// RUN: attn-run 'mha:b=1,h=2,s=64,d=64,dtype=bf16,layout=bshd,window=8:8,ragged,lse' --check --bench --runs=2 | FileCheck %s --check-prefix=BOTH
// BOTH: check: seed {{[0-9]+}}: {{.*}}: PASS
// BOTH: bench: {{[0-9.]+}} ms (median of 2), {{[0-9.]+}} GFLOP/s, {{[0-9.]+}} GB/s (q+k+v+out), compile {{[0-9.]+}} ms

func.func @biased(%q: tensor<1x4x40x64xbf16>, %k: tensor<1x2x70x64xbf16>,
                  %v: tensor<1x2x70x64xbf16>, %bias: tensor<1x1x40x70xbf16>)
    -> tensor<1x4x40x64xbf16> {
  %o = attn.attention %q, %k, %v bias(%bias : tensor<1x1x40x70xbf16>)
      {mask = #attn.mask<causal = true, q_offset = 30>}
      : tensor<1x4x40x64xbf16>, tensor<1x2x70x64xbf16>, tensor<1x2x70x64xbf16>
      -> tensor<1x4x40x64xbf16>
  return %o : tensor<1x4x40x64xbf16>
}
