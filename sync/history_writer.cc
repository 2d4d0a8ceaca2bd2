#include "sync/history_writer.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <type_traits>

namespace stockgate::sync {
namespace {

using store::LedgerRecord;
using store::OutboxEntry;

constexpr int kDuplicateRetries = 5;

std::string N(std::int64_t v) { return std::to_string(v); }

// Appends numbers as decimal text and strings as they are. (One append per part also avoids a
// false -Wrestrict that GCC 12 raises on chains of "literal" + std::string.)
void Put(std::string*) {}
template <class First, class... Rest>
void Put(std::string* out, const First& first, const Rest&... rest) {
  if constexpr (std::is_integral_v<First>) {
    *out += std::to_string(first);
  } else {
    *out += first;
  }
  Put(out, rest...);
}

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0 && c >= 0xC2)
    len = 2;
  else if ((c & 0xF0) == 0xE0)
    len = 3;
  else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
    len = 4;
  else
    return 0;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

std::string SafeText(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = Utf8Length(text, i);
    const std::size_t take = len == 0 ? 1 : len;
    if (out.size() + take > max_bytes) break;
    if (len == 0) {
      out += '?';
    } else {
      out.append(text.substr(i, len));
    }
    i += take;
  }
  return out;
}

namespace {

// Why one attempt failed, as the steps of its transaction record it.
struct Failure {
  bool transport_error = false;  // the connection is gone: no ROLLBACK on it
  std::string error;
};

class Batch {
 public:
  Batch(history::MariaDbConnection& conn, const std::vector<OutboxEntry>& entries)
      : conn_(conn), entries_(entries) {}

  core::Result<WriteCounts> Run() {
    for (int attempt = 0;; ++attempt) {
      core::Result<WriteCounts> r = Once();
      if (r.ok() || conn_.broken() || attempt >= kDuplicateRetries || !retry_) return r;
    }
  }

 private:
  // One transaction; sets retry_ when a concurrent writer got in the way (deadlock, or a
  // duplicate that appeared between our check and our insert).
  core::Result<WriteCounts> Once() {
    retry_ = false;
    Failure result;
    const auto failed = [&result] { return core::Fail(core::Code::kUnavailable, result.error); };
    if (!Exec("START TRANSACTION", &result)) return failed();
    std::vector<const LedgerRecord*> ledger;
    std::vector<const OutboxEntry*> stocks;
    std::vector<const OutboxEntry*> reservations;
    for (const OutboxEntry& e : entries_) {
      for (const LedgerRecord& event : e.events) ledger.push_back(&event);
      if (e.stock) stocks.push_back(&e);
      if (e.reservation) reservations.push_back(&e);
    }
    std::vector<const LedgerRecord*> fresh;
    if (!InsertLedger(ledger, &fresh, &result) || !ApplyCounters(fresh, &result) ||
        !ApplyStocks(stocks, &result) || !ApplyReservations(reservations, &result) ||
        !Exec("COMMIT", &result)) {
      if (!result.transport_error) conn_.Query("ROLLBACK");
      return failed();
    }
    WriteCounts counts;
    counts.inserted = static_cast<std::int64_t>(fresh.size());
    counts.duplicates = static_cast<std::int64_t>(ledger.size() - fresh.size());
    counts.records = static_cast<std::int64_t>(stocks.size() + reservations.size());
    return counts;
  }

  bool Exec(const std::string& sql, Failure* result) {
    const history::QueryResult r = conn_.Query(sql);
    if (r.ok) {
      last_ = r;
      return true;
    }
    result->transport_error = r.transport_error();
    result->error = r.error;
    retry_ = r.retryable() || r.duplicate_key();
    return false;
  }

  // Inserts the events; on a duplicate, rolls back to inserting only those not there yet.
  bool InsertLedger(const std::vector<const LedgerRecord*>& ledger,
                    std::vector<const LedgerRecord*>* fresh, Failure* result) {
    if (ledger.empty()) return true;
    const history::QueryResult all = conn_.Query(InsertSql(ledger));
    if (all.ok) {
      *fresh = ledger;
      return true;
    }
    if (!all.duplicate_key()) {
      result->transport_error = all.transport_error();
      result->error = all.error;
      retry_ = all.retryable();
      return false;
    }
    // A replay. The failed statement changed nothing; find what is already there (locking
    // those rows) and insert the rest.
    std::string ids;
    for (const LedgerRecord* e : ledger) {
      if (!ids.empty()) ids += ',';
      ids += N(e->id.Packed());
    }
    std::string select;
    Put(&select, "SELECT event_id FROM inventory_history WHERE event_id IN (", ids,
        ") LOCK IN SHARE MODE");
    if (!Exec(select, result)) {
      return false;
    }
    std::set<std::string> present;
    for (const history::Row& row : last_.rows) present.insert(row[0].value_or(""));
    for (const LedgerRecord* e : ledger) {
      if (!present.count(N(e->id.Packed()))) fresh->push_back(e);
    }
    return fresh->empty() || Exec(InsertSql(*fresh), result);
  }

