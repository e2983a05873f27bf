# Driver for the packaging tests, run as `cmake -DACTION=... -P run_consumer.cmake`.
#
# ACTION=install: BUILD_TREE, PREFIX, BUILD_TYPE. Empties PREFIX, installs the build tree into it
#   and checks that the config file and the headers landed there.
# ACTION=consume: SOURCE_DIR, BINARY_DIR, EXE, GENERATOR, CXX_COMPILER, CXX_FLAGS, BUILD_TYPE and
#   EXTRA_ARGS (a list of extra configure arguments). Configures the consumer in a fresh BINARY_DIR,
#   builds it and runs EXE; any failing step fails the test.
cmake_minimum_required(VERSION 3.20)

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}): ${ARGN}")
  endif()
endfunction()

if(ACTION STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  set(_config_args)
  if(BUILD_TYPE)
    set(_config_args --config "${BUILD_TYPE}")
  endif()
  run_step("install" "${CMAKE_COMMAND}" --install "${BUILD_TREE}" --prefix "${PREFIX}" ${_config_args})
  foreach(f share/cmake/bitlin/bitlinConfig.cmake share/cmake/bitlin/bitlinConfigVersion.cmake
            share/cmake/bitlin/bitlinTargets.cmake include/bitlin/core/types.hpp)
    if(NOT EXISTS "${PREFIX}/${f}")
      message(FATAL_ERROR "install did not produce ${PREFIX}/${f}")
    endif()
  endforeach()
  message(STATUS "bitlin installed into ${PREFIX}")
elseif(ACTION STREQUAL "consume")
  file(REMOVE_RECURSE "${BINARY_DIR}")
  set(_args -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
            "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
  if(BUILD_TYPE)
    list(APPEND _args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
  endif()
  run_step("configure" "${CMAKE_COMMAND}" ${_args} ${EXTRA_ARGS})
  set(_config_args)
  if(BUILD_TYPE)
    set(_config_args --config "${BUILD_TYPE}")
  endif()
  run_step("build" "${CMAKE_COMMAND}" --build "${BINARY_DIR}" ${_config_args})
  set(_exe)
  foreach(candidate "${BINARY_DIR}/${EXE}" "${BINARY_DIR}/${BUILD_TYPE}/${EXE}")
    if(EXISTS "${candidate}" AND NOT IS_DIRECTORY "${candidate}")
      set(_exe "${candidate}")
      break()
    endif()
  endforeach()
  if(NOT _exe)
    message(FATAL_ERROR "consumer executable ${EXE} not found under ${BINARY_DIR}")
  endif()
  run_step("run" "${_exe}")
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown ACTION '${ACTION}'")
endif()
