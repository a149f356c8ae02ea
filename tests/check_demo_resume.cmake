# The demo is resumable: stopped after 6 trials with --study FILE, run again it says it resumes and
# ends with the best configuration of a run that was never stopped; a third run finds the
# finished study and runs nothing. Then the hpt tool lists the study from the file.
# Arguments: -DDEMO=<hpt_demo> -DTOOL=<hpt> -DFILE=<a scratch .db path>
file(REMOVE ${FILE} ${FILE}-wal ${FILE}-shm)

function(run_demo output)
  execute_process(COMMAND ${DEMO} --quick ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE text
                  ERROR_VARIABLE text)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "hpt_demo --quick ${ARGN} failed (${status}):\n${text}")
  endif()
  set(${output} "${text}" PARENT_SCOPE)
endfunction()

function(expect text pattern what)
  string(FIND "${text}" "${pattern}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected \"${pattern}\" in:\n${text}")
  endif()
endfunction()

function(best_line text output)
  string(REGEX MATCH "Best configuration: [^\n]*" line "${text}")
  if(NOT line)
    message(FATAL_ERROR "no \"Best configuration\" line in:\n${text}")
  endif()
  set(${output} "${line}" PARENT_SCOPE)
endfunction()

run_demo(straight)
run_demo(stopped --study ${FILE} --stop-after 6)
expect("${stopped}" "Stopped before the end: every finished trial is in ${FILE}" "first run")
run_demo(resumed --study ${FILE})
expect("${resumed}" "Resuming the study \"digits MLP (quick)\" in ${FILE}: 9 trials stored"
       "second run")
expect("${resumed}" "(the study's, reproduced exactly)" "second run")
best_line("${straight}" straight_best)
best_line("${resumed}" resumed_best)
if(NOT straight_best STREQUAL resumed_best)
  message(FATAL_ERROR "the resumed demo found\n  ${resumed_best}\nthe uninterrupted one\n  ${straight_best}")
endif()
run_demo(again --study ${FILE})
expect("${again}" "Found the finished study \"digits MLP (quick)\"" "third run")
expect("${again}" "showing it without running anything" "third run")

execute_process(COMMAND ${TOOL} list ${FILE} RESULT_VARIABLE status OUTPUT_VARIABLE listed
                ERROR_VARIABLE listed)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "hpt list ${FILE} failed (${status}):\n${listed}")
endif()
expect("${listed}" "digits MLP (quick)" "hpt list")
expect("${listed}" "finished" "hpt list")
file(REMOVE ${FILE} ${FILE}-wal ${FILE}-shm)
