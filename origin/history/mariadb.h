// MariaDbConnection and MariaDbPool: the thin layer over MariaDB Connector/C that the history
// reader and the sync worker share. A connection runs text-protocol statements and hands back
// rows as strings (NULL as nullopt) or the error number; the pool keeps a few connections and,
// after a transport failure, refuses calls for MySqlConfig::down_for_ms so that callers answer
// "unavailable" at once instead of each waiting out a connect timeout.
#ifndef STOCKGATE_ORIGIN_HISTORY_MARIADB_H_
#define STOCKGATE_ORIGIN_HISTORY_MARIADB_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "origin/history/history_reader.h"
#include "origin/history/mysql_config.h"

struct st_mysql;  // MYSQL, kept out of this header

namespace stockgate::history {

using Row = std::vector<std::optional<std::string>>;

// The server's answer to one statement. A driver-level record, like a Redis reply: its error
// number decides what the caller does (retry a deadlock, skip a duplicate), so it is kept whole.
struct QueryResult {
  bool ok = false;
  unsigned error_number = 0;  // the server's or client's error number when !ok
  std::string error;
  std::vector<Row> rows;            // of the statement's result set, if it had one
  std::uint64_t affected_rows = 0;  // of an INSERT/UPDATE/DELETE

  // Client-side errors that mean the connection is gone or never came (2002 ... 2013, 2026...).
  bool transport_error() const;
  bool duplicate_key() const { return error_number == 1062; }
  // Deadlock or lock wait timeout: the transaction was rolled back and may simply be retried.
  bool retryable() const { return error_number == 1213 || error_number == 1205; }
  // When !ok: the failure to pass on, "history database error: <error>" (kUnavailable).
  core::Error failure() const {
    return core::Fail(core::Code::kUnavailable, "history database error: " + error);
  }
};

class MariaDbConnection {
 public:
  // Connects with the config's timeouts. With select_database false it connects without one
  // (to create it). Never null when ok.
  static core::Result<std::unique_ptr<MariaDbConnection>> Open(const MySqlConfig& config,
                                                               bool select_database);
  ~MariaDbConnection();
  MariaDbConnection(const MariaDbConnection&) = delete;
  MariaDbConnection& operator=(const MariaDbConnection&) = delete;

  QueryResult Query(std::string_view sql);
  // The text as a quoted SQL string literal, escaped for this connection's character set.
  std::string Quote(std::string_view text);
  bool broken() const { return broken_; }  // saw a transport error; do not reuse

 private:
  explicit MariaDbConnection(st_mysql* mysql) : mysql_(mysql) {}
  st_mysql* mysql_;
  bool broken_ = false;
};

class MariaDbPool {
 public:
  explicit MariaDbPool(MySqlConfig config);
  ~MariaDbPool();

  // Runs fn on a pooled connection. A failure to connect, or fn's connection breaking, opens the
  // breaker: for down_for_ms every call fails at once (kUnavailable) and fn is not called.
  // Returns that failure, or else what fn returned.
  core::Status With(const std::function<core::Status(MariaDbConnection&)>& fn);
  const MySqlConfig& config() const { return config_; }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point Now() const { return config_.now ? config_.now() : Clock::now(); }
  const MySqlConfig config_;
  std::mutex mu_;
  std::vector<std::unique_ptr<MariaDbConnection>> idle_;
  Clock::time_point down_until_{};
  std::string last_error_;
};

// A column as an integer: 0 for NULL or text that is not one.
std::int64_t IntOf(const std::optional<std::string>& column);
// The ReservationRecord of a row whose first columns are kReservationColumns.
ReservationRecord ReservationRecordOf(const Row& row);

// "1,2,3" from integers, for IN (...) lists.
std::string JoinInts(const std::vector<std::int64_t>& values);

}  // namespace stockgate::history

#endif  // STOCKGATE_ORIGIN_HISTORY_MARIADB_H_
