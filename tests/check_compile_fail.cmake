# Compiles SOURCE (syntax only) with COMPILER and expects it to fail, with EXPECTED in the first
# error the compiler prints: a user's first diagnostic must say what is wrong.
#   cmake -DCOMPILER=... -DINCLUDE=... -DSOURCE=... -DEXPECTED=... -P check_compile_fail.cmake
execute_process(COMMAND ${COMPILER} -std=c++20 -fsyntax-only -I${INCLUDE} ${SOURCE}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(status EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
string(REGEX MATCH "[^\n]*error[^\n]*" first_error "${output}")
string(FIND "${first_error}" "${EXPECTED}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "The first error for ${SOURCE} does not say \"${EXPECTED}\":\n"
                      "${first_error}\n\nFull output:\n${output}")
endif()
message(STATUS "first error, as expected: ${first_error}")
