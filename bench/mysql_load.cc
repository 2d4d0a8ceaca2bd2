// stockgate-mysql-load: the seed designs' MySQL stock deductions under concurrent clients, for
// bench/origin_bench.mjs to set beside the origin. Each connection is a thread repeating one sale
// of one unit of one row (`inventory`: goods, stocks, version) until the time is up:
//   hot         UPDATE ... SET stocks = stocks - 1 WHERE goods = G AND stocks >= 1 (autocommit)
//   version     SELECT stocks, version; UPDATE ... SET stocks = stocks - 1, version = version + 1
//               WHERE goods = G AND version = V; no row changed is a conflict: read and try again
//   for_update  START TRANSACTION; SELECT stocks ... FOR UPDATE; UPDATE ...; COMMIT
// Prints JSON: sales made, conflicts retried, errors, seconds, and latency percentiles per sale
// (from the first attempt to the committed deduction).
#include <mysql.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string user = "root";
  std::string database = "stockgate_bench";
  std::string mode = "hot";
  int connections = 32;
  double duration_s = 3;
  std::int64_t goods = 1;
};

struct Worker {
  std::int64_t sales = 0;
  std::int64_t conflicts = 0;
  std::int64_t sold_out = 0;
  std::int64_t errors = 0;
  std::string first_error;
  std::vector<double> latency_ms;
};

using Clock = std::chrono::steady_clock;

// Runs a statement; on failure records the error and returns false. Results are read and freed.
bool Exec(MYSQL* db, const std::string& sql, Worker* w, MYSQL_RES** result = nullptr) {
  if (mysql_real_query(db, sql.data(), sql.size()) != 0) {
    if (w->first_error.empty()) w->first_error = mysql_error(db);
    ++w->errors;
    return false;
  }
  MYSQL_RES* r = mysql_store_result(db);
  if (result != nullptr) {
    *result = r;
  } else if (r != nullptr) {
    mysql_free_result(r);
  }
  return true;
}

// One row of two integers (stocks, version), or false.
bool ReadRow(MYSQL* db, const std::string& sql, Worker* w, std::int64_t* a, std::int64_t* b) {
  MYSQL_RES* r = nullptr;
  if (!Exec(db, sql, w, &r) || r == nullptr) return false;
  MYSQL_ROW row = mysql_fetch_row(r);
  const bool ok = row != nullptr && row[0] != nullptr;
  if (ok) {
    *a = std::stoll(row[0]);
    if (b != nullptr && mysql_num_fields(r) > 1 && row[1] != nullptr) *b = std::stoll(row[1]);
  }
  mysql_free_result(r);
  return ok;
}

// One sale; true when a unit was deducted.
bool Sell(MYSQL* db, const Options& o, Worker* w) {
  const std::string g = std::to_string(o.goods);
  if (o.mode == "hot") {
    if (!Exec(db,
              "UPDATE inventory SET stocks = stocks - 1 WHERE goods = " + g + " AND stocks >= 1",
              w)) {
      return false;
    }
    if (mysql_affected_rows(db) == 1) return true;
    ++w->sold_out;
    return false;
  }
  if (o.mode == "version") {
    for (;;) {
      std::int64_t stocks = 0;
      std::int64_t version = 0;
      if (!ReadRow(db, "SELECT stocks, version FROM inventory WHERE goods = " + g, w, &stocks,
                   &version)) {
        return false;
      }
      if (stocks < 1) {
        ++w->sold_out;
        return false;
      }
      if (!Exec(db,
                "UPDATE inventory SET stocks = stocks - 1, version = version + 1 WHERE goods = " +
                    g + " AND version = " + std::to_string(version),
                w)) {
        return false;
      }
      if (mysql_affected_rows(db) == 1) return true;
      ++w->conflicts;  // another client sold first: read again
    }
  }
  // for_update
  if (!Exec(db, "START TRANSACTION", w)) return false;
  std::int64_t stocks = 0;
  if (!ReadRow(db, "SELECT stocks FROM inventory WHERE goods = " + g + " FOR UPDATE", w, &stocks,
               nullptr)) {
    Exec(db, "ROLLBACK", w);
    return false;
  }
  if (stocks < 1) {
    ++w->sold_out;
    Exec(db, "ROLLBACK", w);
    return false;
  }
  if (!Exec(db, "UPDATE inventory SET stocks = stocks - 1 WHERE goods = " + g, w) ||
      !Exec(db, "COMMIT", w)) {
    Exec(db, "ROLLBACK", w);
    return false;
  }
  return true;
}

