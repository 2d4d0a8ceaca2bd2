# stockgate::sanitizers: ASan + UBSan for the `asan` and `fuzz` presets; linked by every native
# target of ours. In `fuzz` every target is also instrumented for libFuzzer's coverage feedback.
add_library(stockgate_sanitizers INTERFACE)
add_library(stockgate::sanitizers ALIAS stockgate_sanitizers)
target_compile_options(stockgate_sanitizers INTERFACE
  -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
target_link_options(stockgate_sanitizers INTERFACE -fsanitize=address,undefined)
target_link_libraries(stockgate_warnings INTERFACE stockgate_sanitizers)
if(STOCKGATE_FUZZ)
  target_compile_options(stockgate_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
endif()
