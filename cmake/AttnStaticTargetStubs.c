/* Static tools link only the X86 and NVPTX LLVM back ends (see
 * AttnStaticLink.cmake). MLIR's ROCDL and XeVM serialization targets, which
 * the static MLIR archives pull in, still name the AMDGPU and SPIR-V back
 * ends' initializers: these no-ops stand in for them, so such a target is
 * simply not registered and asking for it is an error ("no target"), never
 * a link failure. attn compiles for the host CPU and NVPTX only. */
#define ATTN_STUB(name)                                                        \
  void name(void);                                                             \
  void name(void) {}
ATTN_STUB(LLVMInitializeAMDGPUTarget)
ATTN_STUB(LLVMInitializeAMDGPUTargetInfo)
ATTN_STUB(LLVMInitializeAMDGPUTargetMC)
ATTN_STUB(LLVMInitializeAMDGPUAsmParser)
ATTN_STUB(LLVMInitializeAMDGPUAsmPrinter)
ATTN_STUB(LLVMInitializeSPIRVTarget)
ATTN_STUB(LLVMInitializeSPIRVTargetInfo)
ATTN_STUB(LLVMInitializeSPIRVTargetMC)
ATTN_STUB(LLVMInitializeSPIRVAsmPrinter)