double Percentile(std::vector<double>& xs, double p) {
  if (xs.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(k), xs.end());
  return xs[k];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"The seed designs' MySQL stock deductions under concurrent clients. Prints JSON."};
  app.add_option("--host", o.host)->capture_default_str();
  app.add_option("--port", o.port)->required()->check(CLI::Range(1, 65535));
  app.add_option("--user", o.user)->capture_default_str();
  app.add_option("--database", o.database)->capture_default_str();
  app.add_option("--mode", o.mode, "hot | version | for_update")
      ->check(CLI::IsMember({"hot", "version", "for_update"}))
      ->capture_default_str();
  app.add_option("--connections,-c", o.connections)
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--duration,-d", o.duration_s)
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--goods", o.goods, "Row of inventory to sell from")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (mysql_library_init(0, nullptr, nullptr) != 0) {
    std::fprintf(stderr, "stockgate-mysql-load: cannot initialize the client library\n");
    return 1;
  }
  std::vector<MYSQL*> dbs;
  for (int i = 0; i < o.connections; ++i) {
    MYSQL* db = mysql_init(nullptr);
    const unsigned protocol = MYSQL_PROTOCOL_TCP;
    mysql_options(db, MYSQL_OPT_PROTOCOL, &protocol);
    if (mysql_real_connect(db, o.host.c_str(), o.user.c_str(), nullptr, o.database.c_str(), o.port,
                           nullptr, 0) == nullptr) {
      std::fprintf(stderr, "stockgate-mysql-load: connect: %s\n", mysql_error(db));
      return 1;
    }
    dbs.push_back(db);
  }
  std::vector<Worker> workers(dbs.size());
  std::latch ready(static_cast<std::ptrdiff_t>(dbs.size()) + 1);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < dbs.size(); ++i) {
    threads.emplace_back([&, i] {
      mysql_thread_init();
      ready.arrive_and_wait();
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        if (Sell(dbs[i], o, &workers[i])) {
          ++workers[i].sales;
          workers[i].latency_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } else if (workers[i].errors > 100) {
          break;  // a broken server: report, do not spin
        }
      }
      mysql_thread_end();
    });
  }
  ready.arrive_and_wait();
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  stop = true;
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (MYSQL* db : dbs) mysql_close(db);
  mysql_library_end();

  Worker all;
  for (Worker& w : workers) {
    all.sales += w.sales;
    all.conflicts += w.conflicts;
    all.sold_out += w.sold_out;
    all.errors += w.errors;
    if (all.first_error.empty()) all.first_error = w.first_error;
    all.latency_ms.insert(all.latency_ms.end(), w.latency_ms.begin(), w.latency_ms.end());
  }
  double sum = 0;
  for (double x : all.latency_ms) sum += x;
  const nlohmann::json out = {
      {"mode", o.mode},
      {"connections", o.connections},
      {"sales", all.sales},
      {"conflicts", all.conflicts},
      {"sold_out", all.sold_out},
      {"errors", all.errors},
      {"first_error", all.first_error},
      {"seconds", seconds},
      {"rps", static_cast<double>(all.sales) / seconds},
      {"p50_ms", Percentile(all.latency_ms, 0.5)},
      {"p99_ms", Percentile(all.latency_ms, 0.99)},
      {"mean_ms", all.latency_ms.empty() ? 0 : sum / static_cast<double>(all.latency_ms.size())},
  };
  std::printf("%s\n", out.dump().c_str());
  return all.errors == 0 ? 0 : 1;
}
