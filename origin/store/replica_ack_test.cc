// Replicated acknowledgements (OpBatcher replica_acks): with a replica attached, an answer stands
// only once the replica holds the batch; a replica that does not acknowledge in time turns every
// answer of the batch into an unknown outcome (kUnavailable), and the retry with the same key
// finds what Redis did. Real redis-servers: a master with AOF always and a replica of it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "core/inventory_model.h"
#include "origin/store/keyspace.h"
#include "origin/store/redis_inventory_store.h"
#include "origin/store/redis_pipeline.h"
#include "tests/support/redis_server.h"

namespace stockgate::store {
namespace {

using core::ReservationRequest;
using stockgate::testing::RedisServer;

constexpr std::int64_t kT0 = 1'800'000'000'000;

class ReplicaAckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RedisServerOptions master;
    master.extra_args = {"--repl-diskless-sync-delay", "0"};  // the replica syncs at once
    master_ = RedisServer::Start(master);
    ASSERT_NE(master_, nullptr);
    testing::RedisServerOptions options;
    options.appendonly = false;
    options.extra_args = {"--replicaof", "127.0.0.1", std::to_string(master_->port())};
    replica_ = RedisServer::Start(options);
    ASSERT_NE(replica_, nullptr);
    for (int i = 0; i < 500; ++i) {
      if (replica_->Ask("INFO replication").find("master_link_status:up") != std::string::npos) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(replica_->Ask("INFO replication").find("master_link_status:up"), std::string::npos);
  }

  std::unique_ptr<RedisInventoryStore> Store(RedisClient& redis, int acks) {
    RedisStoreConfig config{"t"};
    config.batching.replica_acks = acks;
    config.batching.replica_ack_timeout_ms = 1000;  // generous: a loaded test machine
    return std::make_unique<RedisInventoryStore>(redis, config);
  }

  std::unique_ptr<RedisPipeline> Pipeline() {
    RedisConfig config;
    config.port = master_->port();
    config.pool_size = 2;
    config.command_timeout_ms = 2000;
    return std::make_unique<RedisPipeline>(config);
  }

  // SKU 1 with 10 units, through `store`.
  static void Stock(RedisInventoryStore& store) {
    core::SetStockRequest set;
    set.on_hand = 10;
    const core::StockResult stocked = store.SetStock(1, set, "admin", kT0);
    ASSERT_TRUE(stocked.ok()) << stocked.message;
  }

  static ReservationRequest Hold(const std::string& order) {
    ReservationRequest r;
    r.order_id = order;
    r.items = {{1, 2}};
    return r;
  }

  // WAIT commands the master has run (INFO commandstats).
  long long Waits() const {
    const std::string stats = master_->Ask("INFO commandstats");
    const auto at = stats.find("cmdstat_wait:calls=");
    return at == std::string::npos ? 0 : std::atoll(stats.c_str() + at + 19);
  }

  std::unique_ptr<RedisServer> master_;
  std::unique_ptr<RedisServer> replica_;
};

// With the replica up, writes are answered as usual, and the replica already holds each one when
// its answer comes.
TEST_F(ReplicaAckTest, AcknowledgedWritesAreOnTheReplica) {
  auto redis = Pipeline();
  auto store = Store(*redis, 1);
  ASSERT_NO_FATAL_FAILURE(Stock(*store));
  const core::ReservationResult held = store->Reserve(Hold("o-1"), "svc", kT0);
  ASSERT_TRUE(held.ok()) << held.message;
  EXPECT_EQ(replica_->Ask("EXISTS " + ReservationKey("t", "o-1")), ":1\r\n")
      << "on the replica before the answer";
  // The master saw a WAIT for each writing batch (one more for the first, sent again after
  // NOSCRIPT loaded the script) and none for a read.
  const long long waits = Waits();
  EXPECT_GE(waits, 2);
  EXPECT_EQ(store->GetStocks({1}, kT0).items.at(0).stock->reserved, 2);
  EXPECT_EQ(Waits(), waits);
}

// A frozen replica: the write runs on the master but cannot be acknowledged, so the caller hears
// "unknown outcome" (never a 2xx it could lose); the retry with the same key, once the replica is
// back, finds the hold already made (an idempotent replay), and nothing was taken twice.
TEST_F(ReplicaAckTest, UnacknowledgedWriteIsAnUnknownOutcomeAndTheRetryFindsIt) {
  auto redis = Pipeline();
  auto store = Store(*redis, 1);
  ASSERT_NO_FATAL_FAILURE(Stock(*store));
  replica_->Pause();
  const core::ReservationResult unknown = store->Reserve(Hold("o-2"), "svc", kT0);
  replica_->Resume();
  EXPECT_EQ(unknown.code, core::Code::kUnavailable);
  EXPECT_NE(unknown.message.find("outcome is unknown"), std::string::npos) << unknown.message;

  const core::ReservationResult retry = store->Reserve(Hold("o-2"), "svc", kT0 + 1);
  ASSERT_TRUE(retry.ok()) << retry.message;
  EXPECT_TRUE(retry.replayed) << "the first attempt had made the hold";
  EXPECT_EQ(store->GetStocks({1}, kT0 + 1).items.at(0).stock->reserved, 2);
}

// Asking for more replicas than there are fails every write once the timeout has passed; reads
// go on.
TEST_F(ReplicaAckTest, MissingReplicasFailEveryWrite) {
  auto redis = Pipeline();
  auto store = Store(*redis, 2);
  core::SetStockRequest set;
  set.on_hand = 10;
  const core::StockResult r = store->SetStock(1, set, "admin", kT0);
  EXPECT_EQ(r.code, core::Code::kUnavailable);
  EXPECT_NE(r.message.find("1 of 2 replica(s)"), std::string::npos) << r.message;
  // A batch of reads asks nothing to be kept, so it is not held up by the missing replica.
  EXPECT_EQ(store->GetStocks({1}, kT0).code, core::Code::kOk);
  EXPECT_EQ(store->Snapshot({}, kT0).code, core::Code::kOk);
}

}  // namespace
}  // namespace stockgate::store
