// The ledger stream (P:ledger) and record formats the Lua scripts write, read back into typed
// records: entry ids, ledger events, stock options, reservation records (their layout is
// documented in lua/common.lua). The store owns the keyspace, so its formats are read here; the
// consumer that drains the stream is sync's (sync/outbox.h).
#ifndef STOCKGATE_ORIGIN_STORE_LEDGER_STREAM_H_
#define STOCKGATE_ORIGIN_STORE_LEDGER_STREAM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/inventory_model.h"
#include "core/result.h"
#include "origin/history/history_reader.h"
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
  std::int64_t low_stock_threshold = 0;  // 0 none (and in entries from before it existed)
  friend bool operator==(const StockRecord&, const StockRecord&) = default;
};

// One change, as its entry says (the format is documented in lua/common.lua): the ledger events
// it carries, derived here with the core's replay rules, and the records it leaves.
struct OutboxEntry {
  StreamId id;
  std::vector<LedgerRecord> events;
  std::optional<StockRecord> stock;  // after a PUT: the SKU's options
  // After a reservation change: its record (none for a part of an order spanning partitions,
  // whose record comes in the entries of the order's directory; lua/common.lua).
  std::optional<core::ReservationView> reservation;
};

// Malformed stored data fails these with kUnavailable: the store cannot serve it as it is.

// Decodes one XRANGE/XREADGROUP entry ([id, [field, value, ...]]). Fails with a reason for an
// entry that is not one of the three kinds of change or has a malformed field. An entry of the
// earlier format (one entry per event, field `kind`) is refused with a message that says so.
core::Result<OutboxEntry> DecodeOutboxEntry(const Reply& entry);

// "S:q,S:q" (the reservation hash's items field) to items, at least one.
core::Result<std::vector<core::Item>> ParseItemsField(std::string_view text);
std::string FormatItemsField(const std::vector<core::Item>& items);

// A row of the history's reservations table as the view it records; fails (kUnavailable) on an
// unknown status or malformed items.
core::Result<core::ReservationView> ViewOfRecord(const history::ReservationRecord& record);

// A reservation record, "status|items|customer|ttl|confirm|expires_at|created_at|updated_at" (the
// layout of lua/common.lua, as P:res:{O} and the outbox hold it): all but order_id.
core::Result<core::ReservationView> ParseReservationRecord(std::string_view text);

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_LEDGER_STREAM_H_
