# stockgate::warnings: the warning set every target of ours links (INTERFACE, never global).
add_library(stockgate_warnings INTERFACE)
add_library(stockgate::warnings ALIAS stockgate_warnings)
target_compile_options(stockgate_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor -Wold-style-cast
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  $<$<BOOL:${STOCKGATE_WERROR}>:-Werror>)
