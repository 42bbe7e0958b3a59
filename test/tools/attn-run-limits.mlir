// attn-run on the inputs of issue 14 (reliability): each is now a one-line
// error with its exit code, or a checked run; none crashes or passes
// silently wrong.

// Mask parameters past 32 bits: rejected (once wrong results, exit 0).
// RUN: bash -c "attn-run 'mha:b=1,h=1,sq=16,skv=40,d=16,causal,offset=2147483647' --check 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=OFFSET
// OFFSET: attn-run: error: invalid spec: mask offset + query length must be in [0, 2147483647], got 2147483663
// OFFSET-NEXT: exit=2
// RUN: bash -c "attn-run 'mha:b=1,h=1,sq=16,skv=40,d=16,dilation=4294967296' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=DILATION
// DILATION: attn-run: error: invalid spec: mask parameters must be at most 2147483647, got 4294967296
// DILATION-NEXT: exit=2
// RUN: bash -c "attn-run 'mha:b=1,h=1,s=16,d=16,window=5:5,offset=9223372036854775800' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=HUGEOFFSET
// HUGEOFFSET: attn-run: error: invalid spec: mask offset + query length must be in [0, 2147483647], got 9223372036854775807
// HUGEOFFSET-NEXT: exit=2

// Just inside the limits, the mask code is exact (i32 positions).
// RUN: attn-run 'mha:b=1,h=1,sq=16,skv=40,d=16,window=7:3,global=2,offset=2147483000' --check --seed=5 | FileCheck %s --check-prefix=EDGE
// EDGE: check: seed 5: {{.*}}: PASS

// Head dim and group size bound the compile time.
// RUN: bash -c "attn-run 'mha:h=1,s=16,d=16384' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=HEADDIM
// HEADDIM: attn-run: error: invalid spec: head dim must be in [1, 1024], got 16384
// HEADDIM-NEXT: exit=2
// RUN: bash -c "attn-run 'gqa:hq=4096,hkv=1,sq=1,skv=64,d=64' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=GROUP
// GROUP: attn-run: error: invalid spec: query heads per kv head must be in [0, 256], got 4096
// GROUP-NEXT: exit=2

// scale = FLT_MAX: rejected (once NaN output).
// RUN: bash -c "attn-run 'mha:h=1,s=16,d=16,scale=3.4028235e38' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=SCALE
// SCALE: attn-run: error: invalid spec: scale must be nonzero with magnitude at most 65536
// SCALE-NEXT: exit=2

// Switches take false/0 (once ragged=0 and lse=no switched them on).
// RUN: attn-run 'mha:h=1,s=16,d=16,ragged=0,lse=false' --seed=1 | FileCheck %s --check-prefix=SWITCHOFF
// SWITCHOFF: spec: gqa:b=1,hq=1,hkv=1,sq=16,skv=16,d=16,dtype=f32,layout=bhsd{{$}}
// RUN: bash -c "attn-run 'mha:h=1,s=16,d=16,lse=no' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=SWITCHBAD
// SWITCHBAD: attn-run: error: invalid spec: bad value 'no' for key 'lse': expected no value, true/false or 1/0
// SWITCHBAD-NEXT: exit=2

// Vector widths past the 16-element tile padding (once NaN, exit 0).
// RUN: bash -c "attn-run 'mha:h=2,s=100,d=16' --vector-width=32 --check 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=WIDTH
// WIDTH: attn-run: error: lowering failed: {{.*}}vector-width must be 4, 8 or 16 (0: the host's), got 32
// WIDTH-NEXT: exit=1
// RUN: attn-run 'gqa:hq=8,hkv=2,sq=37,skv=100,d=24,causal' --vector-width=4 --check --seed=2 | FileCheck %s --check-prefix=WIDTH4
// WIDTH4: check: seed 2: {{.*}}: PASS

// Unknown and 32-bit CPUs (once "LLVM ERROR", the process gone).
// RUN: bash -c "attn-run 'mha:h=2,s=16,d=16' --cpu=nonexistent 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=CPU
// CPU: attn-run: error: unknown CPU 'nonexistent' for {{.*}} (LLVM CPU names, e.g. x86-64-v3, skylake-avx512)
// CPU-NEXT: exit=1
// RUN: bash -c "attn-run 'mha:h=2,s=16,d=16' --cpu=i386 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=CPU32
// CPU32: attn-run: error: CPU 'i386' cannot run 64-bit code, which the host JIT emits
// CPU32-NEXT: exit=1
// RUN: attn-run 'mha:h=2,s=16,d=16' --cpu=native --check --seed=3 | FileCheck %s --check-prefix=NATIVE
// NATIVE: check: seed 3: {{.*}}: PASS

// Zero sizes: empty outputs and rows that see nothing, checked.
// RUN: attn-run 'mha:b=0,h=2,s=16,d=16' --check --seed=4 | FileCheck %s --check-prefix=EMPTY
// RUN: attn-run %s --check --seed=4 | FileCheck %s --check-prefix=EMPTY
// EMPTY: ), 0 work items
// EMPTY: check: seed 4: {{.*}}: PASS
// RUN: attn-run 'gqa:b=2,hq=4,hkv=2,sq=5,skv=0,d=16,lse' --check --seed=4 | FileCheck %s --check-prefix=NOKEYS
// NOKEYS: check: seed 4: {{.*}}: PASS

// The memory guard counts the buffers once each, plus the reference with
// --check.
// RUN: bash -c "attn-run 'mha:b=500000000,h=16,s=4,d=16' --check 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=MEMORY
// MEMORY: attn-run: error: the spec's buffers and the float64 reference need {{[0-9]+}} MiB, more than this machine can hold
// MEMORY-NEXT: exit=2

func.func @no_heads(%q: tensor<1x0x8x16xf32>, %k: tensor<1x1x16x16xf32>,
                    %v: tensor<1x1x16x16xf32>) -> tensor<1x0x8x16xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x0x8x16xf32>, tensor<1x1x16x16xf32>,
      tensor<1x1x16x16xf32> -> tensor<1x0x8x16xf32>
  return %o : tensor<1x0x8x16xf32>
}
