# `cmake --install` layout and the find_package(Attn) package:
#
#   bin/attn-opt, bin/attn-run
#   include/attn/{dialect,passes,runtime}/...   (headers + generated .inc)
#   include/attn/attn.h                          (the C API, runtime/capi)
#   lib/libAttn*.a                               (the C++ libraries)
#   lib/libattn.so                               (the C API; Python loads it)
#   lib/cmake/attn/AttnConfig.cmake (+ Version, Targets)
#
# The C++ targets are exported as Attn::Dialect, Attn::Passes, Attn::Runtime,
# Attn::KvCache and Attn::Cuda. They are static archives that link against
# the MLIR/LLVM they were built with (Debian's libMLIR.so + libLLVM.so in the
# default build): AttnConfig.cmake finds that MLIR again for the consumer.
# A self-contained build (ATTN_STATIC_TOOLS=ON) installs the tools and the C
# API only: its archives' link interfaces are rewritten at configure time
# (AttnStaticLink.cmake), which an imported package cannot repeat.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ATTN_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/attn)
set(ATTN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/attn)

# Installed binaries keep finding the MLIR/LLVM shared libraries they were
# linked against (Debian's live outside the loader's default path).
set_target_properties(attn-opt attn-run attn-convert PROPERTIES
  INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS attn-opt attn-run attn-convert RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Headers are included by their path from the repository root
# ("runtime/Runtime.h"), so they keep that layout under include/attn.
install(DIRECTORY common dialect passes runtime
  DESTINATION ${ATTN_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_BINARY_DIR}/dialect ${PROJECT_BINARY_DIR}/passes
  DESTINATION ${ATTN_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.inc"
  PATTERN CMakeFiles EXCLUDE)

if(TARGET attn_c)
  set_target_properties(attn_c PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
  install(TARGETS attn_c EXPORT AttnCTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES runtime/capi/attn.h DESTINATION ${ATTN_INSTALL_INCLUDEDIR})
endif()

set(ATTN_EXPORTED_CXX_TARGETS "")
if(NOT ATTN_STATIC_TOOLS)
  foreach(pair AttnDialect:Dialect AttnPtxDialect:PtxDialect AttnPasses:Passes AttnRuntime:Runtime
               AttnKvCache:KvCache AttnCuda:Cuda AttnConvert:Convert)
    string(REPLACE ":" ";" pair "${pair}")
    list(GET pair 0 target)
    list(GET pair 1 name)
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
    target_include_directories(${target} INTERFACE
      $<INSTALL_INTERFACE:${ATTN_INSTALL_INCLUDEDIR}>)
    target_compile_features(${target} INTERFACE cxx_std_20)
    list(APPEND ATTN_EXPORTED_CXX_TARGETS ${target})
  endforeach()
  install(TARGETS ${ATTN_EXPORTED_CXX_TARGETS} EXPORT AttnTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT AttnTargets NAMESPACE Attn::
    DESTINATION ${ATTN_INSTALL_CMAKEDIR})
endif()
if(TARGET attn_c)
  set_target_properties(attn_c PROPERTIES EXPORT_NAME C)
  target_include_directories(attn_c INTERFACE
    $<INSTALL_INTERFACE:${ATTN_INSTALL_INCLUDEDIR}>)
  install(EXPORT AttnCTargets NAMESPACE Attn::
    DESTINATION ${ATTN_INSTALL_CMAKEDIR})
endif()

set(ATTN_CONFIG_LINK_MODE shared)
if(ATTN_STATIC_TOOLS)
  set(ATTN_CONFIG_LINK_MODE static)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/AttnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/AttnConfig.cmake
  INSTALL_DESTINATION ${ATTN_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/AttnConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/AttnConfig.cmake
  ${PROJECT_BINARY_DIR}/AttnConfigVersion.cmake
  DESTINATION ${ATTN_INSTALL_CMAKEDIR})
