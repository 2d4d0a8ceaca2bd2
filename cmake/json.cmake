# stockgate::json: nlohmann_json for every flavour.
# Native builds use the installed CMake package. The wasm builds must not see all of /usr/include
# (host libc headers would shadow wasi-libc / emscripten's), so they get a private include folder
# holding only a symlink to the nlohmann headers.
add_library(stockgate_json INTERFACE)
add_library(stockgate::json ALIAS stockgate_json)
# Non-throwing mode: parse errors are values, so the same code builds with -fno-exceptions.
target_compile_definitions(stockgate_json INTERFACE JSON_NOEXCEPTION)
if(STOCKGATE_FLAVOR STREQUAL "native")
  find_package(nlohmann_json 3.11 REQUIRED)
  target_link_libraries(stockgate_json INTERFACE nlohmann_json::nlohmann_json)
else()
  set(STOCKGATE_NLOHMANN_DIR "/usr/include/nlohmann" CACHE PATH "Folder with the nlohmann_json headers")
  if(NOT EXISTS "${STOCKGATE_NLOHMANN_DIR}/json.hpp")
    message(FATAL_ERROR "nlohmann/json.hpp not found in ${STOCKGATE_NLOHMANN_DIR} (apt-get install nlohmann-json3-dev)")
  endif()
  set(_inc "${CMAKE_BINARY_DIR}/wasm-include")
  file(MAKE_DIRECTORY "${_inc}")
  file(CREATE_LINK "${STOCKGATE_NLOHMANN_DIR}" "${_inc}/nlohmann" SYMBOLIC)
  target_include_directories(stockgate_json SYSTEM INTERFACE "${_inc}")
endif()
