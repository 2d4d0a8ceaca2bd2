# The two shapes most targets of ours take, written once.
#
# stockgate_library(NAME SOURCES files... [PUBLIC libs...] [PRIVATE libs...])
#   A static library stockgate_NAME, also called stockgate::NAME, whose headers are included from
#   the repository root ("origin/store/redis_pool.h"), with our warnings.
function(stockgate_library name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;PUBLIC;PRIVATE")
  add_library(stockgate_${name} STATIC ${arg_SOURCES})
  add_library(stockgate::${name} ALIAS stockgate_${name})
  target_include_directories(stockgate_${name} PUBLIC "${PROJECT_SOURCE_DIR}")
  target_link_libraries(stockgate_${name}
    PUBLIC ${arg_PUBLIC}
    PRIVATE stockgate::warnings ${arg_PRIVATE})
endfunction()

# stockgate_gtest(TARGET SOURCES files... LIBS libs... [TIMEOUT seconds])
#   A googletest program whose tests ctest runs one by one (listed when ctest starts, so a
#   program that fails to list its tests fails the run), with our warnings. Its own sources are
#   compiled at -O1 in an optimised build: the code under test comes from our libraries at the
#   build's level, and a test's own code built at -O3 cost a third more compile time for nothing.
function(stockgate_gtest target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TIMEOUT" "SOURCES;LIBS")
  add_executable(${target} ${arg_SOURCES})
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-O1>)
  target_link_libraries(${target} PRIVATE
    ${arg_LIBS} stockgate::warnings GTest::gtest GTest::gtest_main)
  if(arg_TIMEOUT)
    gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST PROPERTIES TIMEOUT ${arg_TIMEOUT})
  else()
    gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST)
  endif()
endfunction()
