// HistoryReader: the read side of the durable history that the sync worker writes to MariaDB, as
// the HTTP API needs it: one SKU's ledger events, newest first and paged, and per-SKU, per-op
// aggregates over a time range. MariaDbHistory is the real one; API tests put a fake behind it.
// A reader that cannot reach its database answers Code::kUnavailable within its timeouts.
#ifndef STOCKGATE_ORIGIN_HISTORY_HISTORY_READER_H_
#define STOCKGATE_ORIGIN_HISTORY_HISTORY_READER_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/status.h"

namespace stockgate::history {

using core::Code;

// One ledger event as stored (DESIGN invariant 3), with its stream entry id as event id.
struct HistoryEvent {
  std::string event_id;  // the Redis stream entry id, "<ms>-<seq>"; unique, ordered
  std::int64_t sku = 0;
  std::string ref;          // order_id, request_id, or "" (set)
  std::string op;           // set adjust reserve confirm release expire return
  std::int64_t qty = 0;     // signed for set and adjust
  std::int64_t before = 0;  // available units before the event
  std::int64_t after = 0;   // available units after it
  std::string actor;
  std::string reason;
  std::int64_t time_ms = 0;
  std::int64_t version = 0;  // the SKU's version after the event
  friend bool operator==(const HistoryEvent&, const HistoryEvent&) = default;
};

inline constexpr std::int64_t kMinTime = 0;
inline constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kDefaultPageSize = 50;
inline constexpr std::int64_t kMaxPageSize = 1000;

// GET /v1/stock/{sku}/history. Time range is [from_ms, to_ms); op "" means every op.
struct HistoryQuery {
  std::int64_t sku = 0;
  std::int64_t from_ms = kMinTime;
  std::int64_t to_ms = kMaxTime;
  std::string op;
  std::int64_t page = 1;  // 1-based
  std::int64_t page_size = kDefaultPageSize;
};

struct HistoryPage {
  Code code = Code::kOk;  // kUnavailable when the database could not answer
  std::string message;
  std::int64_t total = 0;           // events matching the filters, over all pages
  std::vector<HistoryEvent> items;  // newest first (event id descending)
};

// GET /v1/history/summary: events in [from_ms, to_ms), grouped by SKU and op.
struct SummaryQuery {
  std::int64_t from_ms = kMinTime;
  std::int64_t to_ms = kMaxTime;
  std::vector<std::int64_t> skus;  // empty: every SKU
};

struct SummaryRow {
  std::int64_t sku = 0;
  std::string op;
  std::int64_t count = 0;
  std::int64_t total = 0;  // sum of qty
  std::int64_t min = 0;
  std::int64_t max = 0;
  double avg = 0;
  friend bool operator==(const SummaryRow&, const SummaryRow&) = default;
};

struct SummaryResult {
  Code code = Code::kOk;
  std::string message;
  std::vector<SummaryRow> rows;  // by sku, then op name
};

// One row of the reservations table, as stored: the status by name and the items as the store
// writes them. store::ViewOfRecord turns it into the core's ReservationView (the API's archived
// reads and sync's rebuild both do).
struct ReservationRecord {
  std::string order_id;
  std::string status;  // reserved confirmed released expired returned
  std::string items;   // as the store writes them: "S:qty,S:qty"
  std::string customer_id;
  std::int64_t ttl_seconds = 0;
  bool confirm = false;
  std::int64_t expires_at_ms = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};
// The reservations table's columns a ReservationRecord is read from, in its fields' order.
inline constexpr const char* kReservationColumns =
    "order_id, status, items, customer_id, ttl_seconds, confirm, expires_at_ms, created_at_ms, "
    "updated_at_ms";

// GET /v1/reservations/{order_id} of an order whose record has left Redis (retention): its last
// record as the history keeps it.
struct ArchivedReservation {
  Code code = Code::kOk;  // kNotFound: not in the history either; kUnavailable
  std::string message;
  ReservationRecord record;
};

class HistoryReader {
 public:
  virtual ~HistoryReader() = default;
  virtual HistoryPage History(const HistoryQuery& query) = 0;
  virtual SummaryResult Summary(const SummaryQuery& query) = 0;
  virtual ArchivedReservation Reservation(const std::string& order_id) = 0;
  // Is the database reachable now (for /readyz)?
  virtual bool Ping() = 0;
};

}  // namespace stockgate::history

#endif  // STOCKGATE_ORIGIN_HISTORY_HISTORY_READER_H_
