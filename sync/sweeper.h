// Sweeper: expires holds past their deadline, every interval_ms, through the store's expire
// script (units back to available, one expire event per item, in the same atomic step). Every
// other script expires due holds first anyway, so the sweeper only keeps idle SKUs' numbers and
// the history current; since each sweep is one atomic script, any number of sync processes may
// sweep at once without expiring a hold twice. With retention set, it also removes the records of
// finished orders once they are old enough (RedisInventoryStore::Retire), every few seconds.
#ifndef STOCKGATE_SYNC_SWEEPER_H_
#define STOCKGATE_SYNC_SWEEPER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "origin/store/inventory_store.h"
#include "origin/store/redis_inventory_store.h"
#include "sync/outbox.h"

namespace stockgate::sync {

// One retention pass: removes the records of orders that finished more than retention_ms before
// now_ms and whose history is in MariaDB: in each partition, never at or past the first outbox
// entry that sync has not acknowledged, less clock_margin_ms (a record's time is its origin's
// clock, a stream id's is Redis's). How many orders' records left, or why it could not run.
inline constexpr std::int64_t kRetentionClockMarginMs = 60'000;
core::Result<std::int64_t> RetireSynced(store::RedisInventoryStore& store,
                                        const std::vector<std::unique_ptr<Outbox>>& outboxes,
                                        std::int64_t retention_ms, std::int64_t now_ms,
                                        std::int64_t clock_margin_ms = kRetentionClockMarginMs);

class Sweeper {
 public:
  using Clock = std::function<std::int64_t()>;  // ms since the epoch
  Sweeper(store::InventoryStore& store, int interval_ms, Clock now)
      : store_(store), interval_ms_(interval_ms), now_(std::move(now)) {}

  // One sweep: how many holds expired, or -1 when the store could not be reached.
  std::int64_t SweepOnce();
  void Run(const std::atomic<bool>& stop);

  // Retention: Run calls `retire(now)` at most every every_ms; it answers how many orders' records
  // left Redis, or -1 on failure (counted in failures()).
  void SetRetention(std::function<std::int64_t(std::int64_t now_ms)> retire, int every_ms) {
    retire_ = std::move(retire);
    retire_every_ms_ = every_ms;
  }
  // One retention pass now (when set): as retire answers.
  std::int64_t RetireOnce();

  std::int64_t expired() const { return expired_.load(); }
  std::int64_t retired() const { return retired_.load(); }
  std::int64_t failures() const { return failures_.load(); }

 private:
  store::InventoryStore& store_;
  int interval_ms_;
  Clock now_;
  std::function<std::int64_t(std::int64_t)> retire_;
  int retire_every_ms_ = 0;
  std::int64_t last_retire_ms_ = 0;
  std::atomic<std::int64_t> expired_{0};
  std::atomic<std::int64_t> retired_{0};
  std::atomic<std::int64_t> failures_{0};
};

}  // namespace stockgate::sync

#endif  // STOCKGATE_SYNC_SWEEPER_H_
