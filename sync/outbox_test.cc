// sync's reader of the ledger stream: the consumer-group operations sync relies on, against a
// real Redis.
#include "sync/outbox.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "origin/store/redis_inventory_store.h"
#include "origin/store/redis_pool.h"
#include "tests/support/redis_server.h"

namespace stockgate::sync {
namespace {

using stockgate::testing::RedisServer;
using store::RedisConfig;
using store::RedisInventoryStore;
using store::RedisPool;
using store::RedisStoreConfig;

constexpr std::int64_t kT0 = 1'800'000'000'000;

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

  // Four changes, an entry each: a SKU created, two holds on it, the first one confirmed.
  void MakeFourEntries() {
    core::SetStockRequest set;
    set.on_hand = 10;
    ASSERT_EQ(store_->SetStock(1, set, "admin", kT0).code, core::Code::kOk);
    core::ReservationRequest reserve;
    reserve.order_id = "o-1";
    reserve.items = {{1, 2}};
    reserve.ttl_seconds = 60;
    ASSERT_EQ(store_->Reserve(reserve, "svc", kT0).code, core::Code::kOk);
    reserve.order_id = "o-2";
    ASSERT_EQ(store_->Reserve(reserve, "svc", kT0).code, core::Code::kOk);
    ASSERT_EQ(store_->Confirm("o-1", "svc", kT0, "").code, core::Code::kOk);
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<RedisInventoryStore> store_;
  std::unique_ptr<Outbox> outbox_;
};

// A consumer reads each entry once; unacknowledged entries come back to the same consumer after a
// restart and can be claimed by another one once idle; acknowledged ones can be trimmed.
TEST_F(OutboxTest, GroupDeliversAcksClaimsAndTrims) {
  ASSERT_TRUE(outbox_->EnsureGroup().ok());
  ASSERT_TRUE(outbox_->EnsureGroup().ok()) << "creating the group twice is fine";
  MakeFourEntries();

  OutboxRead first = outbox_->ReadNew("a", 3, 10);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_EQ(first->entries.size(), 3u);
  EXPECT_TRUE(first->entries[0].stock.has_value());
  EXPECT_EQ(first->entries[1].reservation->order_id, "o-1");
  EXPECT_EQ(first->entries[2].reservation->order_id, "o-2");
  ASSERT_EQ(outbox_->Ack({first->entries[0].id}).value(), 1);

  OutboxRead rest = outbox_->ReadNew("a", 10, 10);
  ASSERT_EQ(rest->entries.size(), 1u);
  EXPECT_EQ(rest->entries[0].reservation->status, core::ReservationStatus::kConfirmed);
  EXPECT_TRUE(outbox_->ReadNew("a", 10, 10)->entries.empty()) << "nothing is delivered twice";
  // No wait at all (a sync thread polling several partitions): answered at once, not blocked.
  const OutboxRead none = outbox_->ReadNew("a", 10, 0);
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_TRUE(none->entries.empty());

  // Consumer a "restarts": its pending entries are the ones it has not acknowledged.
  OutboxRead pending = outbox_->ReadOwnPending("a", 10);
  ASSERT_EQ(pending->entries.size(), 3u);
  EXPECT_EQ(pending->entries[0].id, first->entries[1].id);

  // Another consumer takes them over once they have been idle long enough.
  EXPECT_TRUE(outbox_->Claim("b", 60'000, 10, "0-0")->entries.empty());
  OutboxRead claimed = outbox_->Claim("b", 0, 10, "0-0");
  ASSERT_TRUE(claimed.ok()) << claimed.error();
  ASSERT_EQ(claimed->entries.size(), 3u);
  EXPECT_TRUE(outbox_->ReadOwnPending("a", 10)->entries.empty());

  // Trim keeps everything from the oldest unacknowledged entry on.
  EXPECT_EQ(outbox_->Trim().value(), 1);
  EXPECT_EQ(outbox_->Measure()->length, 3);
  std::vector<StreamId> ids;
  for (const auto& e : claimed->entries) ids.push_back(e.id);
  EXPECT_EQ(outbox_->Ack(ids).value(), 3);
  EXPECT_EQ(outbox_->Trim().value(), 3);
  const core::Result<Outbox::Backlog> b = outbox_->Measure();
  EXPECT_EQ(b->length, 0);
  EXPECT_EQ(b->pending, 0);
  EXPECT_EQ(b->undelivered, 0);
  EXPECT_EQ(outbox_->ForgetIdleConsumers(0).value(), 2);
}

// Entries written after the last read are never trimmed, though nothing is pending.
TEST_F(OutboxTest, TrimKeepsUndeliveredEntries) {
  ASSERT_TRUE(outbox_->EnsureGroup().ok());
  MakeFourEntries();
  const OutboxRead read = outbox_->ReadNew("a", 2, 10);
  std::vector<StreamId> ids;
  for (const auto& e : read->entries) ids.push_back(e.id);
  ASSERT_EQ(outbox_->Ack(ids).value(), 2);
  EXPECT_EQ(outbox_->Trim().value(), 2);
  EXPECT_EQ(outbox_->Measure()->length, 2);
  EXPECT_EQ(outbox_->Measure()->undelivered, 2);
}

// With Redis gone every call reports the failure instead of hanging or crashing.
TEST_F(OutboxTest, RedisDownIsAnError) {
  ASSERT_TRUE(outbox_->EnsureGroup().ok());
  redis_->Kill();
  EXPECT_FALSE(outbox_->EnsureGroup().ok());
  const OutboxRead r = outbox_->ReadNew("a", 10, 10);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.error().empty());
  EXPECT_FALSE(outbox_->Ack({StreamId{1, 0}}).ok());
  EXPECT_FALSE(outbox_->Trim().ok());
  EXPECT_FALSE(outbox_->Measure().ok());
}

}  // namespace
}  // namespace stockgate::sync
