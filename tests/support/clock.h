// The wall clock as the services read it (milliseconds since the Unix epoch), for tests that run
// the real servers and mint tokens against it.
#ifndef STOCKGATE_TESTS_SUPPORT_CLOCK_H_
#define STOCKGATE_TESTS_SUPPORT_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace stockgate::testing {

inline std::int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace stockgate::testing

#endif  // STOCKGATE_TESTS_SUPPORT_CLOCK_H_
