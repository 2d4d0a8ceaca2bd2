// The outbox reader: entry ids and their packing, decoding of every kind of entry (and refusal
// of malformed ones), and the consumer-group operations sync relies on, against a real Redis.
#include "origin/store/outbox.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "origin/store/redis_inventory_store.h"
#include "origin/store/redis_pool.h"
#include "tests/support/redis_server.h"

namespace stockgate::store {
namespace {

using stockgate::testing::RedisServer;

constexpr std::int64_t kT0 = 1'800'000'000'000;

Reply Str(std::string s) {
  Reply r;
  r.type = Reply::Type::kString;
  r.str = std::move(s);
  return r;
}

Reply Entry(std::string id, const std::vector<std::string>& kv) {
  Reply fields;
  fields.type = Reply::Type::kArray;
  for (const auto& s : kv) fields.elements.push_back(Str(s));
  Reply e;
  e.type = Reply::Type::kArray;
  e.elements = {Str(std::move(id)), fields};
  return e;
}

// Packed ids order exactly like the ids and round-trip; out-of-range ids are refused.
TEST(StreamIdTest, PacksInOrderAndRoundTrips) {
  StreamId a, b;
  ASSERT_TRUE(StreamId::Parse("1700000000000-5", &a));
  ASSERT_TRUE(StreamId::Parse("1700000000001-0", &b));
  EXPECT_LT(a, b);
  EXPECT_LT(a.Packed(), b.Packed());
  EXPECT_EQ(StreamId::FromPacked(a.Packed()), a);
  EXPECT_EQ(a.Text(), "1700000000000-5");
  StreamId c;
  for (const char* bad :
       {"", "12", "-1", "1-", "a-1", "1-1048576", "1-2-3", "9223372036854775807-0"}) {
    EXPECT_FALSE(StreamId::Parse(bad, &c)) << bad;
  }
}

// Each of the three kinds decodes field by field.
TEST(OutboxDecodeTest, DecodesEveryKind) {
  OutboxEntry e;
  std::string error;
  ASSERT_TRUE(DecodeOutboxEntry(
      Entry("5-1", {"kind",   "ledger", "sku",    "42", "ref",     "o-1", "op",    "reserve",
                    "qty",    "3",      "before", "10", "after",   "7",   "actor", "svc",
                    "reason", "",       "time",   "99", "version", "4"}),
      &e, &error))
      << error;
  EXPECT_EQ(e.kind, OutboxEntry::Kind::kLedger);
  EXPECT_EQ(e.id.Text(), "5-1");
  EXPECT_EQ(e.ledger,
            (LedgerRecord{42, "o-1", core::LedgerOp::kReserve, 3, 10, 7, "svc", "", 99, 4}));

  ASSERT_TRUE(DecodeOutboxEntry(
      Entry("6-0", {"kind", "stock", "sku", "42", "limit", "2", "version", "5", "time", "100"}), &e,
      &error));
  EXPECT_EQ(e.kind, OutboxEntry::Kind::kStock);
  EXPECT_EQ(e.stock, (StockRecord{42, 2, 5, 100}));

  ASSERT_TRUE(DecodeOutboxEntry(
      Entry("7-0",
            {"kind",       "reservation", "order",      "o-1", "status",     "confirmed", "items",
             "42:3,7:1",   "customer",    "c",          "ttl", "60",         "confirm",   "0",
             "expires_at", "160",         "created_at", "100", "updated_at", "120"}),
      &e, &error))
      << error;
  EXPECT_EQ(e.kind, OutboxEntry::Kind::kReservation);
  EXPECT_EQ(e.reservation.status, core::ReservationStatus::kConfirmed);
  EXPECT_EQ(e.reservation.items, (std::vector<core::Item>{{42, 3}, {7, 1}}));
  EXPECT_EQ(e.reservation.expires_at_ms, 160);
}

// Entries with a missing or malformed field, an unknown kind or op are refused with a reason.
TEST(OutboxDecodeTest, RefusesMalformedEntries) {
  OutboxEntry e;
  std::string error;
  EXPECT_FALSE(DecodeOutboxEntry(Entry("1-0", {"kind", "nope"}), &e, &error));
  EXPECT_EQ(error, "kind: unknown");
  EXPECT_FALSE(DecodeOutboxEntry(Entry("1-0", {"sku", "1"}), &e, &error));
  EXPECT_FALSE(DecodeOutboxEntry(
      Entry("1-0", {"kind",   "ledger", "sku",    "x", "ref",     "",  "op",    "set",
                    "qty",    "1",      "before", "0", "after",   "1", "actor", "a",
                    "reason", "",       "time",   "1", "version", "1"}),
      &e, &error));
  EXPECT_EQ(error, "sku: not an integer");
  EXPECT_FALSE(DecodeOutboxEntry(
      Entry("1-0", {"kind",   "ledger", "sku",    "1", "ref",     "",  "op",    "steal",
                    "qty",    "1",      "before", "0", "after",   "1", "actor", "a",
                    "reason", "",       "time",   "1", "version", "1"}),
      &e, &error));
  EXPECT_EQ(error, "op: unknown");
  EXPECT_FALSE(DecodeOutboxEntry(
      Entry("1-0",
            {"kind",       "reservation", "order",      "o",   "status",     "reserved", "items",
             "1:",         "customer",    "",           "ttl", "1",          "confirm",  "0",
             "expires_at", "1",           "created_at", "1",   "updated_at", "1"}),
      &e, &error));
  EXPECT_EQ(error, "items: malformed");
  EXPECT_FALSE(DecodeOutboxEntry(Entry("x", {"kind", "stock"}), &e, &error));
  EXPECT_FALSE(DecodeOutboxEntry(Str("1-0"), &e, &error));
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = RedisServer::Start();
    ASSERT_NE(redis_, nullptr);
    RedisConfig config;
    config.port = redis_->port();
    pool_ = std::make_unique<RedisPool>(config);
    store_ = std::make_unique<RedisInventoryStore>(*pool_, RedisStoreConfig{"t"});
    outbox_ = std::make_unique<Outbox>(*pool_, "t");
  }

