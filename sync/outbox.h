// Outbox: sync's reader of the ledger stream (P:ledger), a Redis consumer group. It wraps the
// commands sync needs: create the group, read new entries, re-read and claim pending ones,
// acknowledge, and trim what every reader has acknowledged; entries come back decoded
// (origin/store/ledger_stream.h). Transport failures come back as values.
#ifndef STOCKGATE_SYNC_OUTBOX_H_
#define STOCKGATE_SYNC_OUTBOX_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "origin/store/ledger_stream.h"
#include "origin/store/redis_client.h"

namespace stockgate::sync {

using store::OutboxEntry;
using store::RedisClient;
using store::StreamId;

// What a read got. A failed read (Redis unreachable or refusing) is a failed Result.
struct OutboxBatch {
  std::vector<OutboxEntry> entries;
  // Entries that could not be decoded (id text and why); they stay pending, unacknowledged.
  std::vector<std::pair<std::string, std::string>> malformed;
  std::string next_cursor;  // Claim: where the next XAUTOCLAIM continues ("0-0" when done)
};

using OutboxRead = core::Result<OutboxBatch>;
// Entries acknowledged, trimmed or consumers removed.
using OutboxCount = core::Result<std::int64_t>;

class Outbox {
 public:
  // The outbox of one partition of the store (keyspace.h).
  Outbox(RedisClient& redis, std::string key_prefix, std::string group = "sync", int partition = 0);

  const std::string& key() const { return key_; }
  const std::string& group() const { return group_; }

  // Creates the consumer group (at the start of the stream, creating the stream if needed);
  // an existing group is fine.
  OutboxCount EnsureGroup();
  // Entries never delivered to the group (XREADGROUP >), waiting up to block_ms for the first
  // (0: not at all).
  OutboxRead ReadNew(std::string_view consumer, int count, int block_ms);
  // Entries delivered to this consumer and not yet acknowledged (after a restart with the same
  // consumer name).
  OutboxRead ReadOwnPending(std::string_view consumer, int count);
  // Takes over entries pending on other consumers for at least min_idle_ms (a crashed sync).
  OutboxRead Claim(std::string_view consumer, std::int64_t min_idle_ms, int count,
                   std::string_view cursor);
  OutboxCount Ack(const std::vector<StreamId>& ids);
  // The first entry the group has not acknowledged yet: everything before it is delivered and
  // acknowledged (in MariaDB, for sync's group). It is the oldest pending entry, or the one after
  // the group's last delivered id when nothing is pending.
  core::Result<store::StreamId> SyncedBefore();
  // Drops entries every consumer of the group has acknowledged: those before SyncedBefore().
  // Other groups, if any, are not considered.
  OutboxCount Trim();
  // Entries in the stream and entries delivered but unacknowledged, for lag reporting.
  struct Backlog {
    std::int64_t length = 0;
    std::int64_t pending = 0;
    std::int64_t undelivered = -1;  // entries after the last delivered id; -1 when unknown
  };
  core::Result<Backlog> Measure();
  // Removes consumers with nothing pending that have been idle for at least idle_ms.
  OutboxCount ForgetIdleConsumers(std::int64_t idle_ms);

 private:
  OutboxRead Decode(const store::CommandResult& r, bool claim);

  RedisClient& redis_;
  std::string key_;
  std::string group_;
};

}  // namespace stockgate::sync

#endif  // STOCKGATE_SYNC_OUTBOX_H_
