// Recovery: the Redis side of `stockgate-sync check | repair | rebuild`, kept here because this
// library owns the keyspace. Audit reads one consistent picture (counters, live holds, the whole
// outbox stream); Compensate appends ledger events that account for a drift without moving the
// counters; Restore writes records back into an empty keyspace after data loss, and
// FinishRestore makes new stream ids follow the restored history's.
#ifndef STOCKGATE_ORIGIN_STORE_RECOVERY_H_
#define STOCKGATE_ORIGIN_STORE_RECOVERY_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/inventory_model.h"
#include "core/result.h"
#include "origin/store/ledger_stream.h"
#include "origin/store/redis_client.h"

namespace stockgate::store {

struct AuditSku {
  std::int64_t sku = 0;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
  std::int64_t version = 0;
  std::int64_t limit = 0;
};

struct RedisAudit {
  std::vector<AuditSku> skus;                 // by SKU
  std::map<std::int64_t, std::int64_t> held;  // SKU -> units in live holds
  std::int64_t live_holds = 0;
  StreamId last_id;                  // the stream's last generated id (0-0 when none)
  std::vector<OutboxEntry> entries;  // the stream, oldest first
  std::vector<std::string> malformed;
};

// Partition `partition` of a store of `partitions` (keyspace.h); the functions below that take
// them work on that one partition.
core::Result<RedisAudit> Audit(RedisClient& redis, std::string_view prefix, std::int64_t now_ms,
                               int partition = 0, int partitions = 1);

// One compensating event: replaying `op` with `qty` moves the ledger's sum by the drift.
struct Compensation {
  core::LedgerOp op = core::LedgerOp::kAdjust;
  std::int64_t qty = 0;
};

// Fails with kInvalidState when the counters moved since the check.
core::Status Compensate(RedisClient& redis, std::string_view prefix, const AuditSku& seen,
                        const std::vector<Compensation>& events, std::string_view actor,
                        std::string_view reason, std::int64_t now_ms, int partitions = 1);

struct RestoreBatch {
  struct Adjustment {
    std::int64_t sku = 0;
    std::string request_id;
    std::int64_t delta = 0;
  };
  struct CustomerUnits {
    std::int64_t sku = 0;
    std::string customer;
    std::int64_t units = 0;
  };
  // The directory record of an order whose items are not all in its home partition.
  struct Directory {
    core::ReservationView order;
    bool single = false;  // one part, elsewhere (its record is the order's)
    std::vector<int> partitions;
  };
  std::vector<core::StockView> stocks;
  std::vector<core::ReservationView> reservations;
  // A part of an order spanning partitions, with the order's whole request.
  struct Part {
    core::ReservationView part;
    std::vector<core::Item> order_items;
    bool order_confirm = false;
  };
  std::vector<Part> parts;
  std::vector<Directory> directories;
  std::vector<Adjustment> adjustments;
  std::vector<CustomerUnits> customers;
  // Orders past retention whose home is this partition: their records stay in the history, their
  // order_ids are remembered (as retention remembers them).
  std::vector<std::string> retired;
};

// Ok unless Redis holds keys of the layout before partitions (keyspace.h), which the store would
// not see: the origin and sync refuse to start on them, with what to do. Fails kUnavailable when
// Redis cannot be asked.
core::Status CheckKeyspaceLayout(RedisClient& redis, std::string_view prefix);

// Records the store's partition count in Redis (PartitionCountKey) the first time, and after
// that is ok only when `partitions` matches it: the count fixes where every key lives. A keyspace
// that holds data but no count was written with one partition. Fails kInvalidState on a
// mismatch, kUnavailable when Redis cannot be asked.
core::Status CheckPartitionCount(RedisClient& redis, std::string_view prefix, int partitions);

// Ok when no partition holds a SKU, live hold or snapshot version or an outbox stream (a sync
// that recreated it may still be running).
core::Status KeyspaceIsEmpty(RedisClient& redis, std::string_view prefix, int partitions = 1);
core::Status Restore(RedisClient& redis, std::string_view prefix, const RestoreBatch& batch,
                     std::int64_t now_ms, int partition = 0, int partitions = 1);
// Ends the partition's rebuild: sets its snapshot version 2^40 past the restored sum, with every
// SKU changed there (lua/restore.lua, restored), so a reader's older cursor lists them all;
// creates the partition's stream and the sync group if missing and moves the stream's last id to
// `last_event`, so that ids of new events sort after the restored history's.
core::Status FinishRestore(RedisClient& redis, std::string_view prefix, StreamId last_event,
                           std::int64_t now_ms, int partition = 0, int partitions = 1);

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_RECOVERY_H_
