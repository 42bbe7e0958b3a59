// attn-run turns every bad input into a one-line error and an exit code:
// 2 for a bad command line or spec (naming the bad key or option), 1 for
// compile or run failures. Never a crash.

// RUN: bash -c "attn-run 'gqa:b=1,hq=32,hkv=8,s=1024,d=12x8' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=BADVALUE
// BADVALUE: attn-run: error: invalid spec: bad value '12x8' for key 'd': expected an integer
// BADVALUE-NEXT: exit=2

// RUN: bash -c "attn-run 'gqa:b=1,hq=32,hkv=8,s=64,d=64,bogus=3' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=UNKNOWNKEY
// UNKNOWNKEY: attn-run: error: invalid spec: unknown key 'bogus'
// UNKNOWNKEY-NEXT: exit=2

// RUN: bash -c "attn-run 'gqa:b=1,hq=32,s=64,d=64' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=MISSINGKEY
// MISSINGKEY: attn-run: error: invalid spec: key 'hkv' is required for gqa
// MISSINGKEY-NEXT: exit=2

// RUN: bash -c "attn-run 'gqa:hq=6,hkv=4,s=8,d=64' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=INVALID
// INVALID: attn-run: error: invalid spec: query heads (6) must be a multiple of kv heads (4)
// INVALID-NEXT: exit=2

// RUN: bash -c "attn-run 'mha:h=2,s=8,d=64' --threads=many 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=BADOPT
// BADOPT: attn-run: error: bad value 'many' for --threads (expected an integer)
// BADOPT-NEXT: exit=2

// RUN: bash -c "attn-run 'mha:h=2,s=8,d=64' --frobnicate 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=UNKNOWNOPT
// UNKNOWNOPT: attn-run: error: unknown option '--frobnicate' (see --help)
// UNKNOWNOPT-NEXT: exit=2

// RUN: bash -c "attn-run 'mha:h=2,s=8,d=64' --target=tpu 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=BADTARGET
// BADTARGET: attn-run: error: bad value 'tpu' for --target (expected cpu or cuda)
// BADTARGET-NEXT: exit=2

// RUN: bash -c "attn-run 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=NOSPEC
// NOSPEC: attn-run: error: no SPEC given (see --help)
// NOSPEC-NEXT: exit=2

// RUN: bash -c "attn-run %t.does-not-exist.mlir 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=NOFILE
// NOFILE: attn-run: error: cannot read '{{.*}}does-not-exist.mlir': {{.*}}
// NOFILE-NEXT: exit=2

// RUN: bash -c "attn-run %s 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=MALFORMED
// MALFORMED: attn-run: error: invalid spec '{{.*}}attn-run-errors.mlir': malformed MLIR input: {{[0-9]+}}:{{[0-9]+}}: {{.*}}
// MALFORMED-NEXT: exit=2

// RUN: bash -c "attn-run 'mha:h=2,s=8,d=64' --target=cuda 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=CUDA
// CUDA: attn-run: error: lowering failed: {{.*}}f32
// CUDA-NEXT: exit=1

// RUN: bash -c "attn-run 'mha:h=2,s=8,d=64' --tile-kv=24 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=LOWERING
// LOWERING: attn-run: error: lowering failed: {{.*}}tile-kv must be a positive multiple of 16 up to 1024, got 24
// LOWERING-NEXT: exit=1

// RUN: bash -c "attn-run 'gqa:b=?,hq=2,hkv=2,sq=?,skv=?,d=64' 2>&1; echo exit=\$?" | FileCheck %s --check-prefix=RUNTIMESIZES
// RUNTIMESIZES: attn-run: error: attn-run runs one call: give the batch and lengths (b, sq, skv) as numbers
// RUNTIMESIZES-NEXT: exit=2

// Not MLIR: makes this file a malformed spec for the MALFORMED run above.
this is not mlir
