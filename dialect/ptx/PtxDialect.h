//===- PtxDialect.h - attn_ptx: PTX the NVVM dialect lacks -----*- C++ -*-===//
//
// Ops for the PTX instructions of the GPU kernels that LLVM 22's NVVM
// dialect has no op for (or only one that gives worse code); see
// PtxOps.td. convert-nvvm-to-llvm lowers them to llvm.inline_asm through
// BasicPtxBuilderOpInterface.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_PTX_PTXDIALECT_H
#define ATTN_DIALECT_PTX_PTXDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/LLVMIR/BasicPtxBuilderInterface.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"

#include "dialect/ptx/PtxDialect.h.inc"

#define GET_OP_CLASSES
#include "dialect/ptx/PtxOps.h.inc"

#endif
