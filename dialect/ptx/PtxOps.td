//===- PtxOps.td - attn_ptx: PTX the NVVM dialect lacks ----*- tablegen -*-===//
//
// Small ops for the PTX instructions the GPU kernels need and the NVVM
// dialect of LLVM 22 has no (equally good) op for. Each implements
// BasicPtxBuilderOpInterface, so convert-nvvm-to-llvm lowers it to one
// llvm.inline_asm like the NVVM ops it sits next to.
//
// Accumulator lists are LLVM structs that the op returns again: the inline
// asm ties each output to its input, so every later read of a register is
// data-dependent on the instruction (the wgmma that writes it, the wait
// that completes it) and cannot move above it.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_PTX_PTXOPS_TD
#define ATTN_DIALECT_PTX_PTXOPS_TD

include "mlir/Dialect/LLVMIR/BasicPtxBuilderInterface.td"
include "mlir/Dialect/LLVMIR/LLVMOpBase.td"
include "mlir/IR/OpBase.td"

def AttnPtx_Dialect : Dialect {
  let name = "attn_ptx";
  let summary = "PTX instructions of the attn GPU kernels without an NVVM op";
  let cppNamespace = "::mlir::attn::ptx";
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

class AttnPtx_Op<string mnemonic, list<Trait> traits = []>
    : Op<AttnPtx_Dialect, mnemonic,
         !listconcat(traits,
                     [DeclareOpInterfaceMethods<BasicPtxBuilderOpInterface>])>;

def AttnPtx_WgmmaRegAOp : AttnPtx_Op<"wgmma_reg_a",
    [AllTypesMatch<["acc", "res"]>]> {
  let summary = "wgmma.mma_async m64nNk16 with A in registers";
  let description = [{
    `res = A·B (+ acc)` for one k16 step of a warpgroup: A is this thread's
    4-register m16k16 fragment (two bf16/f16 per i32), B a shared-memory
    matrix descriptor, read MN-major with `transpose_b`. `acc` holds the
    N/2 f32 accumulators of the thread; the result is the same registers
    (tied in the inline asm). f32 accumulation, scale-a = scale-b = 1.

    ```mlir
    %d = attn_ptx.wgmma_reg_a %acc, [%a0, %a1, %a2, %a3], %descB
        {n = 64 : i64, elem = "bf16", accumulate, transpose_b}
        : !llvm.struct<(f32, ...)>
    ```
  }];
  let arguments = (ins LLVM_AnyStruct:$acc, Variadic<I32>:$a, I64:$descB,
                   I64Attr:$n, StrAttr:$elem, UnitAttr:$accumulate,
                   UnitAttr:$transpose_b);
  let results = (outs LLVM_AnyStruct:$res);
  let assemblyFormat = [{
    $acc `,` `[` $a `]` `,` $descB attr-dict `:` type($acc)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool getAsmValues(::mlir::RewriterBase &rewriter,
        ::llvm::SmallVectorImpl<std::pair<::mlir::Value,
                                          ::mlir::NVVM::PTXRegisterMod>> &);
  }];
}

class AttnPtx_PinOp<string mnemonic, string summ>
    : AttnPtx_Op<mnemonic, [AllTypesMatch<["values", "res"]>]> {
  let summary = summ;
  let results = (outs LLVM_AnyStruct:$res);
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool getAsmValues(::mlir::RewriterBase &rewriter,
        ::llvm::SmallVectorImpl<std::pair<::mlir::Value,
                                          ::mlir::NVVM::PTXRegisterMod>> &);
  }];
}

def AttnPtx_WgmmaWaitGroupOp : AttnPtx_PinOp<"wgmma_wait_group",
    "wgmma.wait_group N with the registers it completes tied through"> {
  let description = [{
    Waits until at most `pending` wgmma commit groups are in flight. The
    `values` (f32 or i32 registers, at most 64: accumulators of the groups
    that are complete) come back as the result, so no read of them can be
    scheduled above the wait.

    ```mlir
    %r = attn_ptx.wgmma_wait_group 1, %acc : !llvm.struct<(f32, f32)>
    ```
  }];
  let arguments = (ins I64Attr:$pending, LLVM_AnyStruct:$values);
  let assemblyFormat = "$pending `,` $values attr-dict `:` type($values)";
}

def AttnPtx_WgmmaFenceOp : AttnPtx_PinOp<"wgmma_fence",
    "wgmma.fence with the registers written before it tied through"> {
  let description = [{
    `wgmma.fence.sync.aligned` after ordinary instructions wrote registers
    that a following wgmma reads (P and the rescaled O): the `values` are
    operands of the fence, so their definitions stay above it, and come back
    as the result for the wgmma to read.
  }];
  let arguments = (ins LLVM_AnyStruct:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

def AttnPtx_PinOp : AttnPtx_PinOp<"pin",
    "registers tied through an empty volatile asm statement"> {
  let description = [{
    No instruction: the `values` (at most 64) pass through an empty
    volatile inline asm statement, which keeps its place after the
    statement before it (a wgmma_wait_group or wgmma_fence with the first
    64 registers), so the reads of these registers stay below it as well.
  }];
  let arguments = (ins LLVM_AnyStruct:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

def AttnPtx_TmaLoad4dOp : AttnPtx_Op<"tma_load_4d"> {
  let summary = "cp.async.bulk.tensor.4d tile load on 32-bit shared addresses";
  let description = [{
    One bulk tensor copy of the box at `coords` (innermost first) of the
    tensor map at the generic address `map` into shared memory at `dst`,
    completing `tx` bytes on the mbarrier at `bar`. `dst` and `bar` are
    32-bit shared-window addresses (a shared::cta address is the
    shared::cluster address of the same bytes of this block): the NVVM op
    takes 64-bit shared::cluster pointers, which cost ptxas registers in
    the kernels' TMA loop.

    ```mlir
    attn_ptx.tma_load_4d %dst, %map, [%c0, %c1, %c2, %c3], %bar
        : i32, i64, i32
    ```
  }];
  let arguments = (ins I32:$dst, I64:$map, Variadic<I32>:$coords, I32:$bar);
  let assemblyFormat = [{
    $dst `,` $map `,` `[` $coords `]` `,` $bar attr-dict
  }];
  let hasVerifier = 1;
}

#endif
