// RedisInventoryStore against a real redis-server: the Lua scripts are held to the reference
// model operation by operation (model-based test), under concurrency (a hot SKU never oversells),
// and through Redis failures (fast kUnavailable, recovery, nothing acknowledged lost).
#include "origin/store/redis_inventory_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/inventory_model.h"
#include "origin/store/keyspace.h"
#include "origin/store/ledger_stream.h"
#include "origin/store/recovery.h"
#include "origin/store/redis_cluster.h"
#include "origin/store/redis_pipeline.h"
#include "origin/store/redis_pool.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"

namespace stockgate::store {
namespace {

using core::InventoryModel;
using core::LedgerEvent;
using core::ReservationRequest;
using stockgate::testing::RedisServer;

constexpr std::int64_t kT0 = 1'800'000'000'000;

// prefix + n. (Spelled out because GCC 12 raises a false -Wrestrict on "literal" + std::string.)
std::string Id(std::string_view prefix, std::int64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartRedis();
    if (HasFatalFailure()) return;
    RedisConfig config = ClientConfig();
    config.pool_size = 16;
    pool_ = Connect(config, false);
    store_ = std::make_unique<RedisInventoryStore>(*pool_, StoreConfig());
  }

  virtual RedisStoreConfig StoreConfig() const { return RedisStoreConfig{"t"}; }

  virtual void StartRedis() {
    redis_ = RedisServer::Start();
    ASSERT_NE(redis_, nullptr);
  }
  virtual RedisConfig ClientConfig() const {
    RedisConfig config;
    config.port = redis_->port();
    return config;
  }
  // A client of the Redis under test: a pipeline when `pipelined`, else a pool.
  virtual std::unique_ptr<RedisClient> Connect(const RedisConfig& config, bool pipelined) const {
    if (pipelined) return std::make_unique<RedisPipeline>(config);
    return std::make_unique<RedisPool>(config);
  }

  // A one-connection pipeline to this Redis, for tests that need calls to form batches.
  std::unique_ptr<RedisClient> OneConnectionPipeline(int command_timeout_ms) const {
    RedisConfig config = ClientConfig();
    config.pool_size = 1;
    config.command_timeout_ms = command_timeout_ms;
    return Connect(config, true);
  }

  // The client the test reads Redis with, beside the store's.
  virtual RedisClient& Inspector() { return *pool_; }

  // SKUs 7 and 8 (two partitions of three) with 5 units each, and a hold of one of each.
  void HoldCart(const std::string& order_id) {
    SetStocks({7, 8}, 5);
    ReservationRequest req;
    req.order_id = order_id;
    req.items = {{7, 1}, {8, 1}};
    req.ttl_seconds = 600;
    ASSERT_EQ(store_->Reserve(req, "svc", kT0 + 1).code, Code::kOk);
  }

  // Sets each SKU's on_hand (creating it).
  void SetStocks(const std::vector<std::int64_t>& skus, std::int64_t on_hand) {
    core::SetStockRequest set;
    set.on_hand = on_hand;
    for (const std::int64_t sku : skus) {
      ASSERT_EQ(store_->SetStock(sku, set, "admin", kT0).code, Code::kOk) << sku;
    }
  }

  // Buyers on `threads` threads each reserve `per_thread` orders made by `make(thread, i)` at
  // once: how many got each answer, and the orders that succeeded.
  struct Race {
    int ok = 0;
    int short_of_stock = 0;
    int other = 0;
    std::vector<std::string> sold;
  };
  Race RunRace(int threads, int per_thread,
               const std::function<ReservationRequest(int, int)>& make) {
    Race race;
    std::mutex mu;
    std::vector<std::thread> buyers;
    for (int t = 0; t < threads; ++t) {
      buyers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          const ReservationRequest req = make(t, i);
          const auto r = store_->Reserve(req, "svc", kT0 + 1);
          std::lock_guard lock(mu);
          if (r.code == Code::kOk) {
            ++race.ok;
            race.sold.push_back(req.order_id);
          } else if (r.code == Code::kInsufficientStock) {
            ++race.short_of_stock;
          } else {
            ++race.other;
          }
        }
      });
    }
    for (auto& b : buyers) b.join();
    return race;
  }

  // The bodies of the tests run on one Redis and on a cluster alike.
  void RunReferenceModel();
  void RunBatchedReferenceModel();
  void RunHotSkuRace();
  void RunRetention();
  void RunSnapshotDeltas();

  // The stream's outbox entries, decoded; every entry must decode.
  std::vector<OutboxEntry> Outbox() {
    const CommandResult r = Inspector().Command({"XRANGE", store_->LedgerKey(), "-", "+"});
    EXPECT_TRUE(r.ok()) << r.error();
    std::vector<OutboxEntry> entries;
    for (const Reply& entry : r->elements) {
      core::Result<OutboxEntry> e = DecodeOutboxEntry(entry);
      EXPECT_TRUE(e.ok()) << e.error();
      if (e) entries.push_back(std::move(e).value());
    }
    return entries;
  }

  // The ledger events of the stream as model events (seq = position).
  std::vector<LedgerEvent> Ledger() {
    std::vector<LedgerEvent> events;
    for (const OutboxEntry& entry : Outbox()) {
      for (const LedgerRecord& l : entry.events) {
        LedgerEvent e;
        e.seq = static_cast<std::int64_t>(events.size()) + 1;
        e.sku = l.sku;
        e.ref = l.ref;
        e.op = l.op;
        e.qty = l.qty;
        e.before = l.before;
        e.after = l.after;
        e.actor = l.actor;
        e.reason = l.reason;
        e.time_ms = l.time_ms;
        events.push_back(std::move(e));
      }
    }
    return events;
  }

  // The newest outbox record of each reservation and each SKU's options: what sync mirrors. Also
  // that event ids are unique and ordered like the stream.
  void ExpectOutboxMirrors(const core::InventoryModel& model, const std::string& at) {
    std::map<std::string, core::ReservationView> reservations;
    std::map<std::int64_t, std::int64_t> limits;
    std::map<std::int64_t, std::int64_t> versions;
    StreamId last_event;
    for (const OutboxEntry& e : Outbox()) {
      if (e.reservation) reservations[e.reservation->order_id] = *e.reservation;
      if (e.stock) {
        limits[e.stock->sku] = e.stock->limit;
        versions[e.stock->sku] = std::max(versions[e.stock->sku], e.stock->version);
      }
      for (const LedgerRecord& l : e.events) {
        versions[l.sku] = std::max(versions[l.sku], l.version);
        EXPECT_LT(last_event, l.id) << at;
        last_event = l.id;
      }
    }
    const auto all = model.AllReservations();
    ASSERT_EQ(reservations.size(), all.size()) << at;
    for (const auto& r : all) EXPECT_EQ(reservations[r.order_id], r) << at;
    for (const auto& s : model.AllStock()) {
      EXPECT_EQ(limits[s.sku], s.per_customer_limit) << at << " sku " << s.sku;
      EXPECT_EQ(versions[s.sku], s.version) << at << " sku " << s.sku;
    }
  }

  // With partitions: every partition's stream, together, replays to each SKU's counters, its
  // event ids are unique across the partitions and ordered within each, and the newest record of
  // each reservation is the model's (an order spanning partitions: its directory's at home).
  void ExpectPartitionedLedgerMatches(const core::InventoryModel& model, const std::string& at) {
    std::set<std::int64_t> ids;
    std::map<std::int64_t, core::StockCounters> replayed;
    std::map<std::string, core::ReservationView> records;
    for (int p = 0; p < store_->partitions(); ++p) {
      const CommandResult r = Inspector().Command({"XRANGE", store_->LedgerKey(p), "-", "+"});
      ASSERT_TRUE(r.ok()) << r.error();
      StreamId last;
      for (const Reply& reply : r->elements) {
        core::Result<OutboxEntry> e = DecodeOutboxEntry(reply);
        ASSERT_TRUE(e.ok()) << e.error();
        if (e->reservation) records[e->reservation->order_id] = *e->reservation;
        for (const LedgerRecord& l : e->events) {
          EXPECT_LT(last, l.id) << at;
          last = l.id;
          EXPECT_TRUE(ids.insert(l.id.Packed()).second) << at << " id " << l.id.Text();
          replayed[l.sku] += core::DeltaOf(l.op, l.qty);
        }
      }
    }
    for (const auto& s : model.AllStock()) {
      const core::StockCounters& c = replayed[s.sku];
      EXPECT_EQ(c.on_hand, s.on_hand) << at << " sku " << s.sku;
      EXPECT_EQ(c.reserved, s.reserved) << at << " sku " << s.sku;
      EXPECT_EQ(c.sold, s.sold) << at << " sku " << s.sku;
    }
    for (const auto& r : model.AllReservations()) {
      const core::ReservationView& got = records[r.order_id];
      EXPECT_EQ(got, r) << at << " " << r.order_id << ": "
                        << core::ReservationStatusName(got.status) << " updated "
                        << got.updated_at_ms << " expires " << got.expires_at_ms << " items "
                        << FormatItemsField(got.items) << ", want "
                        << core::ReservationStatusName(r.status) << " updated " << r.updated_at_ms
                        << " expires " << r.expires_at_ms << " items " << FormatItemsField(r.items);
    }
  }

  std::unique_ptr<RedisServer> redis_;  // null on a cluster
  std::unique_ptr<RedisClient> pool_;
  std::unique_ptr<RedisInventoryStore> store_;
};

