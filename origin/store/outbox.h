// Outbox: the reading side of the ledger stream (P:ledger), for the sync worker and the audit
// tools. It decodes stream entries into typed records (ledger events, stock options, reservation
// records; their layout is documented in lua/common.lua) and wraps the consumer-group commands
// sync needs: create the group, read new entries, re-read and claim pending ones, acknowledge,
// and trim what every reader has acknowledged. Transport failures come back as values.
#ifndef STOCKGATE_ORIGIN_STORE_OUTBOX_H_
#define STOCKGATE_ORIGIN_STORE_OUTBOX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/inventory_model.h"
#include "origin/store/redis_pool.h"

namespace stockgate::store {

// A stream entry id "<ms>-<seq>". Packed() orders like the id and fits a signed 64-bit column
// while seq < 2^20 (a million ids in one millisecond; one change spans at most 200: a direct sale
// of 100 items).
struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  static constexpr int kSeqBits = 20;

  std::string Text() const;
  std::int64_t Packed() const { return static_cast<std::int64_t>((ms << kSeqBits) | seq); }
  static StreamId FromPacked(std::int64_t packed);
  // "<ms>-<seq>" with both parts decimal; false for anything else or seq >= 2^20.
  static bool Parse(std::string_view text, StreamId* out);
  friend auto operator<=>(const StreamId&, const StreamId&) = default;
};

struct LedgerRecord {
  StreamId id;  // the event's own id: its entry's id plus its position in the entry
  std::int64_t sku = 0;
  std::string ref;
  core::LedgerOp op = core::LedgerOp::kSet;
  std::int64_t qty = 0;
  std::int64_t before = 0;
  std::int64_t after = 0;
  std::string actor;
  std::string reason;
  std::int64_t time_ms = 0;
  std::int64_t version = 0;  // the SKU's version after the event
  friend bool operator==(const LedgerRecord&, const LedgerRecord&) = default;
};

struct StockRecord {
  std::int64_t sku = 0;
  std::int64_t limit = 0;  // per-customer limit, 0 none
  std::int64_t version = 0;
  std::int64_t time_ms = 0;
  friend bool operator==(const StockRecord&, const StockRecord&) = default;
};

// One change, as its entry says (the format is documented in lua/common.lua): the ledger events
// it carries, derived here with the core's replay rules, and the records it leaves.
struct OutboxEntry {
  StreamId id;
  std::vector<LedgerRecord> events;
  std::optional<StockRecord> stock;                  // after a PUT: the SKU's options
  std::optional<core::ReservationView> reservation;  // after a reservation change: its record
};

// Decodes one XRANGE/XREADGROUP entry ([id, [field, value, ...]]). False with a reason for an
// entry that is not one of the three kinds of change or has a malformed field. An entry of the
// earlier format (one entry per event, field `kind`) is refused with a message that says so.
bool DecodeOutboxEntry(const Reply& entry, OutboxEntry* out, std::string* error);

// "S:q,S:q" (the reservation hash's items field) to items; false when malformed.
bool ParseItemsField(std::string_view text, std::vector<core::Item>* items);
std::string FormatItemsField(const std::vector<core::Item>& items);

// A reservation record, "status|items|customer|ttl|confirm|expires_at|created_at|updated_at" (the
// layout of lua/common.lua, as P:res:{O} and the outbox hold it), into *r (all but order_id);
// "" when it parsed, else why it is malformed.
std::string ParseReservationRecord(std::string_view text, core::ReservationView* r);

struct OutboxRead {
  bool ok = false;  // false: Redis unreachable or refused; see error
  std::string error;
  std::vector<OutboxEntry> entries;
  // Entries that could not be decoded (id text and why); they stay pending, unacknowledged.
  std::vector<std::pair<std::string, std::string>> malformed;
  std::string next_cursor;  // Claim: where the next XAUTOCLAIM continues ("0-0" when done)
};

struct OutboxStatus {
  bool ok = false;
  std::string error;
  std::int64_t count = 0;  // acknowledged / trimmed entries
};

class Outbox {
 public:
  Outbox(RedisPool& pool, std::string key_prefix, std::string group = "sync");

  const std::string& key() const { return key_; }
  const std::string& group() const { return group_; }

  // Creates the consumer group (at the start of the stream, creating the stream if needed);
  // an existing group is fine.
  OutboxStatus EnsureGroup();
  // Entries never delivered to the group (XREADGROUP >), waiting up to block_ms for the first.
  OutboxRead ReadNew(std::string_view consumer, int count, int block_ms);
  // Entries delivered to this consumer and not yet acknowledged (after a restart with the same
  // consumer name).
  OutboxRead ReadOwnPending(std::string_view consumer, int count);
  // Takes over entries pending on other consumers for at least min_idle_ms (a crashed sync).
  OutboxRead Claim(std::string_view consumer, std::int64_t min_idle_ms, int count,
                   std::string_view cursor);
  OutboxStatus Ack(const std::vector<StreamId>& ids);
  // Drops entries every consumer of the group has acknowledged: those before both the oldest
  // pending entry and the group's last delivered id. Other groups, if any, are not considered.
  OutboxStatus Trim();
  // Entries in the stream and entries delivered but unacknowledged, for lag reporting.
  struct Backlog {
    bool ok = false;
    std::string error;
    std::int64_t length = 0;
    std::int64_t pending = 0;
    std::int64_t undelivered = -1;  // entries after the last delivered id; -1 when unknown
  };
  Backlog Measure();
  // Removes consumers with nothing pending that have been idle for at least idle_ms.
  OutboxStatus ForgetIdleConsumers(std::int64_t idle_ms);

 private:
  OutboxRead Decode(const CommandResult& r, bool claim);

  RedisPool& pool_;
  std::string key_;
  std::string group_;
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_OUTBOX_H_
