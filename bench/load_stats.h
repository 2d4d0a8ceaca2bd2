// What the load tools (stockgate-origin-load, stockgate-grpc-load) report besides their counts:
// the latency quantiles of the answered calls and the CPU the tool itself used.
#ifndef STOCKGATE_BENCH_LOAD_STATS_H_
#define STOCKGATE_BENCH_LOAD_STATS_H_

#include <sys/resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace stockgate::bench {

// The q-quantile (nearest rank) of sorted nanosecond latencies, in ms; 0 when there are none.
inline double QuantileMs(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(rank, sorted.size() - 1)]) / 1e6;
}

// CPU seconds (user + system) this process has used.
inline double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

}  // namespace stockgate::bench

#endif  // STOCKGATE_BENCH_LOAD_STATS_H_
