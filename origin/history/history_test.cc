// The MariaDB side shared by origin and sync, against a real mariadbd: migrations apply once and
// are safe to repeat, the reader pages and filters one SKU's history and aggregates a known data
// set exactly, and a database that is gone or frozen gives kUnavailable, not a hang.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "origin/history/mariadb.h"
#include "origin/history/mariadb_history.h"
#include "origin/history/schema.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/process.h"

namespace stockgate::history {
namespace {

using stockgate::testing::MariaDbServer;

class HistoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = MariaDbServer::Start().release();
    ASSERT_NE(server_, nullptr);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    if (!server_->running()) {
      ASSERT_TRUE(server_->Restart());
    }
    config_.port = server_->port();
    config_.database = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    config_.read_timeout_s = 1;
    config_.write_timeout_s = 1;
    config_.down_for_ms = 200;
    const core::Result<std::vector<int>> m = ApplyMigrations(config_);
    ASSERT_TRUE(m.ok()) << m.error();
  }

  QueryResult Sql(const std::string& sql) {
    auto conn = MariaDbConnection::Open(config_, true);
    EXPECT_TRUE(conn.ok()) << conn.error();
    if (!conn) return {};
    QueryResult r = (*conn)->Query(sql);
    EXPECT_TRUE(r.ok) << r.error << " in " << sql;
    return r;
  }

  // Event i (1-based) at time 1000 * i: SKU 7 gets ops cycling set/reserve/confirm, SKU 8 two
  // adjusts.
  void LoadKnownData() {
    std::ostringstream sql;
    sql << "INSERT INTO inventory_history (event_id, sku, ref, op, qty, before_available, "
           "after_available, actor, reason, time_ms, version) VALUES ";
    const char* ops[] = {"set", "reserve", "confirm"};
    for (int i = 1; i <= 30; ++i) {
      sql << (i > 1 ? "," : "") << "(" << (i << 20) << ", 7, 'o" << i << "', '" << ops[(i - 1) % 3]
          << "', " << i << ", 0, 0, 'svc', '', " << 1000 * i << ", " << i << ")";
    }
    sql << ", (" << (31 << 20) << ", 8, 'r1', 'adjust', 5, 0, 5, 'admin', 'restock', 31000, 1)"
        << ", (" << (32 << 20) << ", 8, 'r2', 'adjust', -3, 5, 2, 'admin', 'damaged', 32000, 2)";
    Sql(sql.str());
  }

  static MariaDbServer* server_;
  MySqlConfig config_;
};

MariaDbServer* HistoryTest::server_ = nullptr;

// The schema is created once; a second start applies nothing and changes nothing.
TEST_F(HistoryTest, MigrationsApplyOnce) {
  const core::Result<std::vector<int>> again = ApplyMigrations(config_);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->empty());
  const QueryResult versions = Sql("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_EQ(versions.rows.size(), Migrations().size());
  EXPECT_EQ(versions.rows[0][0], "1");
  for (const char* table : {"inventory", "inventory_history", "reservations"}) {
    EXPECT_TRUE(Sql(std::string("SELECT COUNT(*) FROM ") + table).ok) << table;
  }
}

// Statements split at line-ending semicolons; comments and blank lines go.
TEST(SchemaTest, SplitsStatements) {
  const auto s = SplitStatements("-- c\nCREATE TABLE a (x INT);\n\n  -- d\nSELECT 1;\nSELECT 2");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], "CREATE TABLE a (x INT)\n");
  EXPECT_EQ(s[1], "SELECT 1\n");
  EXPECT_EQ(s[2], "SELECT 2\n");
}

// Pages are newest first, the total counts every match, and op and time filters apply.
TEST_F(HistoryTest, PagesAndFilters) {
  LoadKnownData();
  MariaDbHistory history(config_);
  HistoryQuery q;
  q.sku = 7;
  q.page_size = 4;
  HistoryPage p = history.History(q);
  ASSERT_EQ(p.code, Code::kOk) << p.message;
  EXPECT_EQ(p.total, 30);
  ASSERT_EQ(p.items.size(), 4u);
  EXPECT_EQ(p.items[0].event_id, "30-0");
  EXPECT_EQ(p.items[0].ref, "o30");
  EXPECT_EQ(p.items[0].op, "confirm");
  EXPECT_EQ(p.items[0].time_ms, 30000);
  EXPECT_EQ(p.items[3].event_id, "27-0");

  q.page = 8;  // items 29..30 counted from the newest: events 2 and 1
  p = history.History(q);
  ASSERT_EQ(p.items.size(), 2u);
  EXPECT_EQ(p.items[1].event_id, "1-0");
  q.page = 9;
  EXPECT_TRUE(history.History(q).items.empty());

  q = {};
  q.sku = 7;
  q.op = "reserve";
  q.from_ms = 5000;  // events 5.. (inclusive)
  q.to_ms = 20000;   // ..19 (exclusive end)
  p = history.History(q);
  EXPECT_EQ(p.total, 5);  // reserve events are 2, 5, 8, 11, 14, 17, 20: 5..17 in range
  ASSERT_EQ(p.items.size(), 5u);
  EXPECT_EQ(p.items.front().event_id, "17-0");
  EXPECT_EQ(p.items.back().event_id, "5-0");

  q = {};
  q.sku = 9;
  p = history.History(q);
  EXPECT_EQ(p.code, Code::kOk);
  EXPECT_EQ(p.total, 0);
}

