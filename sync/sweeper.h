// Sweeper: expires holds past their deadline, every interval_ms, through the store's expire
// script (units back to available, one expire event per item, in the same atomic step). Every
// other script expires due holds first anyway, so the sweeper only keeps idle SKUs' numbers and
// the history current; since each sweep is one atomic script, any number of sync processes may
// sweep at once without expiring a hold twice.
#ifndef STOCKGATE_SYNC_SWEEPER_H_
#define STOCKGATE_SYNC_SWEEPER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "origin/store/inventory_store.h"

namespace stockgate::sync {

class Sweeper {
 public:
  using Clock = std::function<std::int64_t()>;  // ms since the epoch
  Sweeper(store::InventoryStore& store, int interval_ms, Clock now)
      : store_(store), interval_ms_(interval_ms), now_(std::move(now)) {}

  // One sweep: how many holds expired, or -1 when the store could not be reached.
  std::int64_t SweepOnce();
  void Run(const std::atomic<bool>& stop);

  std::int64_t expired() const { return expired_.load(); }
  std::int64_t failures() const { return failures_.load(); }

 private:
  store::InventoryStore& store_;
  int interval_ms_;
  Clock now_;
  std::atomic<std::int64_t> expired_{0};
  std::atomic<std::int64_t> failures_{0};
};

}  // namespace stockgate::sync

#endif  // STOCKGATE_SYNC_SWEEPER_H_
