// Reconcile: `stockgate-sync check | repair | rebuild`. Check compares three accounts of every
// SKU: the Redis counters, the MariaDB inventory row, and the sum of the ledger (history in
// MariaDB plus events still in the outbox stream), and also each SKU's reserved units with the
// units of its live holds. Repair appends compensating ledger events for Redis-vs-ledger drift
// (Redis is what was sold from; the ledger is made to account for it, visibly) and recomputes an
// inventory row that disagrees with its own history. Rebuild restores Redis from MariaDB after
// Redis lost its data.
#ifndef STOCKGATE_SYNC_RECONCILE_H_
#define STOCKGATE_SYNC_RECONCILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/inventory_model.h"
#include "origin/history/mysql_config.h"
#include "origin/store/redis_client.h"
#include "sync/history_writer.h"

namespace stockgate::sync {

using Counters = core::StockCounters;

struct Drift {
  enum class Kind {
    kRedisVsLedger,       // Redis counters differ from the sum of the ledger
    kInventoryVsHistory,  // the MariaDB inventory row differs from the sum of its history
    kReservedVsHolds,     // Redis reserved differs from the units in the SKU's live holds
    kMalformedEntry,      // an outbox entry sync cannot read
  };
  Kind kind = Kind::kRedisVsLedger;
  std::int64_t sku = 0;
  Counters actual;    // Redis (or the inventory row, or reserved as on_hand=0)
  Counters expected;  // the ledger (or the history, or the live holds)
  std::string detail;
  std::string Describe() const;
};

// The check ran (both stores answered); drifts may still be found.
struct CheckReport {
  std::vector<Drift> drifts;
  std::int64_t skus = 0;
  std::int64_t history_events = 0;
  std::int64_t stream_events = 0;  // ledger events in the stream not yet in the history
  std::int64_t live_holds = 0;
};

// Over every partition of a store of `partitions`, each checked against its own stream.
core::Result<CheckReport> Check(store::RedisClient& redis, const std::string& prefix,
                                const history::MySqlConfig& mysql, std::int64_t now_ms,
                                int partitions = 1);

struct RepairReport {
  std::vector<std::string> actions;  // one line per fix
  std::vector<Drift> unrepaired;     // drifts repair does not decide (reserved vs holds)
};

// Checks, fixes what it can, and returns what it did. Compensation events reach MariaDB through
// the running sync like any other event.
core::Result<RepairReport> Repair(store::RedisClient& redis, const std::string& prefix,
                                  const history::MySqlConfig& mysql, const std::string& actor,
                                  std::int64_t now_ms, int partitions = 1);

struct RebuildReport {
  std::int64_t skus = 0;
  std::int64_t reservations = 0;
  std::int64_t live_holds = 0;
  std::int64_t adjustments = 0;
  std::int64_t past_retention = 0;  // finished orders left in the history only
  std::string last_event;
  std::vector<std::string> warnings;
};

// Restores the prefix's keyspace (of `partitions`) from MariaDB. Refuses unless the keyspace is
// empty. With retention_ms > 0, the records of orders that finished more than retention_ms ago
// stay in the history only, as retention would have left them (their units still count against
// per-customer limits).
core::Result<RebuildReport> Rebuild(store::RedisClient& redis, const std::string& prefix,
                                    const history::MySqlConfig& mysql, std::int64_t now_ms,
                                    int partitions = 1, std::int64_t retention_ms = 0);

// The ref of compensating events: not a valid request_id, so it never collides with one.
inline constexpr const char* kRepairRef = "#repair";

}  // namespace stockgate::sync

#endif  // STOCKGATE_SYNC_RECONCILE_H_