// The same as the origin's ACL user (deploy/redis/users.acl, its keys made the prefix "t"'s):
// every store operation runs within the rights the shipped file gives it.
class RedisAclStoreTest : public RedisStoreTest {
 protected:
  void StartRedis() override {
    redis_ = RedisServer::Start(stockgate::testing::WithShippedUsers("t"));
    ASSERT_NE(redis_, nullptr);
  }
  RedisConfig ClientConfig() const override {
    RedisConfig config = RedisStoreTest::ClientConfig();
    config.username = "stockgate-origin";
    config.password = stockgate::testing::RedisUserPassword("stockgate-origin");
    return config;
  }
  RedisClient& Inspector() override {
    if (!admin_) {
      admin_ = As("stockgate-admin", stockgate::testing::RedisUserPassword("stockgate-admin"));
    }
    return *admin_;
  }
  // A pool of its own for `user`.
  std::unique_ptr<RedisPool> As(const std::string& user, const std::string& password) const {
    RedisConfig config = RedisStoreTest::ClientConfig();
    config.username = user;
    config.password = password;
    return std::make_unique<RedisPool>(config);
  }

  std::unique_ptr<RedisPool> admin_;
};

TEST_F(RedisAclStoreTest, MatchesReferenceModel) { RunReferenceModel(); }
TEST_F(RedisAclStoreTest, BatchedOperationsMatchTheReferenceModel) { RunBatchedReferenceModel(); }

