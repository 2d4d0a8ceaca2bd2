#include "origin/history/mariadb_history.h"

#include <string>

#include "origin/history/mariadb.h"

namespace stockgate::history {
namespace {

double ToDouble(const std::optional<std::string>& v) { return v ? std::stod(*v) : 0.0; }

std::string EventIdText(std::int64_t packed) {
  const auto u = static_cast<std::uint64_t>(packed);
  std::string out = std::to_string(u >> 20);
  out += '-';
  out += std::to_string(u & ((std::uint64_t{1} << 20) - 1));
  return out;
}

bool KnownOp(std::string_view op) {
  for (const char* known : {"set", "adjust", "reserve", "confirm", "release", "expire", "return"}) {
    if (op == known) return true;
  }
  return false;
}

std::string TimeRange(std::int64_t from_ms, std::int64_t to_ms) {
  std::string where = " AND time_ms >= ";
  where += std::to_string(from_ms);
  where += " AND time_ms < ";
  where += std::to_string(to_ms);
  return where;
}

}  // namespace

MariaDbHistory::MariaDbHistory(const MySqlConfig& config)
    : pool_(std::make_unique<MariaDbPool>(config)) {}
MariaDbHistory::~MariaDbHistory() = default;

HistoryPage MariaDbHistory::History(const HistoryQuery& q) {
  HistoryPage page;
  if (!q.op.empty() && !KnownOp(q.op)) {
    page.code = Code::kInvalidRequest;
    page.message = "unknown op";
    return page;
  }
  std::string where = " WHERE sku = ";
  where += std::to_string(q.sku);
  where += TimeRange(q.from_ms, q.to_ms);
  if (!q.op.empty()) {
    where += " AND op = '";
    where += q.op;
    where += "'";
  }
  const core::Status status = pool_->With([&](MariaDbConnection& conn) -> core::Status {
    // One snapshot for the count and the page, so total and items agree.
    conn.Query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
    const QueryResult count = conn.Query("SELECT COUNT(*) FROM inventory_history" + where);
    std::string sql =
        "SELECT event_id, sku, ref, op, qty, before_available, after_available, actor, "
        "reason, time_ms, version FROM inventory_history";
    sql += where;
    sql += " ORDER BY event_id DESC LIMIT ";
    sql += std::to_string(q.page_size);
    sql += " OFFSET ";
    sql += std::to_string((q.page - 1) * q.page_size);
    const QueryResult rows = conn.Query(sql);
    conn.Query("COMMIT");
    if (!count.ok || !rows.ok) return count.ok ? rows.failure() : count.failure();
    page.total = count.rows.empty() ? 0 : IntOf(count.rows[0][0]);
    for (const Row& r : rows.rows) {
      HistoryEvent e;
      e.event_id = EventIdText(IntOf(r[0]));
      e.sku = IntOf(r[1]);
      e.ref = r[2].value_or("");
      e.op = r[3].value_or("");
      e.qty = IntOf(r[4]);
      e.before = IntOf(r[5]);
      e.after = IntOf(r[6]);
      e.actor = r[7].value_or("");
      e.reason = r[8].value_or("");
      e.time_ms = IntOf(r[9]);
      e.version = IntOf(r[10]);
      page.items.push_back(std::move(e));
    }
    return {};
  });
  if (!status) {
    page = {};
    page.code = status.code();
    page.message = status.error();
  }
  return page;
}

ArchivedReservation MariaDbHistory::Reservation(const std::string& order_id) {
  ArchivedReservation a;
  const core::Status status = pool_->With([&](MariaDbConnection& conn) -> core::Status {
    const QueryResult r = conn.Query(std::string("SELECT ") + kReservationColumns +
                                     " FROM reservations WHERE order_id = " + conn.Quote(order_id));
    if (!r.ok) return r.failure();
    if (r.rows.empty()) {
      a.code = Code::kNotFound;
      a.message = "reservation " + order_id + " not found";
      return {};
    }
    a.record = ReservationRecordOf(r.rows[0]);
    return {};
  });
  if (!status) {
    a = {};
    a.code = status.code();
    a.message = status.error();
  }
  return a;
}

SummaryResult MariaDbHistory::Summary(const SummaryQuery& q) {
  SummaryResult result;
  std::string sql =
      "SELECT sku, op, COUNT(*), SUM(qty), MIN(qty), MAX(qty), AVG(qty) FROM inventory_history "
      "WHERE 1 = 1";
  sql += TimeRange(q.from_ms, q.to_ms);
  if (!q.skus.empty()) {
    sql += " AND sku IN (";
    sql += JoinInts(q.skus);
    sql += ")";
  }
  // ENUM columns sort by their position; CAST sorts ops by name as promised.
  sql += " GROUP BY sku, op ORDER BY sku, CAST(op AS CHAR)";
  const core::Status status = pool_->With([&](MariaDbConnection& conn) -> core::Status {
    const QueryResult rows = conn.Query(sql);
    if (!rows.ok) return rows.failure();
    for (const Row& r : rows.rows) {
      result.rows.push_back({IntOf(r[0]), r[1].value_or(""), IntOf(r[2]), IntOf(r[3]), IntOf(r[4]),
                             IntOf(r[5]), ToDouble(r[6])});
    }
    return {};
  });
  if (!status) {
    result = {};
    result.code = status.code();
    result.message = status.error();
  }
  return result;
}

bool MariaDbHistory::Ping() {
  return pool_
      ->With([](MariaDbConnection& conn) {
        const QueryResult r = conn.Query("SELECT 1");
        return r.ok ? core::Status() : r.failure();
      })
      .ok();
}

}  // namespace stockgate::history
