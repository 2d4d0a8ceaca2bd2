// FUZZ_CHECK: an invariant of a fuzz target. A failure prints the condition and aborts, which
// libFuzzer reports as a crash (and saves the input) and the replay runner as a failed test.
#ifndef STOCKGATE_FUZZ_FUZZ_CHECK_H_
#define STOCKGATE_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

#endif  // STOCKGATE_FUZZ_FUZZ_CHECK_H_