// The summary numbers of the known data set, by SKU then op name, and with filters.
TEST_F(HistoryTest, SummaryIsExact) {
  LoadKnownData();
  MariaDbHistory history(config_);
  SummaryResult s = history.Summary({});
  ASSERT_EQ(s.code, Code::kOk) << s.message;
  // SKU 7: confirm = 3,6,..,30 (10 events, sum 165); reserve = 2,5,..,29 (sum 155);
  // set = 1,4,..,28 (sum 145). SKU 8: adjust 5 and -3.
  const std::vector<SummaryRow> expected = {{7, "confirm", 10, 165, 3, 30, 16.5},
                                            {7, "reserve", 10, 155, 2, 29, 15.5},
                                            {7, "set", 10, 145, 1, 28, 14.5},
                                            {8, "adjust", 2, 2, -3, 5, 1.0}};
  EXPECT_EQ(s.rows, expected);

  SummaryQuery q;
  q.from_ms = 29000;
  q.to_ms = 32000;
  q.skus = {7, 8};
  s = history.Summary(q);
  const std::vector<SummaryRow> window = {{7, "confirm", 1, 30, 30, 30, 30.0},
                                          {7, "reserve", 1, 29, 29, 29, 29.0},
                                          {8, "adjust", 1, 5, 5, 5, 5.0}};
  EXPECT_EQ(s.rows, window);
}

// A stopped database answers kUnavailable (and Ping false); once back, answers resume.
TEST_F(HistoryTest, DatabaseDownIsUnavailable) {
  MariaDbHistory history(config_);
  ASSERT_TRUE(history.Ping());
  server_->Kill();
  HistoryQuery q;
  q.sku = 7;
  EXPECT_EQ(history.History(q).code, Code::kUnavailable);
  EXPECT_EQ(history.Summary({}).code, Code::kUnavailable);
  EXPECT_FALSE(history.Ping());
  ASSERT_TRUE(server_->Restart());
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = history.History(q).code == Code::kOk;
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(back);
}

// After a restart the pooled connections are all stale: the first one to fail drops the others,
// so recovery costs one failed query and one down window, not one of each per pooled connection.
// The down window runs on an injected clock, stepped instead of slept through.
TEST_F(HistoryTest, StaleConnectionsAreDroppedTogether) {
  auto now = std::make_shared<std::atomic<std::int64_t>>(0);
  MySqlConfig config = config_;
  config.now = [now] {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(now->load()));
  };
  MariaDbPool pool(config);
  const auto nothing = [](MariaDbConnection&) { return core::Status(); };
  // Three connections open at once, then all idle in the pool.
  ASSERT_TRUE(pool.With([&](MariaDbConnection&) {
                    return pool.With([&](MariaDbConnection&) { return pool.With(nothing); });
                  })
                  .ok());
  server_->Kill();
  ASSERT_TRUE(server_->Restart());
  int failed_queries = 0;
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    (void)pool.With([&](MariaDbConnection& conn) {
      ok = conn.Query("SELECT 1").ok;
      failed_queries += ok ? 0 : 1;
      return core::Status();
    });
    if (!ok) now->fetch_add(config.down_for_ms);
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(failed_queries, 1);
}

// A frozen database (SIGSTOP) is reported unavailable after the read timeout, not waited on.
TEST_F(HistoryTest, FrozenDatabaseIsUnavailable) {
  MariaDbHistory history(config_);
  ASSERT_TRUE(history.Ping());
  server_->Pause();
  HistoryQuery q;
  q.sku = 7;
  EXPECT_EQ(history.History(q).code, Code::kUnavailable);
  EXPECT_EQ(history.Summary({}).code, Code::kUnavailable) << "the breaker answers at once";
  server_->Resume();
}

