// HistoryWriter's rules without Redis: text made safe for strict columns, and
// against a real MariaDB a batch written twice changes nothing the second time while records
// applied out of order keep the newest.
#include "sync/history_writer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "origin/history/schema.h"
#include "tests/support/mariadb_server.h"

namespace stockgate::sync {
namespace {

using core::LedgerOp;
using store::OutboxEntry;

// Invalid UTF-8 becomes '?', and cuts fall on character boundaries.
TEST(SafeTextTest, ValidUtf8WithinBound) {
  EXPECT_EQ(SafeText("plain", 10), "plain");
  EXPECT_EQ(SafeText("ab\xff"
                     "c",
                     10),
            "ab?c");
  EXPECT_EQ(SafeText("\xe5\xba\x93\xe5\xad\x98", 4), "\xe5\xba\x93");  // 库存 cut to 库
  EXPECT_EQ(SafeText("\xe5\xba", 10), "??");
  EXPECT_EQ(SafeText(std::string(300, 'x'), 255).size(), 255u);
}

class WriterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = testing::MariaDbServer::Start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    config_.port = server_->port();
    config_.database = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(history::ApplyMigrations(config_).ok());
    auto conn = history::MariaDbConnection::Open(config_, true);
    ASSERT_TRUE(conn.ok()) << conn.error();
    conn_ = std::move(conn).value();
  }
  std::string One(const std::string& sql) {
    const history::QueryResult r = conn_->Query(sql);
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok && !r.rows.empty() ? r.rows[0][0].value_or("NULL") : "";
  }
  // An entry carrying one ledger event.
  static OutboxEntry Ledger(std::uint64_t ms, std::int64_t sku, LedgerOp op, std::int64_t qty,
                            std::int64_t version) {
    OutboxEntry e;
    e.id = {ms, 0};
    e.events.push_back(
        {e.id, sku, "o", op, qty, 0, 0, "svc", "", static_cast<std::int64_t>(ms), version});
    return e;
  }
  static OutboxEntry Hold(std::uint64_t ms, core::ReservationStatus status) {
    OutboxEntry e;
    e.id = {ms, 0};
    core::ReservationView& r = e.reservation.emplace();
    r.order_id = "o";
    r.status = status;
    r.items = {{1, 2}};
    r.updated_at_ms = static_cast<std::int64_t>(ms);
    return e;
  }

  static testing::MariaDbServer* server_;
  history::MySqlConfig config_;
  std::unique_ptr<history::MariaDbConnection> conn_;
};

testing::MariaDbServer* WriterTest::server_ = nullptr;

// The second write of the same batch inserts nothing and leaves the counters alone; a batch that
// overlaps half of it inserts only the new half. An entry's several events go in together.
TEST_F(WriterTest, ReplayIsIdempotent) {
  const std::vector<OutboxEntry> batch = {Ledger(10, 1, LedgerOp::kSet, 10, 1),
                                          Ledger(11, 1, LedgerOp::kReserve, 3, 2),
                                          Ledger(12, 1, LedgerOp::kConfirm, 3, 3)};
  core::Result<WriteCounts> r = WriteBatch(*conn_, batch);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->inserted, 3);
  r = WriteBatch(*conn_, batch);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->inserted, 0);
  EXPECT_EQ(r->duplicates, 3);
  const std::vector<OutboxEntry> overlap = {batch[2], Ledger(13, 1, LedgerOp::kReturn, 1, 4)};
  r = WriteBatch(*conn_, overlap);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->inserted, 1);
  EXPECT_EQ(r->duplicates, 1);
  EXPECT_EQ(One("SELECT CONCAT_WS(',', on_hand, reserved, sold, version) FROM inventory"),
            "8,0,2,4");
  EXPECT_EQ(One("SELECT COUNT(*) FROM inventory_history"), "4");

  OutboxEntry sale = Ledger(14, 1, LedgerOp::kReserve, 2, 5);
  sale.events.push_back({{14, 1}, 1, "o", LedgerOp::kConfirm, 2, 0, 0, "svc", "", 14, 6});
  r = WriteBatch(*conn_, {sale});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->inserted, 2);
  EXPECT_EQ(WriteBatch(*conn_, {sale})->duplicates, 2);
  EXPECT_EQ(One("SELECT CONCAT_WS(',', on_hand, reserved, sold, version) FROM inventory"),
            "6,0,4,6");
}

// Reservation and stock records applied newest-first end with the newest values.
TEST_F(WriterTest, NewestRecordWinsWhateverTheOrder) {
  ASSERT_TRUE(WriteBatch(*conn_, {Hold(20, core::ReservationStatus::kConfirmed)}).ok());
  ASSERT_TRUE(WriteBatch(*conn_, {Hold(10, core::ReservationStatus::kReserved)}).ok());
  EXPECT_EQ(One("SELECT CONCAT_WS(',', status, updated_at_ms, last_event) FROM reservations"),
            "confirmed,20," + std::to_string(store::StreamId{20, 0}.Packed()));
  OutboxEntry newer;
  newer.id = {30, 0};
  newer.stock = store::StockRecord{1, 5, 7, 30};
  OutboxEntry older = newer;
  older.id = {25, 0};
  older.stock = store::StockRecord{1, 2, 6, 25};
  ASSERT_TRUE(WriteBatch(*conn_, {newer}).ok());
  ASSERT_TRUE(WriteBatch(*conn_, {older}).ok());
  EXPECT_EQ(One("SELECT CONCAT_WS(',', per_customer_limit, version) FROM inventory WHERE sku = 1"),
            "5,7");
}

// Text that would break a strict-mode column (too long, invalid UTF-8) is made safe, not refused.
TEST_F(WriterTest, OddTextDoesNotStallTheBatch) {
  OutboxEntry e = Ledger(40, 2, LedgerOp::kSet, 1, 1);
  e.events[0].actor = std::string(400, 'a') + "\xff";
  e.events[0].reason = "bad \xc3 byte";
  const core::Result<WriteCounts> r = WriteBatch(*conn_, {e});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(One("SELECT LENGTH(actor) FROM inventory_history"), "255");
  EXPECT_EQ(One("SELECT reason FROM inventory_history"), "bad ? byte");
}

}  // namespace
}  // namespace stockgate::sync
