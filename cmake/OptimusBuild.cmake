# Declares every library, binary and test of the project the same way (after absl_cc_library).
#
#   optimus_cc_library(NAME store SRCS src/a.cc DEPS optimus::telemetry SQLite::SQLite3)
#     -> target optimus_store, alias optimus::store; public headers in ./include.
#   optimus_cc_test(NAME store_test SRCS store_test.cc DEPS optimus::store)
#     -> a GoogleTest binary whose tests carry a ctest label taken from the file suffix:
#        *_test.cc unit, *_pgtest.cc pg, *_kafkatest.cc kafka, *_s3test.cc s3, *_gcstest.cc gcs.
#   optimus_cc_binary(NAME optimus SRCS main.cc DEPS ...)  -> bin/<name>

include_guard(GLOBAL)
include(GoogleTest)

function(optimus_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target optimus_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS})
    target_include_directories(${target}
      PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
    target_compile_options(${target} PRIVATE ${OPTIMUS_WARNINGS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(optimus::${ARG_NAME} ALIAS ${target})
endfunction()

function(optimus_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE ${OPTIMUS_WARNINGS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()

# The tier of a test file, from its suffix (STYLE.md: the suffix tells what a test needs).
function(_optimus_test_label file out)
  if(file MATCHES "_pgtest\\.cc$")
    set(${out} pg PARENT_SCOPE)
  elseif(file MATCHES "_kafkatest\\.cc$")
    set(${out} kafka PARENT_SCOPE)
  elseif(file MATCHES "_s3test\\.cc$")
    set(${out} s3 PARENT_SCOPE)
  elseif(file MATCHES "_gcstest\\.cc$")
    set(${out} gcs PARENT_SCOPE)
  elseif(file MATCHES "_e2etest\\.cc$")
    set(${out} e2e PARENT_SCOPE)
  else()
    set(${out} unit PARENT_SCOPE)
  endif()
endfunction()

function(optimus_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS" ${ARGN})
  if(NOT OPTIMUS_BUILD_TESTS)
    return()
  endif()
  list(GET ARG_SRCS 0 first)
  _optimus_test_label(${first} label)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} optimus::testing GTest::gmock GTest::gtest_main)
  target_compile_options(${ARG_NAME} PRIVATE ${OPTIMUS_WARNINGS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${ARG_NAME}
    PROPERTIES LABELS ${label} TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

#   optimus_cc_fuzzer(NAME spec_fuzz SRCS fuzz/spec_fuzz.cc DEPS optimus::spec)
#     -> a libFuzzer binary in fuzz/, built only with -DOPTIMUS_FUZZ=ON (preset fuzz, clang).
function(optimus_cc_fuzzer)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT OPTIMUS_FUZZ)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  set_property(GLOBAL APPEND PROPERTY OPTIMUS_FUZZERS ${ARG_NAME})
endfunction()

# Adds every sub-folder of the current one that has a CMakeLists.txt, in name order: a new
# library, service or tool is picked up by creating its folder.
macro(optimus_add_all_subdirectories)
  file(GLOB _optimus_children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
       ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT _optimus_children)
  foreach(_optimus_child IN LISTS _optimus_children)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_optimus_child}/CMakeLists.txt)
      add_subdirectory(${_optimus_child})
    endif()
  endforeach()
endmacro()
