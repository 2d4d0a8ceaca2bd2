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

// The stock invariants of the reference model, whatever requests it was given:
// 0 <= reserved <= on_hand, available = on_hand - reserved, nothing negative.
#define FUZZ_CHECK_STOCK(model)                               \
  do {                                                        \
    for (const auto& s : (model).AllStock()) {                \
      FUZZ_CHECK(s.reserved >= 0 && s.reserved <= s.on_hand); \
      FUZZ_CHECK(s.available == s.on_hand - s.reserved);      \
      FUZZ_CHECK(s.sold >= 0 && s.on_hand >= 0);              \
    }                                                         \
  } while (false)

#endif  // STOCKGATE_FUZZ_FUZZ_CHECK_H_
