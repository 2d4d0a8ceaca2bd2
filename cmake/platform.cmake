# stockgate::platform: flags that depend on the flavour, linked by every target of ours.
# The wasm builds run without exceptions (the core never throws; JSON_NOEXCEPTION turns
# nlohmann's errors into values), which keeps the modules small and import-free.
add_library(stockgate_platform INTERFACE)
add_library(stockgate::platform ALIAS stockgate_platform)
if(NOT STOCKGATE_FLAVOR STREQUAL "native")
  target_compile_options(stockgate_platform INTERFACE -fno-exceptions)
endif()
target_link_libraries(stockgate_warnings INTERFACE stockgate_platform)
