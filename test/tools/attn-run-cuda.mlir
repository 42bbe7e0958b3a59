// attn-run --target=cuda compiles without a GPU: the PTX comes out of the
// attn-to-nvvm pipeline here; running needs a device (elsewhere the error
// is "no CUDA device: ...", exit 1).

// RUN: bash -c "attn-run 'gqa:b=1,hq=8,hkv=2,s=100,d=128,dtype=bf16,causal' --target=cuda --dump-binary=%t.ptx 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: bash -c "attn-run 'gqa:b=1,hq=8,hkv=2,s=100,d=128,dtype=bf16' --target=cuda --dump-binary=%t.dir/none/x.ptx 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=BADFILE

// OUT-NOT: lowering failed
// OUT: compile: {{.*}} grid ({{[0-9]+}}, {{[0-9]+}}, {{[0-9]+}}) block
// OUT: exit={{[01]}}

// PTX: .target sm_90
// PTX: .entry
// PTX: mma.sync.aligned.m16n8k16
// PTX-NOT: .extern .func

// BADFILE: attn-run: error: cannot write '{{.*}}x.ptx'
// BADFILE-NEXT: exit=2
