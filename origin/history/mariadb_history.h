// MariaDbHistory: HistoryReader on the MariaDB tables the sync worker writes (see
// origin/history/migrations). Holds a small pool of connections; when the database is unreachable
// every call answers kUnavailable at once for a short while (MySqlConfig::down_for_ms) instead of
// waiting on each request.
#ifndef STOCKGATE_ORIGIN_HISTORY_MARIADB_HISTORY_H_
#define STOCKGATE_ORIGIN_HISTORY_MARIADB_HISTORY_H_

#include <memory>

#include "origin/history/history_reader.h"
#include "origin/history/mysql_config.h"

namespace stockgate::history {

class MariaDbPool;

class MariaDbHistory final : public HistoryReader {
 public:
  explicit MariaDbHistory(const MySqlConfig& config);
  ~MariaDbHistory() override;

  HistoryPage History(const HistoryQuery& query) override;
  SummaryResult Summary(const SummaryQuery& query) override;
  ArchivedReservation Reservation(const std::string& order_id) override;
  bool Ping() override;

 private:
  std::unique_ptr<MariaDbPool> pool_;
};

}  // namespace stockgate::history

#endif  // STOCKGATE_ORIGIN_HISTORY_MARIADB_HISTORY_H_