  std::string InsertSql(const std::vector<const LedgerRecord*>& events) {
    std::string sql =
        "INSERT INTO inventory_history (event_id, sku, ref, op, qty, before_available, "
        "after_available, actor, reason, time_ms, version) VALUES ";
    bool first = true;
    for (const LedgerRecord* e : events) {
      const LedgerRecord& l = *e;
      sql += first ? "(" : ",(";
      first = false;
      sql += N(l.id.Packed());
      sql += ',';
      sql += N(l.sku);
      sql += ',';
      sql += conn_.Quote(SafeText(l.ref, 64));
      sql += ",'";
      sql += core::LedgerOpName(l.op);
      sql += "',";
      sql += N(l.qty);
      sql += ',';
      sql += N(l.before);
      sql += ',';
      sql += N(l.after);
      sql += ',';
      sql += conn_.Quote(SafeText(l.actor, 255));
      sql += ',';
      sql += conn_.Quote(SafeText(l.reason, 1024));
      sql += ',';
      sql += N(l.time_ms);
      sql += ',';
      sql += N(l.version);
      sql += ')';
    }
    return sql;
  }

  // The inventory counters move by the new events only, summed per SKU (additions commute, so
  // batches of different consumers may commit in any order).
  bool ApplyCounters(const std::vector<const LedgerRecord*>& fresh, Failure* result) {
    struct Sum {
      core::StockCounters delta;
      std::int64_t version = 0;
      std::int64_t time_ms = 0;
    };
    std::map<std::int64_t, Sum> by_sku;
    for (const LedgerRecord* e : fresh) {
      Sum& s = by_sku[e->sku];
      s.delta += core::DeltaOf(e->op, e->qty);
      s.version = std::max(s.version, e->version);
      s.time_ms = std::max(s.time_ms, e->time_ms);
    }
    if (by_sku.empty()) return true;
    std::string sql =
        "INSERT INTO inventory (sku, on_hand, reserved, sold, version, updated_at_ms) VALUES ";
    bool first = true;
    for (const auto& [sku, s] : by_sku) {
      sql += first ? "(" : ",(";
      first = false;
      Put(&sql, sku, ",", s.delta.on_hand, ",", s.delta.reserved, ",", s.delta.sold, ",", s.version,
          ",", s.time_ms, ")");
    }
    sql +=
        " ON DUPLICATE KEY UPDATE on_hand = on_hand + VALUES(on_hand), reserved = reserved + "
        "VALUES(reserved), sold = sold + VALUES(sold), version = GREATEST(version, "
        "VALUES(version)), updated_at_ms = GREATEST(updated_at_ms, VALUES(updated_at_ms))";
    return Exec(sql, result);
  }

  // A SKU's options follow its newest stock record (limit_event); the assignments read the row's
  // old limit_event, so limit_event is assigned last.
  bool ApplyStocks(const std::vector<const OutboxEntry*>& stocks, Failure* result) {
    if (stocks.empty()) return true;
    std::string sql =
        "INSERT INTO inventory (sku, per_customer_limit, low_stock_threshold, limit_event, "
        "version, "
        "updated_at_ms) VALUES ";
    bool first = true;
    for (const OutboxEntry* e : stocks) {
      sql += first ? "(" : ",(";
      first = false;
      Put(&sql, e->stock->sku, ",", e->stock->limit, ",", e->stock->low_stock_threshold, ",",
          e->id.Packed(), ",", e->stock->version, ",", e->stock->time_ms, ")");
    }
    sql +=
        " ON DUPLICATE KEY UPDATE per_customer_limit = IF(VALUES(limit_event) > limit_event, "
        "VALUES(per_customer_limit), per_customer_limit), low_stock_threshold = "
        "IF(VALUES(limit_event) > limit_event, VALUES(low_stock_threshold), low_stock_threshold), "
        "version = GREATEST(version, "
        "VALUES(version)), updated_at_ms = GREATEST(updated_at_ms, VALUES(updated_at_ms)), "
        "limit_event = GREATEST(limit_event, VALUES(limit_event))";
    return Exec(sql, result);
  }

  bool ApplyReservations(const std::vector<const OutboxEntry*>& records, Failure* result) {
    if (records.empty()) return true;
    std::string sql =
        "INSERT INTO reservations (order_id, status, items, customer_id, ttl_seconds, confirm, "
        "expires_at_ms, created_at_ms, updated_at_ms, last_event) VALUES ";
    bool first = true;
    for (const OutboxEntry* e : records) {
      const core::ReservationView& r = *e->reservation;
      sql += first ? "(" : ",(";
      first = false;
      sql += conn_.Quote(SafeText(r.order_id, 64));
      sql += ",'";
      sql += core::ReservationStatusName(r.status);
      sql += "',";
      sql += conn_.Quote(store::FormatItemsField(r.items));
      sql += ',';
      sql += conn_.Quote(SafeText(r.customer_id, 64));
      Put(&sql, ",", r.ttl_seconds, ",", r.confirm ? "1" : "0", ",", r.expires_at_ms, ",",
          r.created_at_ms, ",", r.updated_at_ms, ",", e->id.Packed(), ")");
    }
    sql += " ON DUPLICATE KEY UPDATE ";
    for (const char* column : {"status", "items", "customer_id", "ttl_seconds", "confirm",
                               "expires_at_ms", "created_at_ms", "updated_at_ms"}) {
      sql += column;
      sql += " = IF(VALUES(last_event) > last_event, VALUES(";
      sql += column;
      sql += "), ";
      sql += column;
      sql += "), ";
    }
    sql += "last_event = GREATEST(last_event, VALUES(last_event))";
    return Exec(sql, result);
  }

  history::MariaDbConnection& conn_;
  const std::vector<OutboxEntry>& entries_;
  history::QueryResult last_;
  bool retry_ = false;
};

}  // namespace

core::Result<WriteCounts> WriteBatch(history::MariaDbConnection& conn,
                                     const std::vector<OutboxEntry>& entries) {
  return Batch(conn, entries).Run();
}

}  // namespace stockgate::sync
