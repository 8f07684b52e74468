# Build helpers shared by every folder.
#
# Pure-logic libraries (no window, no signals, no guest execution) are built twice: once
# normally and once with ASan+UBSan, so their unit tests run under sanitizers too
# (DESIGN.md 7: ASan's shadow sits inside the guest window, so only pure logic can use it).

set(BTVMM_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)

# btvmm_asan_twins(OUT lib...): each lib replaced by its _asan twin where one exists.
function(btvmm_asan_twins out)
  set(result "")
  foreach(lib IN LISTS ARGN)
    if(TARGET ${lib}_asan)
      list(APPEND result ${lib}_asan)
    else()
      list(APPEND result ${lib})
    endif()
  endforeach()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# btvmm_add_library(NAME [PURE] SOURCES ... [LINK ...] [PURE_LINK ...])
#   PURE      also build NAME_asan; LINK entries that are btvmm pure libraries link their _asan twin.
function(btvmm_add_library name)
  cmake_parse_arguments(ARG "PURE" "" "SOURCES;LINK" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_LINK})
  set_property(GLOBAL APPEND PROPERTY BTVMM_LIBRARIES ${name})
  if(ARG_PURE)
    set_property(TARGET ${name} PROPERTY BTVMM_PURE ON)
    if(BTVMM_SANITIZER_TESTS)
      add_library(${name}_asan STATIC ${ARG_SOURCES})
      target_include_directories(${name}_asan PUBLIC ${PROJECT_SOURCE_DIR})
      target_compile_options(${name}_asan PRIVATE ${BTVMM_SAN_FLAGS})
      btvmm_asan_twins(san_links ${ARG_LINK})
      target_link_libraries(${name}_asan PUBLIC ${san_links})
      target_link_options(${name}_asan PUBLIC ${BTVMM_SAN_FLAGS})
    endif()
  endif()
endfunction()

# Catch2's main is compiled once and shared by every test executable.
add_library(btvmm_catch_main STATIC ${PROJECT_SOURCE_DIR}/tests/catch_main.cpp)
target_link_libraries(btvmm_catch_main PUBLIC Catch2::Catch2)

# btvmm_add_unit_test(NAME [SANITIZE] SOURCES ... LINK ...)
#   Builds a Catch2 test executable and registers its test cases with CTest.
#   SANITIZE also builds NAME_asan against the _asan twins of LINK; its cases carry the
#   label "asan" and a "[asan] " prefix, so ctest's summary shows both runs.
function(btvmm_add_unit_test name)
  cmake_parse_arguments(ARG "SANITIZE" "" "SOURCES;LINK" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LINK} btvmm_catch_main)
  catch_discover_tests(${name} TEST_PREFIX "${name}: " PROPERTIES LABELS "unit")
  if(ARG_SANITIZE AND BTVMM_SANITIZER_TESTS)
    btvmm_asan_twins(san_links ${ARG_LINK})
    add_executable(${name}_asan ${ARG_SOURCES})
    target_compile_options(${name}_asan PRIVATE ${BTVMM_SAN_FLAGS})
    target_link_options(${name}_asan PRIVATE ${BTVMM_SAN_FLAGS})
    target_link_libraries(${name}_asan PRIVATE ${san_links} btvmm_catch_main)
    catch_discover_tests(${name}_asan TEST_PREFIX "[asan] ${name}: "
      PROPERTIES LABELS "unit;asan" ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  endif()
endfunction()