  // One SKU created and one hold on it: set, stock record, reserve, reservation record.
  void MakeFourEntries() {
    core::SetStockRequest set;
    set.on_hand = 10;
    ASSERT_EQ(store_->SetStock(1, set, "admin", kT0).code, core::Code::kOk);
    core::ReservationRequest reserve;
    reserve.order_id = "o-1";
    reserve.items = {{1, 2}};
    reserve.ttl_seconds = 60;
    ASSERT_EQ(store_->Reserve(reserve, "svc", kT0).code, core::Code::kOk);
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<RedisInventoryStore> store_;
  std::unique_ptr<Outbox> outbox_;
};

// A consumer reads each entry once; unacknowledged entries come back to the same consumer after a
// restart and can be claimed by another one once idle; acknowledged ones can be trimmed.
TEST_F(OutboxTest, GroupDeliversAcksClaimsAndTrims) {
  ASSERT_TRUE(outbox_->EnsureGroup().ok);
  ASSERT_TRUE(outbox_->EnsureGroup().ok) << "creating the group twice is fine";
  MakeFourEntries();

  OutboxRead first = outbox_->ReadNew("a", 3, 10);
  ASSERT_TRUE(first.ok) << first.error;
  ASSERT_EQ(first.entries.size(), 3u);
  EXPECT_EQ(first.entries[0].kind, OutboxEntry::Kind::kLedger);
  EXPECT_EQ(first.entries[1].kind, OutboxEntry::Kind::kStock);
  EXPECT_EQ(first.entries[2].kind, OutboxEntry::Kind::kLedger);
  ASSERT_EQ(outbox_->Ack({first.entries[0].id}).count, 1);

  OutboxRead rest = outbox_->ReadNew("a", 10, 10);
  ASSERT_EQ(rest.entries.size(), 1u);
  EXPECT_EQ(rest.entries[0].kind, OutboxEntry::Kind::kReservation);
  EXPECT_TRUE(outbox_->ReadNew("a", 10, 10).entries.empty()) << "nothing is delivered twice";

  // Consumer a "restarts": its pending entries are the ones it has not acknowledged.
  OutboxRead pending = outbox_->ReadOwnPending("a", 10);
  ASSERT_EQ(pending.entries.size(), 3u);
  EXPECT_EQ(pending.entries[0].id, first.entries[1].id);

  // Another consumer takes them over once they have been idle long enough.
  EXPECT_TRUE(outbox_->Claim("b", 60'000, 10, "0-0").entries.empty());
  OutboxRead claimed = outbox_->Claim("b", 0, 10, "0-0");
  ASSERT_TRUE(claimed.ok) << claimed.error;
  ASSERT_EQ(claimed.entries.size(), 3u);
  EXPECT_TRUE(outbox_->ReadOwnPending("a", 10).entries.empty());

  // Trim keeps everything from the oldest unacknowledged entry on.
  EXPECT_EQ(outbox_->Trim().count, 1);
  EXPECT_EQ(outbox_->Measure().length, 3);
  std::vector<StreamId> ids;
  for (const auto& e : claimed.entries) ids.push_back(e.id);
  EXPECT_EQ(outbox_->Ack(ids).count, 3);
  EXPECT_EQ(outbox_->Trim().count, 3);
  const Outbox::Backlog b = outbox_->Measure();
  EXPECT_EQ(b.length, 0);
  EXPECT_EQ(b.pending, 0);
  EXPECT_EQ(b.undelivered, 0);
  EXPECT_EQ(outbox_->ForgetIdleConsumers(0).count, 2);
}

// Entries written after the last read are never trimmed, though nothing is pending.
TEST_F(OutboxTest, TrimKeepsUndeliveredEntries) {
  ASSERT_TRUE(outbox_->EnsureGroup().ok);
  MakeFourEntries();
  const OutboxRead read = outbox_->ReadNew("a", 2, 10);
  std::vector<StreamId> ids;
  for (const auto& e : read.entries) ids.push_back(e.id);
  ASSERT_EQ(outbox_->Ack(ids).count, 2);
  EXPECT_EQ(outbox_->Trim().count, 2);
  EXPECT_EQ(outbox_->Measure().length, 2);
  EXPECT_EQ(outbox_->Measure().undelivered, 2);
}

// With Redis gone every call reports the failure instead of hanging or crashing.
TEST_F(OutboxTest, RedisDownIsAnError) {
  ASSERT_TRUE(outbox_->EnsureGroup().ok);
  redis_->Kill();
  EXPECT_FALSE(outbox_->EnsureGroup().ok);
  const OutboxRead r = outbox_->ReadNew("a", 10, 10);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  EXPECT_FALSE(outbox_->Ack({StreamId{1, 0}}).ok);
  EXPECT_FALSE(outbox_->Trim().ok);
  EXPECT_FALSE(outbox_->Measure().ok);
}

}  // namespace
}  // namespace stockgate::store
