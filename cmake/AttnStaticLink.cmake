# Self-contained tools (ATTN_STATIC_TOOLS=ON): Debian's static MLIR archives
# name the shared libLLVM ("LLVM") and sometimes libMLIR ("MLIR") in their
# link interfaces. Swap those for static LLVM component archives so the
# tools need only libc, libm, libz and libzstd at run time (the GPU machine
# has no LLVM). "all" components would drag in BOLT, Exegesis and the
# dylib itself, hence the explicit list. Back ends: the host's (X86, the
# CPU JIT) and NVPTX (PTX for the CUDA backend) only; every other target
# would add tens of MB to binaries carried to the GPU machine.
set(LLVM_LINK_LLVM_DYLIB OFF)
llvm_map_components_to_libnames(ATTN_STATIC_LLVM_LIBS
  X86AsmParser X86CodeGen X86Desc X86Info X86Disassembler
  NVPTXCodeGen NVPTXDesc NVPTXInfo
  Analysis AsmParser AsmPrinter BitReader BitWriter CodeGen Core Coroutines
  ExecutionEngine FrontendOffloading FrontendOpenMP InstCombine IPO IRReader
  JITLink Linker MC MCParser Object Option OrcJIT OrcShared
  OrcTargetProcess Passes PerfJITEvents RuntimeDyld ScalarOpts
  SelectionDAG Support Target TargetParser TransformUtils Vectorize
  Instrumentation ObjCARCOpts AggressiveInstCombine CFGuard HipStdPar
  IRPrinter Symbolize DebugInfoDWARF)

if(NOT TARGET zstd::libzstd_shared)
  find_library(ATTN_ZSTD_LIB NAMES zstd REQUIRED)
  add_library(zstd::libzstd_shared UNKNOWN IMPORTED)
  set_target_properties(zstd::libzstd_shared PROPERTIES
    IMPORTED_LOCATION ${ATTN_ZSTD_LIB})
endif()

get_property(attn_imported DIRECTORY ${PROJECT_SOURCE_DIR}
  PROPERTY IMPORTED_TARGETS)
foreach(t ${MLIR_EXPORTED_TARGETS} ${attn_imported})
  if(NOT TARGET ${t})
    continue()
  endif()
  get_target_property(kind ${t} TYPE)
  if(NOT kind STREQUAL "STATIC_LIBRARY")
    continue()
  endif()
  get_target_property(libs ${t} INTERFACE_LINK_LIBRARIES)
  if(NOT libs)
    continue()
  endif()
  list(FIND libs LLVM has_llvm)
  list(FIND libs "$<LINK_ONLY:LLVM>" has_llvm_only)
  if(has_llvm_only GREATER -1)
    set(has_llvm ${has_llvm_only})
  endif()
  list(REMOVE_ITEM libs LLVM MLIR "$<LINK_ONLY:LLVM>" "$<LINK_ONLY:MLIR>")
  if(has_llvm GREATER -1)
    list(APPEND libs ${ATTN_STATIC_LLVM_LIBS})
  endif()
  set_target_properties(${t} PROPERTIES INTERFACE_LINK_LIBRARIES "${libs}")
endforeach()

# The dropped back ends' initializers, referenced by MLIR's ROCDL and XeVM
# targets: no-op stand-ins (AttnStaticTargetStubs.c).
add_library(AttnStaticTargetStubs STATIC
  ${CMAKE_CURRENT_LIST_DIR}/AttnStaticTargetStubs.c)
foreach(t MLIRROCDLTarget MLIRXeVMTarget)
  if(TARGET ${t})
    set_property(TARGET ${t} APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES AttnStaticTargetStubs)
  endif()
endforeach()
