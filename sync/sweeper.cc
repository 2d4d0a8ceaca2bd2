#include "sync/sweeper.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace stockgate::sync {

std::int64_t Sweeper::SweepOnce() {
  const store::ExpireResult r = store_.ExpireDue(now_());
  if (r.code != core::Code::kOk) {
    ++failures_;
    return -1;
  }
  expired_ += r.expired;
  return r.expired;
}

void Sweeper::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    SweepOnce();
    // Sleep in short slices so a stop request is honoured quickly.
    for (int slept = 0; slept < interval_ms_ && !stop.load(std::memory_order_relaxed);
         slept += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, interval_ms_ - slept)));
    }
  }
}

}  // namespace stockgate::sync