// An order's last record, as sync keeps it in `reservations`, for orders no longer in Redis; an
// order_id that needs quoting is just a key.
TEST_F(HistoryTest, ReadsAnArchivedReservation) {
  Sql("INSERT INTO reservations (order_id, status, items, customer_id, ttl_seconds, confirm, "
      "expires_at_ms, created_at_ms, updated_at_ms, last_event) VALUES ('old-1', 'returned', "
      "'7:2,9:1', 'alice', 900, 1, 3000, 1000, 2000, 5)");
  MariaDbHistory history(config_);
  const ArchivedReservation a = history.Reservation("old-1");
  ASSERT_EQ(a.code, Code::kOk) << a.message;
  EXPECT_EQ(a.record.order_id, "old-1");
  EXPECT_EQ(a.record.status, "returned");
  EXPECT_EQ(a.record.items, "7:2,9:1");
  EXPECT_EQ(a.record.customer_id, "alice");
  EXPECT_EQ(a.record.ttl_seconds, 900);
  EXPECT_TRUE(a.record.confirm);
  EXPECT_EQ(a.record.expires_at_ms, 3000);
  EXPECT_EQ(a.record.created_at_ms, 1000);
  EXPECT_EQ(a.record.updated_at_ms, 2000);
  EXPECT_EQ(history.Reservation("o'1").code, Code::kNotFound);
  server_->Pause();
  EXPECT_EQ(history.Reservation("old-1").code, Code::kUnavailable);
  server_->Resume();
}

// A configured CA means TLS or nothing: this server has no TLS, so the connection is refused
// rather than made in the clear.
TEST_F(HistoryTest, TlsConfiguredButServerHasNoneIsRefused) {
  const auto made = stockgate::testing::MakeTestCertificate();
  ASSERT_TRUE(made.ok()) << made.error();
  MySqlConfig c = config_;
  c.tls_ca = (*made)->cert;
  EXPECT_FALSE(MariaDbConnection::Open(c, false).ok());
}

// TLS to MariaDB, with a certificate openssl makes here: a client given that CA connects
// (encrypted: Ssl_cipher is set) and migrates the schema; the users it makes over TLS may connect
// over TLS only; a client trusting another CA is refused.
TEST(MariaDbTlsTest, ConnectsOnlyOverVerifiedTls) {
  const auto made = stockgate::testing::MakeTestCertificate();
  ASSERT_TRUE(made.ok()) << made.error();
  MariaDbServer::Options o;
  o.extra_args = {"--ssl-cert=" + (*made)->cert, "--ssl-key=" + (*made)->key};
  std::unique_ptr<MariaDbServer> server = MariaDbServer::Start(o);
  ASSERT_NE(server, nullptr);
  MySqlConfig c;
  c.port = server->port();
  c.tls_ca = (*made)->cert;
  {
    auto conn = MariaDbConnection::Open(c, false);
    ASSERT_TRUE(conn.ok()) << conn.error();
    const QueryResult r = (*conn)->Query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_NE(r.rows[0][1].value_or(""), "");
  }
  const core::Result<std::vector<int>> m = ApplyMigrations(c);
  EXPECT_TRUE(m.ok()) << m.error();
  ASSERT_TRUE(EnsureDatabaseUsers(c, {{DatabaseRole::kOrigin, "origin-pw"}}).ok());

  MySqlConfig origin = c;
  origin.user = std::string(DatabaseUserName(DatabaseRole::kOrigin));
  origin.password = "origin-pw";
  EXPECT_TRUE(MariaDbConnection::Open(origin, true).ok());
  origin.tls_ca.clear();
  EXPECT_FALSE(MariaDbConnection::Open(origin, true).ok()) << "made over TLS: REQUIRE SSL";
  MySqlConfig plain_root = c;
  plain_root.tls_ca.clear();
  EXPECT_TRUE(MariaDbConnection::Open(plain_root, false).ok()) << "the server itself allows it";

  // A stricter requirement an operator set stays, through migrations over TLS and without.
  const auto ssl_type = [&] {
    auto conn = MariaDbConnection::Open(c, false);
    if (!conn) return std::string("?");
    const QueryResult r =
        (*conn)->Query("SELECT ssl_type FROM mysql.user WHERE User = 'stockgate_origin'");
    return r.ok && !r.rows.empty() ? r.rows[0][0].value_or("") : std::string("?");
  };
  EXPECT_EQ(ssl_type(), "ANY");
  ASSERT_TRUE(
      (*MariaDbConnection::Open(c, false))->Query("ALTER USER stockgate_origin REQUIRE X509").ok);
  ASSERT_TRUE(EnsureDatabaseUsers(c, {{DatabaseRole::kOrigin, "origin-pw"}}).ok());
  EXPECT_EQ(ssl_type(), "X509");
  ASSERT_TRUE(EnsureDatabaseUsers(plain_root, {{DatabaseRole::kOrigin, "origin-pw"}}).ok());
  EXPECT_EQ(ssl_type(), "X509");
  MySqlConfig stranger = c;
  stranger.tls_ca = (*made)->other_cert;
  EXPECT_FALSE(MariaDbConnection::Open(stranger, false).ok());
}

}  // namespace
}  // namespace stockgate::history
