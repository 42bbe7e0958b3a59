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
// JSON lines (bench/benchschema.py, read by bench/plot.py): the machine, the
// two ceilings, then attn with its shape.
// JSON: {"blas":"OpenBLAS core {{.*}}","case":"device","device":"{{.*}}, 1 thread","fma_isa":"{{.*}}","impl":"attn","threads":1}
// JSON-NEXT: {"case":"ceiling_peak_fma","gflops":{{[0-9.e+]+}},"impl":"ceiling","kind":"ceiling",
// JSON-NEXT: {"case":"ceiling_sgemm_2048","gflops":{{[0-9.e+]+}},"impl":"ceiling","kind":"ceiling",
// JSON-NEXT: {"case":"mha:b=1,hq=2,s=64,d=64",{{.*}}"flops":2097152,{{.*}}"impl":"attn","kind":"prefill",{{.*}}"of_peak":{{.*}}"of_sgemm":{{.*}}"shape":{"b":1,"causal":false,"d":64,"dtype":"f32","dv":64,"hkv":2,"hq":2,"q_offset":0,"skv":64,"sq":64,"window_left":-1,"window_right":-1}
// JSON-NOT: gemm-softmax-gemm
//
// RUN: attn-bench-cpu-decode --bench-threads=1 --quick --layout=nhd --dtype=f32 | FileCheck %s --check-prefix=DECODE
// DECODE: read-only stream 256 MiB: {{[0-9.]+}} GB/s; memcpy 256 MiB: {{[0-9.]+}} GB/s
// DECODE: layout dtype batch kv ms GB/s read /read copy /copy
// DECODE: nhd f32 1 256
//
// RUN: attn-bench-cpu-decode --bench-threads=1 --quick --layout=nhd --dtype=f32 --json 2>%t.progress | FileCheck %s --check-prefix=DJSON
// RUN: FileCheck %s --check-prefix=PROGRESS < %t.progress
// DJSON: {"case":"device",
// DJSON-NEXT: {"case":"ceiling_read_stream","gbps":
// DJSON-NEXT: {"case":"ceiling_memcpy","gbps":
// DJSON-NEXT: {"bytes":{{.*}}"case":"decode_nhd_f32_b1_kv256",{{.*}}"impl":"attn","kind":"decode",{{.*}}"shape":{"b":1,"causal":true,"d":128,"dtype":"f32","dv":128,"hkv":8,"hq":32,"q_offset":255,"skv":256,"sq":1,
// DJSON-NEXT: {"case":"decode_nhd_f32_b1_kv256","gbps":{{.*}},"impl":"read-stream"}
// DJSON-NEXT: {"case":"decode_nhd_f32_b1_kv256","gbps":{{.*}},"impl":"memcpy"}
// PROGRESS: [1/2] decode nhd f32 b=1 kv=256 (elapsed {{[0-9.]+}} s)
// PROGRESS-NEXT: [2/2] decode nhd f32 b=4 kv=512 (elapsed {{[0-9.]+}} s)
