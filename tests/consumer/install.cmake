# Installs hpt's build tree HPT_BINARY_DIR into a fresh PREFIX (cmake -P; the setup step of hpt's
# packaging tests), then checks that the package files and every public header are there.
foreach(var IN ITEMS HPT_BINARY_DIR HPT_SOURCE_DIR PREFIX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${PREFIX})
set(config_args "")
if(DEFINED CONFIG AND NOT CONFIG STREQUAL "")
  set(config_args --config ${CONFIG})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --install . --prefix ${PREFIX} ${config_args}
                WORKING_DIRECTORY ${HPT_BINARY_DIR} COMMAND_ERROR_IS_FATAL ANY)

file(GLOB_RECURSE configs ${PREFIX}/*/hptConfig.cmake ${PREFIX}/*/hptConfigVersion.cmake
     ${PREFIX}/*/hptTargets.cmake)
list(LENGTH configs count)
if(NOT count EQUAL 3)
  message(FATAL_ERROR "install.cmake: expected hptConfig, hptConfigVersion and hptTargets under "
                      "${PREFIX}, found [${configs}]")
endif()
file(GLOB_RECURSE headers RELATIVE ${HPT_SOURCE_DIR}/include ${HPT_SOURCE_DIR}/include/*.hpp)
foreach(header IN LISTS headers)
  if(NOT EXISTS ${PREFIX}/include/${header})
    message(FATAL_ERROR "install.cmake: ${header} was not installed into ${PREFIX}/include")
  endif()
endforeach()
list(LENGTH headers count)
message(STATUS "hpt installed into ${PREFIX}: package config and ${count} headers")
