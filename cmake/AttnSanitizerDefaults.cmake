# ATTN_SANITIZE builds: every executable defined so far gets
# cmake/AttnAsanDefaults.cpp (ASan's default options; that file says why).
# Included at the end of the top-level CMakeLists.txt, after every
# add_subdirectory, so that no executable is missed.
function(attn_add_asan_defaults dir)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_sources(${t} PRIVATE
        "${PROJECT_SOURCE_DIR}/cmake/AttnAsanDefaults.cpp")
    endif()
  endforeach()
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    attn_add_asan_defaults("${sub}")
  endforeach()
endfunction()
attn_add_asan_defaults("${PROJECT_SOURCE_DIR}")
