# ATTN_PCH: precompiled MLIR/LLVM headers (cmake/AttnPch.h) for the targets
# with many translation units. Most of a file's compile time is parsing
# MLIR's headers (measured: passes/TileFlash.cpp 17.3 s -> 6.9 s of CPU with
# the header precompiled, for ~15 s once per target), so a clean build (CI)
# takes much less. Off by default: a developer's incremental build with
# ccache gains little, and ccache caches PCH users only with
# CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime.
# Not attn-capi-tests: it links only the C API (libattn.so), and the MLIR
# headers' inline functions would pull MLIR/LLVM symbols into it.
if(NOT ATTN_PCH)
  return()
endif()
set(_attn_pch_header "${CMAKE_CURRENT_LIST_DIR}/AttnPch.h")
foreach(_attn_target
    obj.AttnDialect obj.AttnPasses obj.AttnRuntime obj.AttnKvCache
    obj.AttnConvert attn-unit-tests attn-runtime-tests attn-kvcache-tests
    attn-gpu-tests attn-convert-tests)
  if(TARGET ${_attn_target})
    target_precompile_headers(${_attn_target} PRIVATE "${_attn_pch_header}")
    # Without it clang stores the header's mtime in the PCH and ccache
    # cannot hash it reproducibly.
    target_compile_options(${_attn_target} PRIVATE
      "SHELL:-Xclang -fno-pch-timestamp")
  endif()
endforeach()
