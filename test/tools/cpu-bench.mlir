// The CPU benchmarks print both prefill ceilings and the decode streams.
// A caller's OPENBLAS_CORETYPE that asks for kernels older than the CPU's
// vector ISA is overridden (the benchmark re-executes itself), so the sgemm
// ceiling never runs below the CPU's ISA: no WARNING line.
// REQUIRES: attn-bench-cpu-prefill
// RUN: env OPENBLAS_CORETYPE=Prescott attn-bench-cpu-prefill --bench-threads=1 --bench-reps=1 --shape=mha:b=1,hq=2,s=64,d=64,causal | FileCheck %s
// CHECK: threads 1; OpenBLAS core {{[A-Za-z]+}} ({{SSE|AVX|AVX2|AVX-512}})
// CHECK-NOT: WARNING
// CHECK: ceilings: OpenBLAS sgemm 2048^3 {{[0-9.]+}} GFLOP/s; peak FMA ({{SSE|AVX|AVX2|AVX-512}}, registers only) {{[0-9.]+}} GFLOP/s
// CHECK: shape attn ms GFLOP/s /sgemm /peak
// CHECK: mha:b=1,hq=2,s=64,d=64,causal
//
// RUN: attn-bench-cpu-prefill --bench-threads=1 --bench-reps=1 --baseline=false --json --shape=mha:b=1,hq=2,s=64,d=64 | FileCheck %s --check-prefix=JSON
// JSON-DAG: "fma_peak_gflops":
// JSON-DAG: "sgemm_gflops":
// JSON-DAG: "of_peak":
// JSON-DAG: "of_sgemm":
//
// RUN: attn-bench-cpu-decode --bench-threads=1 --quick --layout=nhd --dtype=f32 | FileCheck %s --check-prefix=DECODE
// DECODE: read-only stream 256 MiB: {{[0-9.]+}} GB/s; memcpy 256 MiB: {{[0-9.]+}} GB/s
// DECODE: layout dtype batch kv ms GB/s read /read copy /copy
// DECODE: nhd f32 1 256