// Each shipped user is refused what its part never needs: wiping or reconfiguring Redis, reading
// every key, keys outside its prefix; the origin's user also the outbox consumer's commands. A
// wrong password is refused at connect, with a message that says so.
TEST_F(RedisAclStoreTest, EachUserIsRefusedWhatItMustNotDo) {
  ASSERT_TRUE(CheckKeyspaceLayout(*pool_, "t").ok()) << "the startup check is allowed";
  auto refused = [](RedisClient& client, std::vector<std::string> argv) {
    const CommandResult r = client.Command(argv);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->is_error() && r->str.rfind("NOPERM", 0) == 0) << argv[0] << ": " << r->str;
  };
  const auto sync = As("stockgate-sync", stockgate::testing::RedisUserPassword("stockgate-sync"));
  for (RedisClient* client :
       {static_cast<RedisClient*>(pool_.get()), static_cast<RedisClient*>(sync.get())}) {
    refused(*client, {"FLUSHALL"});
    refused(*client, {"CONFIG", "SET", "appendfsync", "no"});
    refused(*client, {"KEYS", "*"});
    refused(*client, {"GET", "other:key"});
    refused(*client, {"SCRIPT", "FLUSH"});
    refused(*client, {"ACL", "LIST"});
    refused(*client, {"SHUTDOWN"});
  }
  refused(*pool_, {"XREADGROUP", "GROUP", "sync", "c", "STREAMS", LedgerKey("t"), ">"});
  refused(*pool_, {"XGROUP", "CREATE", LedgerKey("t"), "sync", "0", "MKSTREAM"});
  const CommandResult group =
      sync->Command({"XGROUP", "CREATE", LedgerKey("t"), "sync", "0", "MKSTREAM"});
  ASSERT_TRUE(group.ok()) << group.error();
  EXPECT_FALSE(group->is_error()) << "sync's user creates its group: " << group->str;
  const auto admin =
      As("stockgate-admin", stockgate::testing::RedisUserPassword("stockgate-admin"));
  EXPECT_EQ(admin->Command({"CONFIG", "GET", "appendfsync"})->elements.at(1).str, "always");

  const auto wrong = As("stockgate-origin", "not-the-password");
  const CommandResult r = wrong->Command({"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("AUTH as stockgate-origin refused"), std::string::npos) << r.error();
}

// Retention is sync's to run: its user removes finished records and remembers their ids, and
// the origin's user then refuses a request reusing one.
TEST_F(RedisAclStoreTest, RetentionRunsAsSyncsUser) {
  SetStocks({7}, 5);
  ReservationRequest sale;
  sale.order_id = "done";
  sale.items = {{7, 1}};
  sale.confirm = true;
  sale.ttl_seconds = 60;
  ASSERT_EQ(store_->Reserve(sale, "svc", kT0 + 1).code, Code::kOk);
  const auto sync = As("stockgate-sync", stockgate::testing::RedisUserPassword("stockgate-sync"));
  RedisInventoryStore sync_store(*sync, StoreConfig());
  const auto retired = sync_store.Retire({kT0 + 10}, kT0 + 20);
  ASSERT_EQ(retired.code, Code::kOk) << retired.message;
  EXPECT_EQ(retired.retired, 1);
  EXPECT_EQ(store_->Reserve(sale, "svc", kT0 + 30).code, Code::kIdempotencyConflict);
}

// The same on a Redis Cluster of three masters: the store's keys all go to the master serving
// the partition's slot, through the cluster client.
class RedisClusterStoreTest : public RedisStoreTest {
 protected:
  void StartRedis() override {
    cluster_ = stockgate::testing::RedisClusterServers::Start({.masters = 3});
    ASSERT_NE(cluster_, nullptr);
  }
  RedisConfig ClientConfig() const override { return {}; }
  std::unique_ptr<RedisClient> Connect(const RedisConfig& config, bool pipelined) const override {
    RedisClusterConfig c;
    for (int port : cluster_->ports()) c.seeds.push_back({"127.0.0.1", port});
    c.node = config;
    c.pipelined = pipelined;
    return std::make_unique<RedisCluster>(c);
  }

  std::unique_ptr<stockgate::testing::RedisClusterServers> cluster_;
};

// Three partitions: orders of one SKU lie in another partition than their home two times in
// three, and most orders of two or three SKUs span partitions (lua/directory.lua).
template <class OneRedisOrCluster>
class Partitioned : public OneRedisOrCluster {
 protected:
  RedisStoreConfig StoreConfig() const override {
    RedisStoreConfig config("t");
    config.partitions = 3;
    return config;
  }
};
using RedisPartitionedStoreTest = Partitioned<RedisStoreTest>;
using RedisPartitionedClusterStoreTest = Partitioned<RedisClusterStoreTest>;

template <class Result>
void ExpectSame(const Result& model, const Result& redis, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(core::CodeName(redis.code), core::CodeName(model.code)) << redis.message;
  EXPECT_EQ(redis.message, model.message);
  EXPECT_EQ(redis.created, model.created);
  EXPECT_EQ(redis.replayed, model.replayed);
  EXPECT_EQ(redis.fail_items, model.fail_items);
}

void ExpectSameStock(const core::StockResult& model, const core::StockResult& redis,
                     const std::string& what) {
  ExpectSame(model, redis, what);
  EXPECT_EQ(redis.stock, model.stock) << what;
}

void ExpectSameReservation(const core::ReservationResult& model,
                           const core::ReservationResult& redis, const std::string& what) {
  ExpectSame(model, redis, what);
  EXPECT_EQ(redis.reservation, model.reservation) << what;
}

// 10,000 random operations of every kind (with retries, conflicts, unknown ids and expiries) give
// the same answer from Redis as from the reference model, and the full state and the ledger
// stream stay identical to the model's throughout.
TEST_F(RedisStoreTest, MatchesReferenceModel) { RunReferenceModel(); }
TEST_F(RedisClusterStoreTest, MatchesReferenceModel) { RunReferenceModel(); }
// With partitions, holds of orders spanning partitions are given back by the sweeper, so the
// sweeper runs before every operation (and must expire exactly what the model does); the ledger
// is per partition, with compensations, and is audited separately.
TEST_F(RedisPartitionedStoreTest, MatchesReferenceModel) { RunReferenceModel(); }
TEST_F(RedisPartitionedClusterStoreTest, MatchesReferenceModel) { RunReferenceModel(); }

void RedisStoreTest::RunReferenceModel() {
  InventoryModel model;
  std::mt19937_64 rng(20261123);
  auto pick = [&](std::int64_t n) {
    return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
  };
  const std::vector<std::string> customers = {"", "c1", "c2", "c3"};
  std::vector<ReservationRequest> issued;
  std::int64_t now = kT0;
  std::int64_t next_order = 0;
  std::map<std::string, int> op_counts;

  auto random_order_id = [&]() -> std::string {
    if (issued.empty() || pick(10) == 0) return Id("missing-", pick(5));
    return issued[static_cast<std::size_t>(pick(static_cast<std::int64_t>(issued.size())))]
        .order_id;
  };

  // With partitions, an order that fails in one partition has held and given back units in
  // another (a compensation: two ledger events), which moves that SKU's version and time where the
  // model's stay; everything else must match.
  const bool partitioned = store_->partitions() > 1;
  auto comparable = [&](std::optional<core::StockView> got,
                        const std::optional<core::StockView>& want) {
    if (partitioned && got && want) {
      got->version = want->version;
      got->updated_at_ms = want->updated_at_ms;
    }
    return got;
  };
  auto same_stock = [&](const core::StockResult& want, core::StockResult got,
                        const std::string& what) {
    got.stock = comparable(got.stock, want.stock);
    ExpectSameStock(want, got, what);
  };
  // Fewer steps with partitions: the sweeper's calls make each step several round trips.
  const int steps = partitioned ? 4'000 : 10'000;
  for (int step = 0; step < steps; ++step) {
    now += pick(400);
    const std::string at = Id("step ", step);
    if (partitioned) {
      const ExpireResult swept = store_->ExpireDue(now);
      ASSERT_EQ(swept.code, Code::kOk) << swept.message;
      ASSERT_EQ(swept.expired, model.ExpireDue(now)) << at;
    }
    const std::int64_t action = pick(100);
    if (action < 6) {
      const std::int64_t sku = 1 + pick(6);
      core::SetStockRequest req;
      req.on_hand = pick(30);
      if (pick(4) == 0) req.per_customer_limit = pick(6);
      if (pick(4) == 0) req.low_stock_threshold = pick(8);
      req.default_low_stock_threshold = pick(3);
      req.reason = pick(2) ? "count" : "";
      ++op_counts["set"];
      same_stock(model.SetStock(sku, req, "admin", now), store_->SetStock(sku, req, "admin", now),
                 at + " set");
    } else if (action < 14) {
      const std::int64_t sku = 1 + pick(7);
      core::AdjustmentRequest req;
      req.delta = pick(2) ? 1 + pick(10) : -1 - pick(10);
      req.request_id = Id("r", pick(60));
      ++op_counts["adjust"];
      same_stock(model.Adjust(sku, req, "admin", now), store_->Adjust(sku, req, "admin", now),
                 at + " adjust");
    } else if (action < 50) {
      ReservationRequest req;
      if (!issued.empty() && pick(8) == 0) {
        req = issued[static_cast<std::size_t>(pick(static_cast<std::int64_t>(issued.size())))];
        if (pick(3) == 0) req.ttl_seconds += 1;  // a conflicting retry
      } else {
        req.order_id = Id("o", next_order++);
        const std::int64_t count = 1 + pick(3);
        while (static_cast<std::int64_t>(req.items.size()) < count) {
          const std::int64_t sku = 1 + pick(7);
          bool seen = false;
          for (const auto& item : req.items) seen = seen || item.sku == sku;
          if (!seen) req.items.push_back({sku, 1 + pick(4)});
        }
        req.ttl_seconds = 1 + pick(4);
        req.customer_id = customers[static_cast<std::size_t>(pick(4))];
        req.confirm = pick(10) == 0;
        issued.push_back(req);
      }
      ++op_counts["reserve"];
      ExpectSameReservation(model.Reserve(req, "svc", now), store_->Reserve(req, "svc", now),
                            at + " reserve " + req.order_id);
    } else if (action < 62) {
      const std::string id = random_order_id();
      ++op_counts["confirm"];
      ExpectSameReservation(model.Confirm(id, "svc", now, "paid"),
                            store_->Confirm(id, "svc", now, "paid"), at + " confirm " + id);
    } else if (action < 72) {
      const std::string id = random_order_id();
      ++op_counts["release"];
      ExpectSameReservation(model.Release(id, "svc", now, ""), store_->Release(id, "svc", now, ""),
                            at + " release " + id);
    } else if (action < 78) {
      const std::string id = random_order_id();
      const std::int64_t ttl = 1 + pick(4);
      ++op_counts["extend"];
      ExpectSameReservation(model.Extend(id, ttl, "svc", now), store_->Extend(id, ttl, "svc", now),
                            at + " extend " + id);
    } else if (action < 84) {
      const std::string id = random_order_id();
      ++op_counts["return"];
      ExpectSameReservation(model.Return(id, "svc", now, "refund"),
                            store_->Return(id, "svc", now, "refund"), at + " return " + id);
    } else if (action < 90) {
      const std::string id = random_order_id();
      ++op_counts["get_reservation"];
      ExpectSameReservation(model.GetReservation(id, now), store_->GetReservation(id, now),
                            at + " get " + id);
    } else if (action < 96) {
      std::vector<std::int64_t> skus;
      for (std::int64_t s = 1; s <= 8; ++s) {
        if (pick(2)) skus.push_back(s);
      }
      if (skus.empty()) skus.push_back(1);
      ++op_counts["get_stock"];
      const StockListResult list = store_->GetStocks(skus, now);
      ASSERT_EQ(list.code, Code::kOk) << list.message;
      ASSERT_EQ(list.items.size(), skus.size());
      for (std::size_t i = 0; i < skus.size(); ++i) {
        same_stock(model.GetStock(skus[i], now), list.items[i], at + Id(" get stock ", skus[i]));
      }
    } else {
      ++op_counts["expire"];
      const ExpireResult e = store_->ExpireDue(now);
      ASSERT_EQ(e.code, Code::kOk) << e.message;
      EXPECT_EQ(e.expired, model.ExpireDue(now)) << at;
    }
    if (::testing::Test::HasFailure()) FAIL() << "diverged at " << at;

    if (step % 500 == 499 || step == steps - 1) {
      // Full state: every SKU, every reservation, the snapshot and the ledger stream.
      const auto all = model.AllStock();
      std::vector<std::int64_t> skus;
      for (const auto& s : all) skus.push_back(s.sku);
      const StockListResult list = store_->GetStocks(skus, now);
      ASSERT_EQ(list.code, Code::kOk);
      for (std::size_t i = 0; i < all.size(); ++i) {
        ASSERT_TRUE(list.items[i].stock.has_value()) << at;
        EXPECT_EQ(*comparable(list.items[i].stock, all[i]), all[i]) << at;
      }
      for (const auto& r : model.AllReservations()) {
        const auto got = store_->GetReservation(r.order_id, now);
        ASSERT_TRUE(got.reservation.has_value()) << at << " " << r.order_id;
        EXPECT_EQ(*got.reservation, r) << at;
      }
      const SnapshotResult snap = store_->Snapshot({}, now);
      ASSERT_EQ(snap.code, Code::kOk);
      std::vector<SnapshotItem> expected;
      for (const auto& s : all) expected.push_back({s.sku, s.available, s.low_stock_threshold});
      std::sort(expected.begin(), expected.end(),
                [](const SnapshotItem& a, const SnapshotItem& b) { return a.sku < b.sku; });
      std::vector<SnapshotItem> got = snap.items;
      std::sort(got.begin(), got.end(),
                [](const SnapshotItem& a, const SnapshotItem& b) { return a.sku < b.sku; });
      EXPECT_EQ(got, expected) << at;
      if (partitioned) {
        ExpectPartitionedLedgerMatches(model, at);
      } else {
        EXPECT_EQ(Ledger(), model.Ledger()) << at;
        ExpectOutboxMirrors(model, at);
      }
      if (::testing::Test::HasFailure()) FAIL() << "state diverged at " << at;
    }
  }
  // The run exercised what it claims to.
  for (const char* op : {"set", "adjust", "reserve", "confirm", "release", "extend", "return",
                         "get_reservation", "get_stock", "expire"}) {
    EXPECT_GT(op_counts[op], 100) << op;
  }
  std::map<core::LedgerOp, int> kinds;
  for (const auto& e : model.Ledger()) ++kinds[e.op];
  EXPECT_EQ(kinds.size(), 7u) << "every ledger op occurred";
  EXPECT_GT(kinds[core::LedgerOp::kExpire], 50);
}

// Waits until `count` asynchronous answers have come in.
class Countdown {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++expected_;
  }
  void Done() {
    std::lock_guard lock(mu_);
    ++done_;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_ == expected_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int expected_ = 0;
  int done_ = 0;
};

// The same random operations as MatchesReferenceModel, submitted without waiting in groups of up
// to 40 through the pipeline, so that Redis runs them in batches: every answer still equals the
// model's for the same sequence, the ledger stream too, and batches really formed.
TEST_F(RedisStoreTest, BatchedOperationsMatchTheReferenceModel) { RunBatchedReferenceModel(); }
TEST_F(RedisClusterStoreTest, BatchedOperationsMatchTheReferenceModel) {
  RunBatchedReferenceModel();
}

void RedisStoreTest::RunBatchedReferenceModel() {
  const auto pipeline = OneConnectionPipeline(5'000);
  RedisInventoryStore store(*pipeline, RedisStoreConfig{"t"});
  InventoryModel model;
  std::mt19937_64 rng(20261129);
  auto pick = [&](std::int64_t n) {
    return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
  };
  std::vector<std::string> orders;
  std::int64_t now = kT0;
  int submitted = 0;
  for (int group = 0; group < 150 && !HasFailure(); ++group) {
    Countdown countdown;
    const std::int64_t size = 1 + pick(40);
    for (std::int64_t k = 0; k < size; ++k, ++submitted) {
      now += pick(300);
      const std::string at = Id("op ", submitted);
      const std::int64_t action = pick(100);
      countdown.Add();
      const std::string order =
          orders.empty() || pick(10) == 0
              ? Id("missing-", pick(3))
              : orders[static_cast<std::size_t>(pick(static_cast<std::int64_t>(orders.size())))];
      if (action < 8) {
        const std::int64_t sku = 1 + pick(5);
        core::SetStockRequest req;
        req.on_hand = pick(25);
        if (pick(4) == 0) req.per_customer_limit = pick(5);
        if (pick(5) == 0) req.low_stock_threshold = pick(6);
        store.SetStockAsync(
            sku, req, "admin", now,
            [&, expected = model.SetStock(sku, req, "admin", now), at](core::StockResult got) {
              ExpectSameStock(expected, got, at);
              countdown.Done();
            });
      } else if (action < 14) {
        const std::int64_t sku = 1 + pick(6);
        core::AdjustmentRequest req;
        req.delta = pick(2) ? 1 + pick(8) : -1 - pick(8);
        req.request_id = Id("r", pick(40));
        store.AdjustAsync(
            sku, req, "admin", now,
            [&, expected = model.Adjust(sku, req, "admin", now), at](core::StockResult got) {
              ExpectSameStock(expected, got, at);
              countdown.Done();
            });
      } else if (action < 55) {
        ReservationRequest req;
        req.order_id = Id("o", submitted);
        const std::int64_t count = 1 + pick(3);
        while (static_cast<std::int64_t>(req.items.size()) < count) {
          const std::int64_t sku = 1 + pick(6);
          bool seen = false;
          for (const auto& item : req.items) seen = seen || item.sku == sku;
          if (!seen) req.items.push_back({sku, 1 + pick(3)});
        }
        req.ttl_seconds = 1 + pick(3);
        req.customer_id = pick(2) ? "" : Id("c", pick(3));
        req.confirm = pick(8) == 0;
        orders.push_back(req.order_id);
        store.ReserveAsync(
            req, "svc", now,
            [&, expected = model.Reserve(req, "svc", now), at](core::ReservationResult got) {
              ExpectSameReservation(expected, got, at);
              countdown.Done();
            });
      } else if (action < 70) {
        store.ConfirmAsync(order, "svc", now, "paid",
                           [&, expected = model.Confirm(order, "svc", now, "paid"),
                            at](core::ReservationResult got) {
                             ExpectSameReservation(expected, got, at);
                             countdown.Done();
                           });
      } else if (action < 80) {
        store.ReleaseAsync(
            order, "svc", now, "",
            [&, expected = model.Release(order, "svc", now, ""), at](core::ReservationResult got) {
              ExpectSameReservation(expected, got, at);
              countdown.Done();
            });
      } else if (action < 85) {
        store.ReturnAsync(order, "svc", now, "refund",
                          [&, expected = model.Return(order, "svc", now, "refund"),
                           at](core::ReservationResult got) {
                            ExpectSameReservation(expected, got, at);
                            countdown.Done();
                          });
      } else if (action < 90) {
        const std::int64_t ttl = 1 + pick(3);
        store.ExtendAsync(
            order, ttl, "svc", now,
            [&, expected = model.Extend(order, ttl, "svc", now), at](core::ReservationResult got) {
              ExpectSameReservation(expected, got, at);
              countdown.Done();
            });
      } else if (action < 95) {
        const std::int64_t sku = 1 + pick(7);
        store.GetStocksAsync({sku}, now,
                             [&, expected = model.GetStock(sku, now), at](StockListResult got) {
                               ASSERT_EQ(got.items.size(), 1u) << at;
                               ExpectSameStock(expected, got.items[0], at);
                               countdown.Done();
                             });
      } else {
        store.ExpireDueAsync(now, [&, expected = model.ExpireDue(now), at](ExpireResult got) {
          EXPECT_EQ(got.code, Code::kOk) << at;
          EXPECT_EQ(got.expired, expected) << at;
          countdown.Done();
        });
      }
    }
    countdown.Wait();
  }
  EXPECT_EQ(Ledger(), model.Ledger());
  ExpectOutboxMirrors(model, "end");
  const OpBatcher::Stats stats = store.batch_stats();
  EXPECT_EQ(stats.ops, submitted);
  EXPECT_LT(stats.batches * 4, stats.ops) << "operations went to Redis in batches";
}

// An operation that breaks an invariant (here: a hold whose SKU's reserved count was tampered
// with) fails alone: the operations batched with it are answered and written, and it leaves
// nothing behind, neither in Redis nor in the outbox.
TEST_F(RedisStoreTest, FailedOperationLeavesItsBatchIntact) {
  core::SetStockRequest set;
  set.on_hand = 10;
  ASSERT_EQ(store_->SetStock(1, set, "admin", kT0).code, Code::kOk);
  ASSERT_EQ(store_->SetStock(2, set, "admin", kT0).code, Code::kOk);
  ReservationRequest held;
  held.order_id = "tampered";
  held.items = {{1, 2}};
  held.ttl_seconds = 600;
  ASSERT_EQ(store_->Reserve(held, "svc", kT0).code, Code::kOk);
  ASSERT_TRUE(pool_->Command({"HSET", StockKey("t", 1), "reserved", "0"}).ok());
  const std::size_t entries_before = Outbox().size();

  const auto pipeline = OneConnectionPipeline(10'000);
  RedisStoreConfig store_config("t");
  store_config.batching.max_in_flight = 1;
  RedisInventoryStore store(*pipeline, store_config);
  // With Redis frozen the first call waits in flight, and the next three queue into one batch.
  redis_->Pause();
  Countdown countdown;
  const auto reserve = [&](std::string order, std::int64_t sku, core::ReservationResult* out) {
    ReservationRequest req;
    req.order_id = std::move(order);
    req.items = {{sku, 1}};
    req.ttl_seconds = 600;
    countdown.Add();
    store.ReserveAsync(req, "svc", kT0 + 1, [&, out](core::ReservationResult r) {
      *out = std::move(r);
      countdown.Done();
    });
  };
  core::ReservationResult first, before, broken, after;
  reserve("first", 2, &first);
  reserve("before", 1, &before);
  countdown.Add();
  store.ReleaseAsync("tampered", "svc", kT0 + 1, "", [&](core::ReservationResult r) {
    broken = std::move(r);
    countdown.Done();
  });
  reserve("after", 1, &after);
  redis_->Resume();
  countdown.Wait();

  EXPECT_EQ(store.batch_stats().batches, 2);
  EXPECT_EQ(first.code, Code::kOk) << first.message;
  EXPECT_EQ(before.code, Code::kOk) << before.message;
  EXPECT_EQ(after.code, Code::kOk) << after.message;
  EXPECT_EQ(broken.code, Code::kUnavailable);
  EXPECT_NE(broken.message.find("invariant broken by release"), std::string::npos)
      << broken.message;
  // The two good holds moved the counters and wrote their entries; the failed release did not.
  const auto stock = store_->GetStocks({1}, kT0 + 2).items.at(0).stock;
  ASSERT_TRUE(stock.has_value());
  EXPECT_EQ(stock->reserved, 2);  // the tampered 0 plus two new holds of one unit
  EXPECT_EQ(store_->GetReservation("tampered", kT0 + 2).reservation->status,
            core::ReservationStatus::kReserved);
  const std::vector<OutboxEntry> entries = Outbox();
  ASSERT_EQ(entries.size(), entries_before + 3);
  for (std::size_t i = entries_before; i < entries.size(); ++i) {
    ASSERT_TRUE(entries[i].reservation.has_value());
    EXPECT_NE(entries[i].reservation->order_id, "tampered");
  }
}

// While Redis is frozen, operations queue up to max_queued; the next fails at once, and the ones
// that waited longer than max_wait_ms fail unsent when a batch may leave again. Neither did
// anything: their orders do not exist afterwards.
TEST_F(RedisStoreTest, OperationsBeyondTheQueueBoundsFailUnsent) {
  core::SetStockRequest set;
  set.on_hand = 100;
  ASSERT_EQ(store_->SetStock(1, set, "admin", kT0).code, Code::kOk);

  const auto pipeline = OneConnectionPipeline(10'000);
  RedisStoreConfig store_config("t");
  store_config.batching.max_in_flight = 1;
  store_config.batching.max_queued = 3;
  store_config.batching.max_wait_ms = 200;
  RedisInventoryStore store(*pipeline, store_config);
  redis_->Pause();
  Countdown countdown;
  std::vector<core::ReservationResult> results(5);
  for (std::size_t i = 0; i < results.size(); ++i) {
    ReservationRequest req;
    req.order_id = Id("queued-", static_cast<std::int64_t>(i));
    req.items = {{1, 1}};
    req.ttl_seconds = 600;
    countdown.Add();
    store.ReserveAsync(req, "svc", kT0 + 1, [&, i](core::ReservationResult r) {
      results[i] = std::move(r);
      countdown.Done();
    });
  }
  // The first is in flight, three wait; the fifth found the queue full and is answered already.
  EXPECT_EQ(results[4].code, Code::kUnavailable);
  EXPECT_NE(results[4].message.find("3 operations waiting"), std::string::npos)
      << results[4].message;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  redis_->Resume();
  countdown.Wait();

  EXPECT_EQ(results[0].code, Code::kOk) << results[0].message;
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(results[i].code, Code::kUnavailable);
    EXPECT_NE(results[i].message.find("not sent"), std::string::npos) << results[i].message;
  }
  for (std::size_t i = 1; i < results.size(); ++i) {
    EXPECT_EQ(store_->GetReservation(Id("queued-", static_cast<std::int64_t>(i)), kT0 + 2).code,
              Code::kNotFound);
  }
  EXPECT_EQ(store.batch_stats().refused, 4);
  EXPECT_EQ(store.batch_stats().ops, 1);
}

// One batch may touch more SKUs than one Redis call can take as arguments: 60 holds of 100 SKUs
// each move 6,000 SKUs, and all of them are recorded as changed.
TEST_F(RedisStoreTest, BatchTouchingThousandsOfSkusCommits) {
  constexpr std::int64_t kSkus = 6'000;
  const auto pipeline = OneConnectionPipeline(30'000);
  RedisStoreConfig store_config("t");
  store_config.batching.max_in_flight = 1;
  // About batch size, not about waiting: 6,000 queued calls may wait past the default second in
  // slow (sanitizer) builds.
  store_config.batching.max_wait_ms = 60'000;
  RedisInventoryStore store(*pipeline, store_config);
  {
    Countdown countdown;
    core::SetStockRequest set;
    set.on_hand = 5;
    for (std::int64_t sku = 1; sku <= kSkus; ++sku) {
      countdown.Add();
      store.SetStockAsync(sku, set, "admin", kT0, [&](core::StockResult r) {
        EXPECT_EQ(r.code, Code::kOk) << r.message;
        countdown.Done();
      });
    }
    countdown.Wait();
  }
  ASSERT_FALSE(HasFailure());
  const long long batches_before = store.batch_stats().batches;
  std::map<std::int64_t, long long> set_versions;
  for (const std::int64_t sku : {std::int64_t{2}, kSkus}) {
    const CommandResult r = pool_->Command({"ZSCORE", ChangesKey("t"), std::to_string(sku)});
    ASSERT_TRUE(r.ok() && r->type == Reply::Type::kString) << r.error();
    set_versions[sku] = std::stoll(r->str);
  }

  redis_->Pause();
  Countdown countdown;
  std::atomic<int> failed{0};
  const auto reserve = [&](std::string order, std::int64_t first_sku, std::int64_t count) {
    ReservationRequest req;
    req.order_id = std::move(order);
    for (std::int64_t k = 0; k < count; ++k) req.items.push_back({first_sku + k, 1});
    req.ttl_seconds = 600;
    countdown.Add();
    store.ReserveAsync(req, "svc", kT0 + 1, [&](core::ReservationResult r) {
      if (r.code != Code::kOk) {
        ++failed;
        ADD_FAILURE() << r.message;
      }
      countdown.Done();
    });
  };
  reserve("first", 1, 1);  // in flight while the others queue into one batch
  for (std::int64_t i = 0; i < kSkus / 100; ++i) reserve(Id("wide-", i), 1 + i * 100, 100);
  redis_->Resume();
  countdown.Wait();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(store.batch_stats().batches - batches_before, 2);

  for (const std::int64_t sku : {std::int64_t{2}, kSkus}) {
    const CommandResult changed = pool_->Command({"ZSCORE", ChangesKey("t"), std::to_string(sku)});
    ASSERT_TRUE(changed.ok()) << changed.error();
    EXPECT_GT(std::stoll(changed->str), set_versions.at(sku)) << sku;
  }
  const auto stock = store_->GetStocks({kSkus}, kT0 + 2).items.at(0).stock;
  ASSERT_TRUE(stock.has_value());
  EXPECT_EQ(stock->reserved, 1);
}

// Hundreds of buyers racing for a hot SKU through 16 connections sell exactly the stock: every
// reservation beyond it is refused, none is lost, nothing is oversold.
TEST_F(RedisStoreTest, HotSkuRaceSellsExactlyTheStock) { RunHotSkuRace(); }
TEST_F(RedisClusterStoreTest, HotSkuRaceSellsExactlyTheStock) { RunHotSkuRace(); }

void RedisStoreTest::RunHotSkuRace() {
  core::SetStockRequest set;
  set.on_hand = 500;
  ASSERT_EQ(store_->SetStock(7, set, "admin", kT0).code, Code::kOk);
  const Race race = RunRace(16, 100, [](int t, int i) {
    ReservationRequest req;
    req.order_id = Id("b", t) + Id("-", i);
    req.items = {{7, 1}};
    req.ttl_seconds = 600;
    return req;
  });
  EXPECT_EQ(race.ok, 500);
  EXPECT_EQ(race.short_of_stock, 1'100);
  EXPECT_EQ(race.other, 0);
  const auto s = store_->GetStocks({7}, kT0 + 2).items.at(0).stock;
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->reserved, 500);
  EXPECT_EQ(s->available, 0);
  EXPECT_EQ(static_cast<int>(Ledger().size()), 1 + 500);
}

// Orders of two SKUs in two partitions race for the scarcer one: exactly its stock is sold, every
// order that failed gave back the part it held in the other partition, and every order that
// succeeded holds both parts.
TEST_F(RedisPartitionedStoreTest, SpanningOrdersRaceSellsExactlyTheStock) {
  ASSERT_NE(SkuPartition(7, 3), SkuPartition(8, 3));
  SetStocks({7}, 300);
  SetStocks({8}, 200);
  const Race race = RunRace(16, 25, [](int t, int i) {
    ReservationRequest req;
    req.order_id = Id("b", t) + Id("-", i);
    req.items = {{7, 1}, {8, 1}};
    req.ttl_seconds = 600;
    return req;
  });
  EXPECT_EQ(race.ok, 200);
  EXPECT_EQ(race.short_of_stock, 200);
  EXPECT_EQ(race.other, 0);
  const StockListResult stock = store_->GetStocks({7, 8}, kT0 + 2);
  ASSERT_EQ(stock.code, Code::kOk);
  EXPECT_EQ(stock.items.at(0).stock->reserved, 200);
  EXPECT_EQ(stock.items.at(1).stock->reserved, 200);
  for (const std::string& order : race.sold) {
    const auto r = store_->GetReservation(order, kT0 + 2);
    ASSERT_TRUE(r.reservation.has_value()) << order;
    EXPECT_EQ(r.reservation->items.size(), 2u) << order;
    EXPECT_EQ(r.reservation->status, core::ReservationStatus::kReserved) << order;
  }
}

// An order of two partitions, held: confirm sells both parts; a retry replays; return gives both
// back; another request with the same order_id is refused and leaves nothing.
TEST_F(RedisPartitionedStoreTest, SpanningOrderMovesAsOne) {
  SetStocks({7, 8, 9}, 10);
  ReservationRequest req;
  req.order_id = "cart-1";
  req.items = {{8, 2}, {7, 3}};
  req.ttl_seconds = 60;
  const auto held = store_->Reserve(req, "svc", kT0 + 1);
  ASSERT_EQ(held.code, Code::kOk) << held.message;
  EXPECT_TRUE(held.created);
  ASSERT_TRUE(held.reservation.has_value());
  EXPECT_EQ(held.reservation->items, req.items);
  EXPECT_TRUE(store_->Reserve(req, "svc", kT0 + 2).replayed);

  ReservationRequest other = req;
  other.items = {{9, 1}, {7, 1}};
  EXPECT_EQ(store_->Reserve(other, "svc", kT0 + 3).code, Code::kIdempotencyConflict);
  other.items = {{9, 1}};
  EXPECT_EQ(store_->Reserve(other, "svc", kT0 + 3).code, Code::kIdempotencyConflict);
  EXPECT_EQ(store_->GetStocks({9}, kT0 + 3).items.at(0).stock->available, 10);

  const auto confirmed = store_->Confirm("cart-1", "svc", kT0 + 4, "paid");
  ASSERT_EQ(confirmed.code, Code::kOk) << confirmed.message;
  EXPECT_EQ(confirmed.reservation->status, core::ReservationStatus::kConfirmed);
  EXPECT_TRUE(store_->Confirm("cart-1", "svc", kT0 + 5, "paid").replayed);
  auto stock = store_->GetStocks({7, 8}, kT0 + 5);
  EXPECT_EQ(stock.items.at(0).stock->sold, 3);
  EXPECT_EQ(stock.items.at(1).stock->sold, 2);
  EXPECT_EQ(stock.items.at(0).stock->reserved, 0);

  ASSERT_EQ(store_->Return("cart-1", "svc", kT0 + 6, "refund").code, Code::kOk);
  stock = store_->GetStocks({7, 8}, kT0 + 7);
  EXPECT_EQ(stock.items.at(0).stock->sold, 0);
  EXPECT_EQ(stock.items.at(1).stock->on_hand, 10);
  EXPECT_EQ(store_->GetReservation("cart-1", kT0 + 7).reservation->status,
            core::ReservationStatus::kReturned);
}

// Another request with an order_id already used changes nothing, whatever its parts share with
// the first: the first order keeps every part (and sells them), nothing is sold to nobody, and
// the partitions go on working past the first order's deadline.
TEST_F(RedisPartitionedStoreTest, AnotherRequestWithTheSameOrderIdChangesNothing) {
  SetStocks({3, 4, 6, 7}, 10);
  SetStocks({5}, 0);
  auto stock = [&](std::int64_t sku, std::int64_t at) {
    return *store_->GetStocks({sku}, at).items.at(0).stock;
  };
  // A spanning order, then a request sharing one of its parts and failing elsewhere.
  ReservationRequest a;
  a.order_id = "a";
  a.items = {{3, 2}, {4, 1}};
  a.ttl_seconds = 60;
  ASSERT_EQ(store_->Reserve(a, "svc", kT0).code, Code::kOk);
  ReservationRequest other = a;
  other.items = {{4, 1}, {5, 1}};
  EXPECT_EQ(store_->Reserve(other, "svc", kT0 + 1).code, Code::kIdempotencyConflict);
  other.items = {{4, 1}};  // exactly one of its parts, whole
  EXPECT_EQ(store_->Reserve(other, "svc", kT0 + 1).code, Code::kIdempotencyConflict);
  ASSERT_EQ(store_->Confirm("a", "svc", kT0 + 2, "paid").code, Code::kOk);
  EXPECT_EQ(stock(3, kT0 + 2).sold, 2);
  EXPECT_EQ(stock(4, kT0 + 2).sold, 1);

  // An order all in its home partition, then a request of its items and one failing elsewhere.
  std::string home_order;
  for (int i = 0; home_order.empty(); ++i) {
    if (HomePartition(Id("x-", i), 3) == SkuPartition(6, 3)) home_order = Id("x-", i);
  }
  ReservationRequest x;
  x.order_id = home_order;
  x.items = {{6, 1}};
  x.ttl_seconds = 5;
  ASSERT_EQ(store_->Reserve(x, "svc", kT0).code, Code::kOk);
  other = x;
  other.items = {{6, 1}, {5, 1}};
  EXPECT_EQ(store_->Reserve(other, "svc", kT0 + 1).code, Code::kIdempotencyConflict);
  EXPECT_EQ(store_->GetReservation(home_order, kT0 + 1).reservation->status,
            core::ReservationStatus::kReserved);
  const std::int64_t later = kT0 + 6'000;
  EXPECT_EQ(store_->GetReservation(home_order, later).reservation->status,
            core::ReservationStatus::kExpired);
  EXPECT_EQ(stock(6, later).available, 10);

  // A direct sale in one other partition whose order_id is taken is not sold.
  ReservationRequest sale;
  sale.order_id = "a";
  sale.items = {{7, 1}};
  sale.ttl_seconds = 60;
  sale.confirm = true;
  EXPECT_EQ(store_->Reserve(sale, "svc", later).code, Code::kIdempotencyConflict);
  EXPECT_EQ(stock(7, later).sold, 0);
  EXPECT_EQ(stock(7, later).available, 10);
}

// An origin that held the parts and failed before claiming the order_id leaves parts no call can
// find: the sweeper gives them back once the grace has passed since they were placed (long before
// their deadline), not before; a part whose claim landed stays.
TEST_F(RedisPartitionedStoreTest, PartsWithoutAClaimAreGivenBackByTheSweeper) {
  SetStocks({7, 8}, 5);
  ScriptOp part{"reserve", kT0 + 1, "svc", {"lost-1", "7:2", "3600", "", "0", "part", "7:2", "0"}};
  const CommandResult placed = RunOp(*pool_, "t", part, SkuPartition(7, 3), 3);
  ASSERT_TRUE(placed.ok()) << placed.error();
  ASSERT_NE(placed->str.find("\"created\":true"), std::string::npos) << placed->str;
  ReservationRequest kept;
  kept.order_id = "kept-1";
  kept.items = {{7, 1}, {8, 1}};
  kept.ttl_seconds = 3600;
  ASSERT_EQ(store_->Reserve(kept, "svc", kT0 + 1).code, Code::kOk);
  EXPECT_EQ(store_->GetReservation("lost-1", kT0 + 2).code, Code::kNotFound);
  auto available = [&](std::int64_t at) {
    return store_->GetStocks({7}, at).items.at(0).stock->available;
  };
  EXPECT_EQ(available(kT0 + 2), 2);
  const std::int64_t grace = kT0 + 1 + RedisInventoryStore::kOrphanGraceMs;
  ASSERT_EQ(store_->ExpireDue(grace - 1).code, Code::kOk);
  EXPECT_EQ(available(grace - 1), 2) << "a claim may still be on its way";
  ASSERT_EQ(store_->ExpireDue(grace).code, Code::kOk);
  EXPECT_EQ(available(grace), 4) << "the lost part is given back, the claimed order's kept";
  EXPECT_EQ(
      Inspector().Command({"EXISTS", ReservationKey("t", "lost-1", SkuPartition(7, 3))})->integer,
      0);
  EXPECT_EQ(store_->GetReservation("kept-1", grace).reservation->status,
            core::ReservationStatus::kReserved);
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(Inspector().Command({"ZCARD", PartitionPrefix("t", p) + ":unclaimed"})->integer, 0)
        << "every part looked at once";
  }
}

// Before its claim, a part is no order: calls by its order_id find nothing, even in the order's
// home partition, and change nothing.
TEST_F(RedisPartitionedStoreTest, APartIsNoOrderBeforeItsClaim) {
  SetStocks({7}, 5);
  std::string order;
  for (int i = 0; order.empty(); ++i) {
    if (HomePartition(Id("h-", i), 3) == SkuPartition(7, 3)) order = Id("h-", i);
  }
  ScriptOp part{"reserve", kT0 + 1, "svc", {order, "7:2", "3600", "", "0", "part", "7:2,8:1", "0"}};
  ASSERT_TRUE(RunOp(*pool_, "t", part, SkuPartition(7, 3), 3).ok());
  EXPECT_EQ(store_->GetReservation(order, kT0 + 2).code, Code::kNotFound);
  EXPECT_EQ(store_->Confirm(order, "svc", kT0 + 2, "").code, Code::kNotFound);
  EXPECT_EQ(store_->Release(order, "svc", kT0 + 2, "").code, Code::kNotFound);
  EXPECT_EQ(store_->Extend(order, 60, "svc", kT0 + 2).code, Code::kNotFound);
  const auto s = store_->GetStocks({7}, kT0 + 2).items.at(0).stock;
  EXPECT_EQ(s->reserved, 2);
  EXPECT_EQ(s->sold, 0);
}

// A late acknowledgement of an earlier decision does not clear a later one: a return decided at
// home still reaches the parts through the sweeper.
TEST_F(RedisPartitionedStoreTest, ALateAcknowledgementKeepsTheLaterDecision) {
  HoldCart("cart-3");
  if (HasFatalFailure()) return;
  ASSERT_EQ(store_->Confirm("cart-3", "svc", kT0 + 2, "paid").code, Code::kOk);
  const int home = HomePartition("cart-3", 3);
  ScriptOp decide{"order", kT0 + 3, "svc", {"cart-3", "return", "refund", "0"}};
  ASSERT_TRUE(RunOp(*pool_, "t", decide, home, 3).ok());
  ScriptOp late{"settled", kT0 + 4, "", {"cart-3", "confirmed"}};
  ASSERT_TRUE(RunOp(*pool_, "t", late, home, 3).ok());
  const std::int64_t soon = kT0 + 3 + RedisInventoryStore::kUnsettledGraceMs;
  ASSERT_EQ(store_->ExpireDue(soon).code, Code::kOk);
  for (const StockResult& s : store_->GetStocks({7, 8}, soon).items) {
    EXPECT_EQ(s.stock->sold, 0);
    EXPECT_EQ(s.stock->on_hand, 5);
  }
}

// A confirm decided at home whose parts were not told (the origin failed in between) is carried
// out by the sweeper a few seconds later, long before the deadline: the parts are sold.
TEST_F(RedisPartitionedStoreTest, ADecisionAtHomeIsCarriedOutByTheSweeper) {
  HoldCart("cart-2");
  if (HasFatalFailure()) return;
  ScriptOp decide{"order", kT0 + 2, "svc", {"cart-2", "confirm", "paid", "0"}};
  const CommandResult r = RunOp(*pool_, "t", decide, HomePartition("cart-2", 3), 3);
  ASSERT_TRUE(r.ok()) << r.error();
  auto sold = [&](std::int64_t at) {
    std::vector<std::int64_t> out;
    for (const StockResult& s : store_->GetStocks({7, 8}, at).items) out.push_back(s.stock->sold);
    return out;
  };
  const std::int64_t soon = kT0 + 2 + RedisInventoryStore::kUnsettledGraceMs;
  ASSERT_EQ(store_->ExpireDue(soon - 1).code, Code::kOk);
  EXPECT_EQ(sold(soon - 1), (std::vector<std::int64_t>{0, 0})) << "the parts are not told yet";
  const ExpireResult swept = store_->ExpireDue(soon);
  ASSERT_EQ(swept.code, Code::kOk);
  EXPECT_EQ(swept.expired, 0);
  EXPECT_EQ(sold(soon), (std::vector<std::int64_t>{1, 1}));
  for (const StockResult& s : store_->GetStocks({7, 8}, soon).items) {
    EXPECT_EQ(s.stock->reserved, 0);
  }
  EXPECT_EQ(store_->GetReservation("cart-2", soon).reservation->status,
            core::ReservationStatus::kConfirmed);
  // Told once: home forgot the decision.
  EXPECT_EQ(Inspector()
                .Command({"ZCARD", PartitionPrefix("t", HomePartition("cart-2", 3)) + ":unsettled"})
                ->integer,
            0);
}

// While the partition's slot is being moved between masters, every operation answers
// unavailable on either node and changes nothing (each would see half the keys); when the move
// ends (here: abandoned with SETSLOT STABLE), operations go on from the state before it.
TEST_F(RedisClusterStoreTest, NothingRunsWhileThePartitionsSlotMoves) {
  core::SetStockRequest set;
  set.on_hand = 10;
  ASSERT_EQ(store_->SetStock(4, set, "admin", kT0).code, Code::kOk);
  const int slot = KeySlot(PartitionPrefix("t"));
  const int source = cluster_->MasterOfSlot(slot, cluster_->ports()[0]);
  ASSERT_NE(source, 0);
  int target = 0;
  for (int port : cluster_->ports()) target = port != source && target == 0 ? port : target;
  auto node = [&](int port) {
    RedisConfig config;
    config.port = port;
    return std::make_unique<RedisPool>(config);
  };
  const auto from = node(source);
  const auto to = node(target);
  const std::string from_id = from->Command({"CLUSTER", "MYID"})->str;
  const std::string to_id = to->Command({"CLUSTER", "MYID"})->str;
  const std::string s = std::to_string(slot);
  ASSERT_EQ(to->Command({"CLUSTER", "SETSLOT", s, "IMPORTING", from_id})->str, "OK");
  ASSERT_EQ(from->Command({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id})->str, "OK");

  ReservationRequest req;
  req.order_id = "during-move";
  req.items = {{4, 3}};
  req.ttl_seconds = 600;
  const auto refused = store_->Reserve(req, "svc", kT0 + 1);
  EXPECT_EQ(refused.code, Code::kUnavailable);
  EXPECT_NE(refused.message.find("is being moved"), std::string::npos) << refused.message;
  EXPECT_EQ(store_->GetStocks({4}, kT0 + 1).code, Code::kUnavailable);
  // A script sent to the target directly (as after an ASK) is refused there too.
  const CommandResult at_target =
      to->Sequence({{"ASKING"},
                    {"EVAL", std::string(StockgateScript().source()), "1", PartitionPrefix("t"), s,
                     "", "1", "read", std::to_string(kT0), "", "2", "stock", "4"}});
  ASSERT_TRUE(at_target.ok()) << at_target.error();
  ASSERT_EQ(at_target->elements.size(), 2U);
  ASSERT_EQ(at_target->elements[1].elements.size(), 1U) << at_target->elements[1].str;
  EXPECT_NE(at_target->elements[1].elements[0].str.find("is being moved"), std::string::npos)
      << at_target->elements[1].elements[0].str;

  ASSERT_EQ(to->Command({"CLUSTER", "SETSLOT", s, "STABLE"})->str, "OK");
  ASSERT_EQ(from->Command({"CLUSTER", "SETSLOT", s, "STABLE"})->str, "OK");
  const auto reserved = store_->Reserve(req, "svc", kT0 + 2);
  ASSERT_EQ(reserved.code, Code::kOk) << reserved.message;
  EXPECT_TRUE(reserved.created) << "the refused call changed nothing";
  EXPECT_EQ(store_->GetStocks({4}, kT0 + 2).items.at(0).stock->available, 7);
}

// Keys of the layout before partitions are refused, with what to do; a store in the current
// layout passes.
TEST_F(RedisStoreTest, KeysOfTheEarlierLayoutAreRefused) {
  core::SetStockRequest set;
  set.on_hand = 10;
  ASSERT_EQ(store_->SetStock(4, set, "admin", kT0).code, Code::kOk);
  EXPECT_TRUE(CheckKeyspaceLayout(*pool_, "t").ok());
  for (const std::string& key : EarlierLayoutKeys("t")) {
    ASSERT_TRUE(pool_->Command({"SET", key, "1"}).ok());
    const core::Status refused = CheckKeyspaceLayout(*pool_, "t");
    EXPECT_EQ(refused.code(), Code::kInvalidState) << key;
    EXPECT_NE(refused.error().find("Upgrading the keyspace"), std::string::npos) << key;
    ASSERT_TRUE(pool_->Command({"DEL", key}).ok());
  }
  EXPECT_TRUE(CheckKeyspaceLayout(*pool_, "u").ok()) << "another prefix is not affected";
}

// A hold's units are available again the moment its deadline passes, with no sweeper, and the
// hold can no longer be confirmed.
TEST_F(RedisStoreTest, ExpiryIsExactWithoutASweeper) {
  core::SetStockRequest set;
  set.on_hand = 1;
  store_->SetStock(3, set, "admin", kT0);
  ReservationRequest req;
  req.order_id = "late-payer";
  req.items = {{3, 1}};
  req.ttl_seconds = 5;
  ASSERT_EQ(store_->Reserve(req, "svc", kT0).code, Code::kOk);
  EXPECT_EQ(store_->GetStocks({3}, kT0 + 4'999).items[0].stock->available, 0);
  EXPECT_EQ(store_->GetStocks({3}, kT0 + 5'000).items[0].stock->available, 1);
  EXPECT_EQ(store_->Confirm("late-payer", "svc", kT0 + 5'001, "").code, Code::kReservationExpired);
  req.order_id = "next-buyer";
  EXPECT_EQ(store_->Reserve(req, "svc", kT0 + 5'002).code, Code::kOk);
}

// With Redis gone every call answers kUnavailable (never hangs); once it is back the store works
// again by itself, and every acknowledged reservation survived the SIGKILL (AOF, fsync always).
TEST_F(RedisStoreTest, RedisKilledAndRestarted) {
  core::SetStockRequest set;
  set.on_hand = 1000;
  ASSERT_EQ(store_->SetStock(1, set, "admin", kT0).code, Code::kOk);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 100; ++i) {
    ReservationRequest req;
    req.order_id = Id("ack-", i);
    req.items = {{1, 2}};
    req.ttl_seconds = 3600;
    if (store_->Reserve(req, "svc", kT0 + i).code == Code::kOk)
      acknowledged.push_back(req.order_id);
  }
  ASSERT_EQ(acknowledged.size(), 100u);

  redis_->Kill();
  for (int i = 0; i < 50; ++i) {
    ReservationRequest req;
    req.order_id = Id("down-", i);
    req.items = {{1, 1}};
    EXPECT_EQ(store_->Reserve(req, "svc", kT0 + 200).code, Code::kUnavailable);
  }
  const auto down = store_->GetStocks({1}, kT0 + 200);
  EXPECT_EQ(down.code, Code::kUnavailable);
  // Said once, by the client that saw it: "redis unavailable (backing off): ..." or the like.
  EXPECT_EQ(down.message.rfind("redis", 0), 0u) << down.message;
  EXPECT_EQ(down.message.find("unavailable", down.message.find("unavailable") + 1),
            std::string::npos)
      << down.message;

  ASSERT_TRUE(redis_->Restart());
  Code code = Code::kUnavailable;
  for (int attempt = 0; attempt < 100 && code != Code::kOk; ++attempt) {
    code = store_->GetStocks({1}, kT0 + 300).code;
    if (code != Code::kOk) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(code, Code::kOk);
  for (const std::string& id : acknowledged) {
    const auto r = store_->GetReservation(id, kT0 + 300);
    ASSERT_EQ(r.code, Code::kOk) << id;
    EXPECT_EQ(r.reservation->status, core::ReservationStatus::kReserved);
  }
  EXPECT_EQ(store_->GetStocks({1}, kT0 + 300).items[0].stock->reserved, 200);
  EXPECT_EQ(store_->GetReservation("down-0", kT0 + 300).code, Code::kNotFound);
}

// After SCRIPT FLUSH (a Redis restart without AOF, or a failover) the store reloads its scripts.
TEST_F(RedisStoreTest, SurvivesScriptFlush) {
  core::SetStockRequest set;
  set.on_hand = 5;
  ASSERT_EQ(store_->SetStock(9, set, "admin", kT0).code, Code::kOk);
  ASSERT_TRUE(pool_->Command({"SCRIPT", "FLUSH"}).ok());
  EXPECT_EQ(store_->GetStocks({9}, kT0).items[0].stock->on_hand, 5);
}

// Retention: the records of orders finished (released, expired, returned, confirmed) at or
// before the cutoff leave Redis, and nothing else changes: a live hold and an order finished
// later stay, every SKU's counters are as they were, and a retired order reads as not_found.
// With partitions, nothing of an order is left anywhere: not its parts, its directory at home,
// nor a pointer to a part elsewhere.
void RedisStoreTest::RunRetention() {
  SetStocks({7, 8, 9}, 10);
  const auto order = [](std::string id, std::vector<core::Item> items, bool confirm,
                        std::int64_t ttl = 600) {
    ReservationRequest r;
    r.order_id = std::move(id);
    r.items = std::move(items);
    r.confirm = confirm;
    r.ttl_seconds = ttl;
    return r;
  };
  ASSERT_EQ(store_->Reserve(order("live", {{7, 1}}, false), "svc", kT0 + 1).code, Code::kOk);
  ASSERT_EQ(store_->Reserve(order("rel", {{8, 1}}, false), "svc", kT0 + 2).code, Code::kOk);
  ASSERT_EQ(store_->Release("rel", "svc", kT0 + 3, "").code, Code::kOk);
  ASSERT_EQ(store_->Reserve(order("sold", {{7, 1}, {8, 1}, {9, 1}}, true), "svc", kT0 + 4).code,
            Code::kOk);
  ASSERT_EQ(store_->Reserve(order("back", {{9, 2}}, true), "svc", kT0 + 5).code, Code::kOk);
  ASSERT_EQ(store_->Return("back", "svc", kT0 + 6, "refund").code, Code::kOk);
  ASSERT_EQ(store_->Reserve(order("gone", {{8, 1}, {9, 1}}, false, 1), "svc", kT0 + 7).code,
            Code::kOk);
  // An attempt that failed (with partitions, its parts placed and given back) made no order.
  ASSERT_EQ(store_->Reserve(order("failed", {{8, 1}, {9, 100}}, false), "svc", kT0 + 8).code,
            Code::kInsufficientStock);
  ASSERT_EQ(store_->ExpireDue(kT0 + 5'000).code, Code::kOk);
  ASSERT_EQ(store_->Reserve(order("late", {{9, 1}}, false), "svc", kT0 + 90'000).code, Code::kOk);
  ASSERT_EQ(store_->Release("late", "svc", kT0 + 90'001, "").code, Code::kOk);
  const std::int64_t now = kT0 + 100'000;
  const auto before = store_->GetStocks({7, 8, 9}, now);

  const std::vector<std::int64_t> cutoff(static_cast<std::size_t>(StoreConfig().partitions),
                                         kT0 + 50'000);
  const auto retired = store_->Retire(cutoff, now, /*batch=*/2);  // several calls per partition
  ASSERT_EQ(retired.code, Code::kOk) << retired.message;
  EXPECT_EQ(retired.retired, 4);
  for (const char* id : {"rel", "sold", "back", "gone"}) {
    EXPECT_EQ(store_->GetReservation(id, now).code, Code::kNotFound) << id;
  }
  EXPECT_EQ(store_->GetReservation("live", now).reservation->status,
            core::ReservationStatus::kReserved);
  EXPECT_EQ(store_->GetReservation("late", now).reservation->status,
            core::ReservationStatus::kReleased);
  const auto after = store_->GetStocks({7, 8, 9}, now);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(after.items[i].stock, before.items[i].stock) << i;
  // No key of a retired order is left, in any partition.
  const CommandResult keys = Inspector().Command({"KEYS", "t*"});
  ASSERT_TRUE(keys.ok());
  for (const auto& key : keys->elements) {
    for (const char* id : {":rel", ":sold", ":back", ":gone"}) {
      EXPECT_FALSE(key.str.ends_with(id)) << key.str;
    }
  }
  EXPECT_EQ(store_->Retire(cutoff, now).retired, 0);
  // The order_ids are remembered: reusing one, even with its first request, starts no second
  // order (whatever partitions the order spans); a new order_id sells as before.
  for (auto reuse : {order("rel", {{8, 1}}, false), order("sold", {{7, 1}, {8, 1}, {9, 1}}, true),
                     order("gone", {{8, 1}, {9, 1}}, false, 1), order("back", {{7, 1}}, false)}) {
    const auto again = store_->Reserve(reuse, "svc", now + 1);
    EXPECT_EQ(again.code, Code::kIdempotencyConflict) << reuse.order_id << ": " << again.message;
    EXPECT_NE(again.message.find("retention"), std::string::npos) << again.message;
  }
  // (Parts placed in other partitions before the claim at home refused are given back: their
  // versions moved, their counters did not.)
  const auto refused = store_->GetStocks({7, 8, 9}, now + 2);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(refused.items[i].stock->reserved, before.items[i].stock->reserved) << i;
    EXPECT_EQ(refused.items[i].stock->sold, before.items[i].stock->sold) << i;
    EXPECT_EQ(refused.items[i].stock->on_hand, before.items[i].stock->on_hand) << i;
  }
  EXPECT_EQ(store_->Reserve(order("fresh", {{7, 1}, {9, 1}}, false), "svc", now + 3).code,
            Code::kOk);
  EXPECT_EQ(store_->Reserve(order("failed", {{8, 1}, {9, 1}}, false), "svc", now + 4).code,
            Code::kOk)
      << "an attempt that made no order is no retired order";
}

TEST_F(RedisStoreTest, RetentionRemovesFinishedOrdersOnly) { RunRetention(); }
TEST_F(RedisPartitionedStoreTest, RetentionRemovesFinishedOrdersOnly) { RunRetention(); }

// A snapshot from the last one's cursor lists only the SKUs changed since, whatever partition
// they are in; a cursor of another length lists every SKU, and a cursor ahead of a partition's
// version (a rebuild set it back) every SKU of that partition.
void RedisStoreTest::RunSnapshotDeltas() {
  const int partitions = StoreConfig().partitions;
  auto skus = [](const SnapshotResult& r) {
    std::vector<std::int64_t> out;
    for (const SnapshotItem& item : r.items) out.push_back(item.sku);
    std::sort(out.begin(), out.end());
    return out;
  };
  SetStocks({1, 2, 3, 4, 5, 6}, 5);
  const SnapshotResult all = store_->Snapshot({}, kT0);
  ASSERT_EQ(all.code, Code::kOk) << all.message;
  EXPECT_EQ(skus(all), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(all.cursor.size(), static_cast<std::size_t>(partitions));
  EXPECT_EQ(all.version, std::accumulate(all.cursor.begin(), all.cursor.end(), std::int64_t{0}));

  const SnapshotResult none = store_->Snapshot(all.cursor, kT0);
  EXPECT_TRUE(none.items.empty());
  EXPECT_EQ(none.cursor, all.cursor);

  core::AdjustmentRequest less;
  less.delta = -1;
  for (const std::int64_t sku : {4, 5}) {
    less.request_id = Id("less-", sku);
    ASSERT_EQ(store_->Adjust(sku, less, "admin", kT0 + 1).code, Code::kOk);
  }
  const SnapshotResult delta = store_->Snapshot(all.cursor, kT0 + 1);
  EXPECT_EQ(skus(delta), (std::vector<std::int64_t>{4, 5}));
  for (const SnapshotItem& item : delta.items) EXPECT_EQ(item.available, 4) << item.sku;
  EXPECT_EQ(delta.version, all.version + 2);
  EXPECT_TRUE(store_->Snapshot(delta.cursor, kT0 + 1).items.empty());

  EXPECT_EQ(skus(store_->Snapshot(SnapshotCursor(partitions + 1, 0), kT0 + 1)), skus(all));
  // One number far ahead: with one partition a version ahead of its own, else another length.
  EXPECT_EQ(skus(store_->Snapshot({delta.version + 1'000'000}, kT0 + 1)), skus(all));

  SnapshotCursor ahead = delta.cursor;
  const int p = SkuPartition(1, partitions);
  ahead[static_cast<std::size_t>(p)] += 1'000;
  std::vector<std::int64_t> in_p;
  for (const std::int64_t sku : {1, 2, 3, 4, 5, 6}) {
    if (SkuPartition(sku, partitions) == p) in_p.push_back(sku);
  }
  EXPECT_EQ(skus(store_->Snapshot(ahead, kT0 + 1)), in_p);
}

// The cursor's text: versions joined by '.', and nothing else.
TEST(SnapshotCursorTest, TextRoundTripsAndBadTextIsRefused) {
  EXPECT_EQ(FormatSnapshotCursor({42}), "42");
  EXPECT_EQ(FormatSnapshotCursor({17, 0, 30}), "17.0.30");
  EXPECT_EQ(FormatSnapshotCursor({}), "");
  EXPECT_EQ(ParseSnapshotCursor("42"), (SnapshotCursor{42}));
  EXPECT_EQ(ParseSnapshotCursor("17.0.30"), (SnapshotCursor{17, 0, 30}));
  EXPECT_EQ(ParseSnapshotCursor("9223372036854775807"), (SnapshotCursor{INT64_MAX}));
  for (const char* bad : {"", ".", "1.", ".1", "1..2", "-1", "+1", "1e3", "a", "1.a", " 1", "1 ",
                          "9223372036854775808", "00000000000000000001", "1,2"}) {
    EXPECT_FALSE(ParseSnapshotCursor(bad).has_value()) << bad;
  }
  std::string most = "0";
  for (int i = 1; i < kMaxPartitions; ++i) most += ".0";
  EXPECT_EQ(ParseSnapshotCursor(most)->size(), static_cast<std::size_t>(kMaxPartitions));
  EXPECT_FALSE(ParseSnapshotCursor(most + ".0").has_value()) << "more parts than partitions";
}

TEST_F(RedisStoreTest, SnapshotDeltasFollowTheCursor) { RunSnapshotDeltas(); }
TEST_F(RedisPartitionedStoreTest, SnapshotDeltasFollowTheCursor) { RunSnapshotDeltas(); }

// The one script is embedded whole: the shared part, every operation and the driver.
TEST(StockgateScriptTest, EmbedsEveryOperation) {
  const std::string& source = StockgateScript().source();
  EXPECT_NE(source.find("local function expire_due"), std::string::npos);
  for (const char* op :
       {"set", "adjust", "reserve", "transition", "extend", "read", "snapshot", "expire", "audit",
        "compensate", "restore", "claim", "order", "settle", "due_parts", "retire", "forget"}) {
    EXPECT_NE(source.find(std::string("function OPS.") + op + "("), std::string::npos) << op;
  }
  EXPECT_NE(source.find("return answers"), std::string::npos);
  EXPECT_EQ(StockgateScript().sha1().size(), 40u);
}

}  // namespace
}  // namespace stockgate::store
