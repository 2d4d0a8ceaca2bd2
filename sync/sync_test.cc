// stockgate-sync against real Redis and MariaDB servers started by the test: every ledger event
// lands in the history exactly once (also across SIGKILLs of the sync process and a MariaDB
// outage), the history, inventory and reservations tables equal the reference model, holds expire
// on time and never twice, check finds injected drift and repair clears it, and rebuild after
// FLUSHALL restores the exact state.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/inventory_model.h"
#include "origin/history/mariadb.h"
#include "origin/history/schema.h"
#include "origin/store/keyspace.h"
#include "origin/store/recovery.h"
#include "origin/store/redis_cluster.h"
#include "origin/store/redis_inventory_store.h"
#include "origin/store/redis_pool.h"
#include "sync/ingester.h"
#include "sync/outbox.h"
#include "sync/reconcile.h"
#include "sync/sweeper.h"
#include "tests/support/clock.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"

namespace stockgate::sync {
namespace {

using core::InventoryModel;
using core::ReservationRequest;
using history::MariaDbConnection;
using history::MySqlConfig;
using history::QueryResult;
using stockgate::testing::MariaDbServer;
using stockgate::testing::RedisServer;
using store::RedisInventoryStore;
using store::RedisPool;

constexpr std::int64_t kT0 = 1'800'000'000'000;

std::string Id(std::string_view prefix, std::int64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

constexpr auto RealNowMs = testing::WallClockMs;

// Random operations of every kind applied to the Redis store and the reference model alike, on
// a simulated clock; each answer's code must agree.
class Workload {
 public:
  Workload(RedisInventoryStore& store, std::uint64_t seed) : store_(store), rng_(seed) {}

  void Step() {
    now_ += Pick(400);
    if (store_.partitions() > 1) {
      // Holds of orders spanning partitions come back through the sweeper (as sync's runs it):
      // swept before each step, the store answers as the model does.
      const store::ExpireResult e = store_.ExpireDue(now_);
      EXPECT_EQ(e.code, core::Code::kOk) << e.message;
      EXPECT_EQ(e.expired, model_.ExpireDue(now_)) << "sweep before step " << steps_ + 1;
    }
    const std::int64_t action = Pick(100);
    const std::int64_t sku = 1 + Pick(6);
    const std::string at = Id("step ", ++steps_);
    if (action < 8) {
      core::SetStockRequest r;
      r.on_hand = Pick(60);
      if (Pick(4) == 0) r.per_customer_limit = Pick(5);
      if (Pick(4) == 0) r.low_stock_threshold = Pick(7);
      r.reason = "count";
      Same(model_.SetStock(sku, r, "admin", now_), store_.SetStock(sku, r, "admin", now_), at);
    } else if (action < 16) {
      core::AdjustmentRequest r;
      r.delta = Pick(30) - 10;
      if (r.delta == 0) r.delta = 3;
      r.request_id = Id("adj-", Pick(40));
      r.reason = "restock";
      Same(model_.Adjust(sku, r, "admin", now_), store_.Adjust(sku, r, "admin", now_), at);
    } else if (action < 50) {
      ReservationRequest r;
      if (!issued_.empty() && Pick(8) == 0) {
        r = issued_[static_cast<std::size_t>(Pick(static_cast<std::int64_t>(issued_.size())))];
      } else {
        r.order_id = Id("o-", next_order_++);
        const std::int64_t n = 1 + Pick(3);
        for (std::int64_t i = 0; i < n; ++i) {
          const std::int64_t s = 1 + (sku + i) % 6;
          r.items.push_back({s, 1 + Pick(4)});
        }
        r.ttl_seconds = 1 + Pick(20);
        r.customer_id = Pick(3) == 0 ? "" : Id("c", Pick(3));
        r.confirm = Pick(6) == 0;
        issued_.push_back(r);
      }
      Same(model_.Reserve(r, "svc", now_), store_.Reserve(r, "svc", now_), at);
    } else if (action < 92) {
      const std::string order = RandomOrder();
      const std::int64_t which = Pick(4);
      if (which == 0) {
        Same(model_.Confirm(order, "svc", now_, "paid"), store_.Confirm(order, "svc", now_, "paid"),
             at);
      } else if (which == 1) {
        Same(model_.Release(order, "svc", now_, ""), store_.Release(order, "svc", now_, ""), at);
      } else if (which == 2) {
        Same(model_.Return(order, "svc", now_, "refund"),
             store_.Return(order, "svc", now_, "refund"), at);
      } else {
        const std::int64_t ttl = 1 + Pick(30);
        Same(model_.Extend(order, ttl, "svc", now_), store_.Extend(order, ttl, "svc", now_), at);
      }
    } else {
      const store::ExpireResult e = store_.ExpireDue(now_);
      EXPECT_EQ(e.code, core::Code::kOk) << at;
      EXPECT_EQ(e.expired, model_.ExpireDue(now_)) << at;
    }
  }

  void Run(int steps) {
    for (int i = 0; i < steps && !::testing::Test::HasFailure(); ++i) Step();
  }

  InventoryModel& model() { return model_; }
  std::int64_t now() const { return now_; }

 private:
  std::int64_t Pick(std::int64_t n) {
    return static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(n));
  }
  std::string RandomOrder() {
    if (issued_.empty() || Pick(12) == 0) return "missing";
    return issued_[static_cast<std::size_t>(Pick(static_cast<std::int64_t>(issued_.size())))]
        .order_id;
  }
  template <class Result>
  void Same(const Result& model, const Result& redis, const std::string& at) {
    EXPECT_EQ(core::CodeName(redis.code), core::CodeName(model.code))
        << at << ": " << redis.message;
  }

  RedisInventoryStore& store_;
  InventoryModel model_;
  std::mt19937_64 rng_;
  std::vector<ReservationRequest> issued_;
  std::int64_t now_ = kT0;
  std::int64_t next_order_ = 0;
  std::int64_t steps_ = 0;
};

// A stockgate-sync process, started and killed by the test.
class SyncProcess {
 public:
  SyncProcess(std::vector<std::string> args) : args_(std::move(args)) {}
  ~SyncProcess() { Kill(); }
  void Start() {
    // Blocked from before the fork and across exec, as stockgate-sync keeps them until it waits
    // for them: a SIGTERM sent while it starts (even before the child runs at all) is then a
    // clean stop, not a kill.
    sigset_t stop;
    sigset_t old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<char*> argv;
      std::string binary = STOCKGATE_SYNC_BINARY;
      argv.push_back(binary.data());
      for (std::string& a : args_) argv.push_back(a.data());
      argv.push_back(nullptr);
      // Logs are not needed here; keep the test output readable.
      freopen("/dev/null", "w", stdout);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  // Waits for it to exit by itself; returns the exit status.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // SIGTERM; returns the exit status.
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  std::vector<std::string> args_;
  pid_t pid_ = 0;
};

class SyncTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mariadb_ = MariaDbServer::Start().release();
    ASSERT_NE(mariadb_, nullptr);
  }
  static void TearDownTestSuite() {
    delete mariadb_;
    mariadb_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(mariadb_, nullptr);
    if (!mariadb_->running()) {
      ASSERT_TRUE(mariadb_->Restart());
    }
    StartRedis();
    if (HasFatalFailure()) return;
    store::RedisConfig rc;
    rc.command_timeout_ms = 2000;
    pool_ = Connect(rc);
    store::RedisStoreConfig store_config("sg");
    store_config.partitions = Partitions();
    store_ = std::make_unique<RedisInventoryStore>(*pool_, store_config);
    outbox_ = std::make_unique<Outbox>(*pool_, "sg");
    for (int p = 0; p < Partitions(); ++p) {
      outboxes_.push_back(std::make_unique<Outbox>(*pool_, "sg", "sync", p));
    }
    // As a starting origin does before its first sale: the keyspace's partition count recorded,
    // so that a sync process started later finds it (and not data of an unrecorded count).
    const core::Status count = store::CheckPartitionCount(*pool_, "sg", Partitions());
    ASSERT_TRUE(count.ok()) << count.error();
    mysql_.port = mariadb_->port();
    mysql_.database = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    mysql_.read_timeout_s = 2;
    mysql_.write_timeout_s = 2;
    const core::Result<std::vector<int>> m = history::ApplyMigrations(mysql_);
    ASSERT_TRUE(m.ok()) << m.error();
  }

  virtual void StartRedis() {
    redis_ = RedisServer::Start();
    ASSERT_NE(redis_, nullptr);
  }
  virtual int Partitions() const { return 1; }
  // A blocking client of the Redis under test, as stockgate-sync has.
  virtual std::unique_ptr<store::RedisClient> Connect(store::RedisConfig config) const {
    config.port = redis_->port();
    return std::make_unique<RedisPool>(config);
  }
  // Every key of every node gone, as after a data loss.
  virtual void FlushAll() { ASSERT_TRUE(pool_->Command({"FLUSHALL"}).ok()); }
  // Where stockgate-sync finds the Redis under test.
  virtual std::vector<std::string> RedisArgs() const {
    return {"--redis", Id("127.0.0.1:", redis_->port())};
  }

  std::vector<std::string> SyncArgs(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = RedisArgs();
    for (std::string a :
         {std::string("--redis-key-prefix"), std::string("sg"), std::string("--redis-partitions"),
          std::to_string(Partitions()), std::string("--mysql"),
          "mysql://" + mysql_.user + Id("@127.0.0.1:", mariadb_->port()) + "/" + mysql_.database,
          std::string("--claim-idle-ms"), std::string("300"), std::string("--batch-size"),
          std::string("50"), std::string("--stats-interval-ms"), std::string("100000")}) {
      args.push_back(std::move(a));
    }
    for (auto& e : extra) args.push_back(std::move(e));
    return args;
  }

  IngestConfig FastIngest(std::string consumer) {
    IngestConfig c;
    c.consumer = std::move(consumer);
    c.batch_size = 64;
    c.block_ms = 20;
    c.claim_idle_ms = 300;
    c.claim_every_ms = 200;
    c.trim_every_ms = 200;
    return c;
  }

  // Steps an in-process ingester until the stream is drained.
  void DrainWith(Ingester& ingester) {
    for (int i = 0; i < 20'000; ++i) {
      if (ingester.RunOnce() == Ingester::Step::kIdle && Drained()) return;
    }
    FAIL() << "the outbox did not drain: " << ingester.last_error();
  }

  // True once nothing is pending or undelivered in the group, in any partition.
  bool Drained() {
    for (const auto& outbox : outboxes_) {
      const core::Result<Outbox::Backlog> b = outbox->Measure();
      if (!b.ok() || b->pending != 0 || b->undelivered != 0) return false;
    }
    return true;
  }

  // Waits (up to 60 s) for external sync processes to drain the stream.
  void WaitDrained() {
    for (int i = 0; i < 600; ++i) {
      if (Drained()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const core::Result<Outbox::Backlog> b = outbox_->Measure();
    FAIL() << "not drained: length " << b->length << " pending " << b->pending << " undelivered "
           << b->undelivered;
  }

  // The bodies of the tests run on one Redis and on a cluster alike.
  void RunEveryEventLandsExactlyOnce();
  void RunRebuildAfterFlushall();
  // stockgate-sync run (sweeping every `sweep_ms`, "0": not) drains a random sale into tables
  // equal to the model, stops cleanly on SIGTERM, and stockgate-sync check then finds no drift.
  void RunDaemonDrainsAndChecks(std::uint64_t seed, const char* sweep_ms) {
    Workload work(*store_, seed);
    SyncProcess sync(SyncArgs({"--sweep-interval-ms", sweep_ms}));
    sync.Start();
    work.Run(1500);
    WaitDrained();
    EXPECT_EQ(sync.Stop(), 0) << "SIGTERM stops it cleanly";
    ExpectMirrorsModel(work.model());
    SyncProcess check(SyncArgs({"check"}));
    check.Start();
    EXPECT_EQ(check.Wait(), 0) << "no drift";
  }

  QueryResult Sql(const std::string& sql) {
    auto conn = MariaDbConnection::Open(mysql_, true);
    EXPECT_TRUE(conn.ok()) << conn.error();
    if (!conn) return {};
    QueryResult r = (*conn)->Query(sql);
    EXPECT_TRUE(r.ok) << r.error << " in " << sql;
    return r;
  }

  // The reservations table holds every reservation of the model, as the model has it.
  void ExpectReservationRows(InventoryModel& model) {
    const QueryResult res =
        Sql("SELECT order_id, status, items, customer_id, ttl_seconds, confirm, expires_at_ms, "
            "created_at_ms, updated_at_ms FROM reservations ORDER BY order_id");
    const auto all = model.AllReservations();
    ASSERT_EQ(res.rows.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto& r = all[i];
      const std::vector<std::string> expected = {r.order_id,
                                                 std::string(core::ReservationStatusName(r.status)),
                                                 store::FormatItemsField(r.items),
                                                 r.customer_id,
                                                 std::to_string(r.ttl_seconds),
                                                 r.confirm ? "1" : "0",
                                                 std::to_string(r.expires_at_ms),
                                                 std::to_string(r.created_at_ms),
                                                 std::to_string(r.updated_at_ms)};
      for (std::size_t k = 0; k < expected.size(); ++k) {
        EXPECT_EQ(res.rows[i][k].value_or(""), expected[k]) << r.order_id << " column " << k;
      }
    }
  }

  // The history, inventory and reservations tables hold exactly what the model says, and the
  // check is clean.
  void ExpectMirrorsModel(InventoryModel& model) {
    const auto& ledger = model.Ledger();
    const QueryResult h =
        Sql("SELECT sku, ref, op, qty, before_available, after_available, actor, reason, time_ms "
            "FROM inventory_history ORDER BY event_id");
    ASSERT_EQ(h.rows.size(), ledger.size()) << "every event exactly once";
    for (std::size_t i = 0; i < ledger.size(); ++i) {
      const auto& e = ledger[i];
      const history::Row& r = h.rows[i];
      const std::vector<std::string> expected = {std::to_string(e.sku),
                                                 e.ref,
                                                 std::string(core::LedgerOpName(e.op)),
                                                 std::to_string(e.qty),
                                                 std::to_string(e.before),
                                                 std::to_string(e.after),
                                                 e.actor,
                                                 e.reason,
                                                 std::to_string(e.time_ms)};
      for (std::size_t k = 0; k < expected.size(); ++k) {
        ASSERT_EQ(r[k].value_or("NULL"), expected[k]) << "event " << i + 1 << " column " << k;
      }
    }
    const QueryResult inv =
        Sql("SELECT sku, on_hand, reserved, sold, version, per_customer_limit, updated_at_ms, "
            "low_stock_threshold FROM inventory ORDER BY sku");
    const auto stock = model.AllStock();
    ASSERT_EQ(inv.rows.size(), stock.size());
    for (std::size_t i = 0; i < stock.size(); ++i) {
      const auto& s = stock[i];
      const std::vector<std::int64_t> expected = {s.sku,           s.on_hand,
                                                  s.reserved,      s.sold,
                                                  s.version,       s.per_customer_limit,
                                                  s.updated_at_ms, s.low_stock_threshold};
      for (std::size_t k = 0; k < expected.size(); ++k) {
        EXPECT_EQ(inv.rows[i][k].value_or(""), std::to_string(expected[k]))
            << "sku " << s.sku << " column " << k;
      }
    }
    ExpectReservationRows(model);
    const core::Result<CheckReport> check = Check(*pool_, "sg", mysql_, RealNowMs());
    ASSERT_TRUE(check.ok()) << check.error();
    for (const Drift& d : check->drifts) ADD_FAILURE() << d.Describe();
  }

  static MariaDbServer* mariadb_;
  std::unique_ptr<RedisServer> redis_;  // null on a cluster
  std::unique_ptr<store::RedisClient> pool_;
  std::unique_ptr<RedisInventoryStore> store_;
  std::unique_ptr<Outbox> outbox_;                 // partition 0's
  std::vector<std::unique_ptr<Outbox>> outboxes_;  // every partition's
  MySqlConfig mysql_;
};

MariaDbServer* SyncTest::mariadb_ = nullptr;

// The same against a Redis Cluster of three masters, through the cluster client, as
// stockgate-sync runs with --redis-cluster.
class SyncClusterTest : public SyncTest {
 protected:
  void StartRedis() override {
    cluster_ = stockgate::testing::RedisClusterServers::Start({.masters = 3});
    ASSERT_NE(cluster_, nullptr);
  }
  std::unique_ptr<store::RedisClient> Connect(store::RedisConfig config) const override {
    store::RedisClusterConfig c;
    for (int port : cluster_->ports()) c.seeds.push_back({"127.0.0.1", port});
    c.node = config;
    c.pipelined = false;
    return std::make_unique<store::RedisCluster>(c);
  }
  std::vector<std::string> RedisArgs() const override {
    std::vector<store::ClusterNode> seeds;
    for (int port : cluster_->ports()) seeds.push_back({"127.0.0.1", port});
    return {"--redis-cluster", store::NodeList(seeds)};
  }

  void FlushAll() override {
    for (const auto& node : cluster_->nodes()) EXPECT_EQ(node->Ask("FLUSHALL"), "+OK\r\n");
  }

  std::unique_ptr<stockgate::testing::RedisClusterServers> cluster_;
};

// As the shipped ACL user stockgate-sync (deploy/redis/users.acl), as a deployment runs it: the
// consumer, the sweeper and check work within its rights.
class SyncAclTest : public SyncTest {
 protected:
  void StartRedis() override {
    redis_ = RedisServer::Start(stockgate::testing::WithShippedUsers("sg"));
    ASSERT_NE(redis_, nullptr);
    // stockgate-sync reads its password from the environment, as it would from its unit's.
    setenv("STOCKGATE_REDIS_PASSWORD",
           stockgate::testing::RedisUserPassword("stockgate-sync").c_str(), 1);
  }
  void TearDown() override { unsetenv("STOCKGATE_REDIS_PASSWORD"); }
  std::unique_ptr<store::RedisClient> Connect(store::RedisConfig config) const override {
    config.username = "stockgate-sync";
    config.password = stockgate::testing::RedisUserPassword("stockgate-sync");
    return SyncTest::Connect(config);
  }
  std::vector<std::string> RedisArgs() const override {
    std::vector<std::string> args = SyncTest::RedisArgs();
    args.insert(args.end(), {"--redis-user", "stockgate-sync"});
    return args;
  }
};

// A store of three partitions: most orders of two or three SKUs span partitions.
class SyncPartitionedTest : public SyncTest {
 protected:
  int Partitions() const override { return 3; }

  // Redis and the tables hold what the model says: counters (versions and times move with the
  // compensations of orders that failed in one partition, so they are not compared), every
  // reservation's record, and a history that sums to the counters (check).
  void ExpectMatchesModel(InventoryModel& model, std::int64_t at) {
    std::vector<std::int64_t> skus;
    for (const auto& s : model.AllStock()) skus.push_back(s.sku);
    const store::StockListResult list = store_->GetStocks(skus, at);
    ASSERT_EQ(list.code, core::Code::kOk) << list.message;
    const QueryResult inv =
        Sql("SELECT sku, on_hand, reserved, sold, per_customer_limit FROM inventory ORDER BY sku");
    ASSERT_EQ(inv.rows.size(), skus.size());
    for (std::size_t i = 0; i < skus.size(); ++i) {
      const core::StockView want = *model.GetStock(skus[i], at).stock;
      const core::StockView& got = *list.items[i].stock;
      EXPECT_EQ(got.on_hand, want.on_hand) << skus[i];
      EXPECT_EQ(got.reserved, want.reserved) << skus[i];
      EXPECT_EQ(got.sold, want.sold) << skus[i];
      EXPECT_EQ(got.per_customer_limit, want.per_customer_limit) << skus[i];
      const std::vector<std::int64_t> row = {want.sku, want.on_hand, want.reserved, want.sold,
                                             want.per_customer_limit};
      for (std::size_t k = 0; k < row.size(); ++k) {
        EXPECT_EQ(inv.rows[i][k].value_or(""), std::to_string(row[k])) << skus[i] << " " << k;
      }
    }
    ExpectReservationRows(model);
    for (const auto& r : model.AllReservations()) {
      EXPECT_EQ(store_->GetReservation(r.order_id, at).reservation, r) << r.order_id;
    }
    const core::Result<CheckReport> check = Check(*pool_, "sg", mysql_, RealNowMs(), Partitions());
    ASSERT_TRUE(check.ok()) << check.error();
    for (const Drift& d : check->drifts) ADD_FAILURE() << d.Describe();
    EXPECT_GT(check->history_events, 0);
  }
};

// stockgate-sync drains every partition's outbox into one history whose event ids never collide,
// mirrors orders spanning partitions as one reservation each, checks clean, refuses another
// partition count, and after a data loss rebuilds every partition (directories and parts too),
// from where the sale goes on.
TEST_F(SyncPartitionedTest, DrainsChecksAndRebuildsEveryPartition) {
  Workload work(*store_, 31);
  {
    SyncProcess sync(SyncArgs({"--sweep-interval-ms", "0"}));
    sync.Start();
    work.Run(1500);
    WaitDrained();
    EXPECT_EQ(sync.Stop(), 0);
  }
  ExpectMatchesModel(work.model(), work.now());
  SyncProcess check(SyncArgs({"check"}));
  check.Start();
  EXPECT_EQ(check.Wait(), 0) << "no drift";
  std::vector<std::string> two = SyncArgs({"check"});
  two[std::find(two.begin(), two.end(), "--redis-partitions") - two.begin() + 1] = "2";
  SyncProcess mismatch(two);
  mismatch.Start();
  EXPECT_EQ(mismatch.Wait(), 2) << "a keyspace keeps its partition count";
  // A reader of the snapshot feed, up to date when Redis loses its data.
  const store::SnapshotResult before = store_->Snapshot({}, work.now());
  ASSERT_EQ(before.cursor.size(), static_cast<std::size_t>(Partitions()));

  FlushAll();
  const core::Result<RebuildReport> rebuilt =
      Rebuild(*pool_, "sg", mysql_, RealNowMs(), Partitions());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error();
  for (const std::string& w : rebuilt->warnings) ADD_FAILURE() << w;
  ExpectMatchesModel(work.model(), work.now());
  // Its cursor lists every SKU of every partition again.
  EXPECT_EQ(store_->Snapshot(before.cursor, work.now()).items.size(), before.items.size());
  {
    SyncProcess sync(SyncArgs({"--sweep-interval-ms", "0"}));
    sync.Start();
    work.Run(300);
    WaitDrained();
    EXPECT_EQ(sync.Stop(), 0);
  }
  ExpectMatchesModel(work.model(), work.now());
}

// More partitions than sync has ingest threads (8): a thread polls several outboxes in turn.
class SyncManyPartitionsTest : public SyncPartitionedTest {
 protected:
  int Partitions() const override { return 10; }
};

TEST_F(SyncManyPartitionsTest, OneThreadDrainsSeveralPartitions) {
  Workload work(*store_, 32);
  SyncProcess sync(SyncArgs({"--sweep-interval-ms", "0"}));
  sync.Start();
  work.Run(800);
  WaitDrained();
  EXPECT_EQ(sync.Stop(), 0);
  ExpectMatchesModel(work.model(), work.now());
}

TEST_F(SyncAclTest, EveryEventLandsExactlyOnce) { RunEveryEventLandsExactlyOnce(); }

TEST_F(SyncAclTest, TheDaemonSweepsDrainsAndChecksWithinItsRights) {
  RunDaemonDrainsAndChecks(12, "50");
  // With a wrong password it cannot even start its work: check fails.
  setenv("STOCKGATE_REDIS_PASSWORD", "not-the-password", 1);
  SyncProcess refused(SyncArgs({"check"}));
  refused.Start();
  EXPECT_EQ(refused.Wait(), 2);
}

// Each database user of a deployment can do what its part does and nothing more; migrate sets
// them up again with new passwords; an up-to-date schema passes ApplyMigrations as any of them.
TEST_F(SyncTest, DatabaseUsersHoldOnlyTheirRights) {
  using history::DatabaseRole;
  ASSERT_TRUE(history::EnsureDatabaseUsers(mysql_, {{DatabaseRole::kOrigin, "origin-pw"},
                                                    {DatabaseRole::kSync, "sync-pw"},
                                                    {DatabaseRole::kMigrate, "migrate-pw"}})
                  .ok());
  auto as = [&](DatabaseRole role, const char* password) {
    MySqlConfig c = mysql_;
    c.user = history::DatabaseUserName(role);
    c.password = password;
    auto conn = MariaDbConnection::Open(c, true);
    EXPECT_TRUE(conn.ok()) << c.user << ": " << conn.error();
    return conn.ok() ? std::move(conn).value() : nullptr;
  };
  auto allowed = [](MariaDbConnection& conn, const std::string& sql) {
    const QueryResult r = conn.Query(sql);
    EXPECT_TRUE(r.ok) << sql << ": " << r.error;
  };
  auto denied = [](MariaDbConnection& conn, const std::string& sql) {
    const QueryResult r = conn.Query(sql);
    EXPECT_FALSE(r.ok) << sql;
    EXPECT_NE(r.error.find("denied"), std::string::npos) << sql << ": " << r.error;
  };
  const std::string row =
      "INSERT INTO reservations (order_id, status, items, customer_id, ttl_seconds, confirm, "
      "expires_at_ms, created_at_ms, updated_at_ms, last_event) VALUES ('u-1', 'reserved', '1:1', "
      "'', 60, 0, 1, 1, 1, 0)";
  const auto origin = as(DatabaseRole::kOrigin, "origin-pw");
  ASSERT_NE(origin, nullptr);
  allowed(*origin, "SELECT COUNT(*) FROM inventory_history");
  denied(*origin, row);
  denied(*origin, "DELETE FROM inventory_history");
  denied(*origin, "DROP TABLE inventory_history");
  const auto sync = as(DatabaseRole::kSync, "sync-pw");
  ASSERT_NE(sync, nullptr);
  allowed(*sync, row);
  allowed(*sync, "DELETE FROM reservations WHERE order_id = 'u-1'");
  denied(*sync, "CREATE TABLE extra (x INT)");
  denied(*sync, "DROP TABLE inventory_history");
  denied(*sync, "CREATE USER 'someone'@'%'");
  denied(*sync, "SELECT COUNT(*) FROM mysql.user");
  const auto migrate = as(DatabaseRole::kMigrate, "migrate-pw");
  ASSERT_NE(migrate, nullptr);
  allowed(*migrate, "CREATE TABLE extra (x INT)");
  allowed(*migrate, "DROP TABLE extra");
  denied(*migrate, "CREATE USER 'someone'@'%'");
  denied(*migrate, "SELECT COUNT(*) FROM mysql.user");

  for (auto [role, password] :
       {std::pair{DatabaseRole::kOrigin, "origin-pw"}, std::pair{DatabaseRole::kSync, "sync-pw"}}) {
    MySqlConfig c = mysql_;
    c.user = history::DatabaseUserName(role);
    c.password = password;
    const core::Result<std::vector<int>> m = history::ApplyMigrations(c);
    ASSERT_TRUE(m.ok()) << c.user << ": " << m.error();
    EXPECT_TRUE(m->empty()) << "an up-to-date schema needs no right to change it";
  }
  // On a database without the schema, sync's account may not create it, and is told what to do.
  {
    MySqlConfig fresh = mysql_;
    fresh.database = "DatabaseUsersFresh";
    MySqlConfig admin = fresh;
    ASSERT_TRUE(history::EnsureDatabaseUsers(admin, {{DatabaseRole::kSync, "sync-pw"}}).ok());
    fresh.user = "stockgate_sync";
    fresh.password = "sync-pw";
    const core::Result<std::vector<int>> refused = history::ApplyMigrations(fresh);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().find("run stockgate-sync migrate as the migration account"),
              std::string::npos)
        << refused.error();
  }
  ASSERT_TRUE(history::EnsureDatabaseUsers(mysql_, {{DatabaseRole::kOrigin, "origin-pw-2"}}).ok());
  MySqlConfig old = mysql_;
  old.user = "stockgate_origin";
  old.password = "origin-pw";
  EXPECT_FALSE(MariaDbConnection::Open(old, true).ok()) << "the old password no longer works";
  EXPECT_NE(as(DatabaseRole::kOrigin, "origin-pw-2"), nullptr);
}

// stockgate-sync run and check as the deployment's sync user: within its rights, the daemon
// drains a sale into the history and check finds no drift.
class SyncDbUserTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(
        history::EnsureDatabaseUsers(mysql_, {{history::DatabaseRole::kSync, "sync-pw"}}).ok());
    mysql_.user = "stockgate_sync";
    mysql_.password = "sync-pw";
    setenv("STOCKGATE_MYSQL_PASSWORD", "sync-pw", 1);
  }
  void TearDown() override { unsetenv("STOCKGATE_MYSQL_PASSWORD"); }
};

TEST_F(SyncDbUserTest, TheDaemonDrainsAndChecksAsTheSyncUser) {
  RunDaemonDrainsAndChecks(13, "50");
}

// stockgate-sync itself on a cluster (--redis-cluster): its consumer drains the outbox of the
// partition's master, and its check finds Redis and MariaDB alike.
TEST_F(SyncClusterTest, TheDaemonDrainsAClusterAndChecksIt) { RunDaemonDrainsAndChecks(11, "0"); }

// A long random run, ingested while it happens: each event lands once, the tables equal the
// model, the check is clean, and the stream is trimmed of what was written.
TEST_F(SyncTest, EveryEventLandsExactlyOnce) { RunEveryEventLandsExactlyOnce(); }
TEST_F(SyncClusterTest, EveryEventLandsExactlyOnce) { RunEveryEventLandsExactlyOnce(); }

void SyncTest::RunEveryEventLandsExactlyOnce() {
  Workload work(*store_, 4);
  Ingester ingester(*outbox_, mysql_, FastIngest("a"), RealNowMs);
  for (int round = 0; round < 60 && !HasFailure(); ++round) {
    work.Run(100);
    for (int i = 0; i < 3; ++i) ingester.RunOnce();
  }
  DrainWith(ingester);
  ASSERT_GT(work.model().Ledger().size(), 1200u);
  ExpectMirrorsModel(work.model());
  const IngestStats stats = ingester.TakeStats();
  EXPECT_EQ(stats.events, static_cast<std::int64_t>(work.model().Ledger().size()));
  EXPECT_EQ(stats.duplicates, 0);
  ingester.RunOnce();  // an idle round trims
  EXPECT_LT(outbox_->Measure()->length, 64) << "acknowledged entries are trimmed";
}

// Entries delivered twice (a consumer that stalled past the claim time and then committed
// anyway) are written once: the second delivery finds them and changes nothing.
TEST_F(SyncTest, ReplayedBatchesChangeNothing) {
  Workload work(*store_, 5);
  work.Run(300);
  ASSERT_TRUE(outbox_->EnsureGroup().ok());
  // Read everything as consumer a without acknowledging, as a consumer that then crashed would.
  std::vector<store::OutboxEntry> all;
  for (;;) {
    OutboxRead r = outbox_->ReadNew("a", 100, 10);
    ASSERT_TRUE(r.ok()) << r.error();
    if (r->entries.empty()) break;
    for (auto& e : r->entries) all.push_back(std::move(e));
  }
  auto opened = MariaDbConnection::Open(mysql_, true);
  ASSERT_TRUE(opened.ok()) << opened.error();
  std::unique_ptr<MariaDbConnection> conn = std::move(opened).value();
  // Consumer a committed the first half before dying.
  const std::vector<store::OutboxEntry> half(all.begin(), all.begin() + all.size() / 2);
  ASSERT_TRUE(WriteBatch(*conn, half).ok());
  // Consumer b claims everything (a is idle) and writes it all.
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  Ingester b(*outbox_, mysql_, FastIngest("b"), RealNowMs);
  DrainWith(b);
  const IngestStats stats = b.TakeStats();
  EXPECT_GT(stats.claimed, 0);
  EXPECT_GT(stats.duplicates, 0);
  ExpectMirrorsModel(work.model());
}

// A read whose reply never arrives leaves its entries pending for this consumer: here Redis is
// frozen, the read times out, and Redis runs it when it thaws. After the error the ingester reads
// its own pending entries again at once, not only once the claim time has passed.
TEST_F(SyncTest, EntriesOfALostReadReplyAreReadAgainAfterARedisError) {
  Workload work(*store_, 8);
  IngestConfig config = FastIngest("a");
  config.claim_idle_ms = 3'600'000;  // no claiming: only reading its own pending entries helps
  config.claim_every_ms = 3'600'000;
  Ingester ingester(*outbox_, mysql_, config, RealNowMs);
  work.Run(50);
  DrainWith(ingester);
  work.Run(200);
  redis_->Pause();
  EXPECT_EQ(ingester.RunOnce(), Ingester::Step::kRedisDown);
  redis_->Resume();
  // Until the breaker lets calls through again, the backlog is unknown: count it as none.
  const auto pending = [this] {
    const core::Result<Outbox::Backlog> b = outbox_->Measure();
    return b.ok() ? b->pending : 0;
  };
  for (int i = 0; i < 100 && pending() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(pending(), 0) << "the timed-out read ran after the thaw";
  for (int i = 0; i < 300 && !Drained(); ++i) ingester.RunOnce();
  ASSERT_TRUE(Drained()) << "pending entries were left for the claim: " << ingester.last_error();
  ExpectMirrorsModel(work.model());
}

// A stream still holding an entry of the earlier format (one entry per ledger event) is not
// misread: sync writes the new entries around it, leaves it pending with a message that says
// what it is, and check reports it.
TEST_F(SyncTest, EntriesOfTheEarlierFormatAreRefusedAndReported) {
  ASSERT_TRUE(pool_
                  ->Command({"XADD",   store::LedgerKey("sg"),
                             "*",      "kind",
                             "ledger", "sku",
                             "9",      "ref",
                             "",       "op",
                             "set",    "qty",
                             "5",      "before",
                             "0",      "after",
                             "5",      "actor",
                             "a",      "reason",
                             "",       "time",
                             "1",      "version",
                             "1"})
                  .ok());
  Workload work(*store_, 9);
  work.Run(100);
  Ingester ingester(*outbox_, mysql_, FastIngest("a"), RealNowMs);
  const auto only_the_old_one_left = [&] {
    const core::Result<Outbox::Backlog> b = outbox_->Measure();
    return b.ok() && b->undelivered == 0 && b->pending == 1;
  };
  for (int i = 0; i < 500 && !only_the_old_one_left(); ++i) ingester.RunOnce();
  ASSERT_TRUE(only_the_old_one_left()) << "the old entry stays, unacknowledged";
  EXPECT_NE(ingester.last_error().find("earlier outbox format"), std::string::npos)
      << ingester.last_error();
  EXPECT_GE(ingester.TakeStats().malformed, 1);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM inventory_history WHERE sku = 9").rows[0][0], "0");
  const core::Result<CheckReport> check = Check(*pool_, "sg", mysql_, work.now());
  ASSERT_TRUE(check.ok()) << check.error();
  ASSERT_EQ(check->drifts.size(), 1u);
  EXPECT_EQ(check->drifts[0].kind, Drift::Kind::kMalformedEntry);
  EXPECT_NE(check->drifts[0].Describe().find("earlier outbox format"), std::string::npos);
}

// stockgate-sync killed with SIGKILL again and again while events stream in, and restarted each
// time under a new consumer name: no event is lost or duplicated.
TEST_F(SyncTest, SigkillMidStreamLosesAndDuplicatesNothing) {
  Workload work(*store_, 6);
  std::unique_ptr<SyncProcess> sync;
  for (int round = 0; round < 12 && !HasFailure(); ++round) {
    sync = std::make_unique<SyncProcess>(SyncArgs({"--sweep-interval-ms", "0"}));
    sync->Start();
    work.Run(150);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + 20 * round));
    sync->Kill();
  }
  sync = std::make_unique<SyncProcess>(SyncArgs({"--sweep-interval-ms", "0"}));
  sync->Start();
  WaitDrained();
  EXPECT_EQ(sync->Stop(), 0) << "SIGTERM stops it cleanly";
  ExpectMirrorsModel(work.model());
}

// With MariaDB down, reservations keep working and the backlog waits in the stream; when it is
// back, the running sync drains it with nothing lost.
TEST_F(SyncTest, MariaDbOutageUnderLoadDrainsAfterwards) {
  Workload work(*store_, 7);
  SyncProcess sync(SyncArgs({"--sweep-interval-ms", "0"}));
  sync.Start();
  work.Run(300);
  WaitDrained();
  mariadb_->Kill();
  work.Run(600);  // the store answers while MariaDB is gone
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const core::Result<Outbox::Backlog> during = outbox_->Measure();
  ASSERT_TRUE(during.ok());
  EXPECT_GT(during->pending + during->undelivered, 0) << "the backlog waits in the stream";
  ASSERT_TRUE(mariadb_->Restart());
  WaitDrained();
  EXPECT_EQ(sync.Stop(), 0);
  ExpectMirrorsModel(work.model());
}

// Holds expire within about a second of their deadline with two sweepers running, and each item
// gets exactly one expire event.
TEST_F(SyncTest, TwoSweepersExpireOnTimeAndOnce) {
  const std::int64_t start = RealNowMs();
  core::SetStockRequest set;
  set.on_hand = 1000;
  ASSERT_EQ(store_->SetStock(1, set, "admin", start).code, core::Code::kOk);
  ASSERT_EQ(store_->SetStock(2, set, "admin", start).code, core::Code::kOk);
  for (int i = 0; i < 40; ++i) {
    ReservationRequest r;
    r.order_id = Id("hold-", i);
    r.items = {{1, 1}, {2, 2}};
    r.ttl_seconds = 1;
    ASSERT_EQ(store_->Reserve(r, "svc", start).code, core::Code::kOk);
  }
  std::atomic<bool> stop{false};
  Sweeper a(*store_, 100, RealNowMs);
  Sweeper b(*store_, 100, RealNowMs);
  std::thread ta([&] { a.Run(stop); });
  std::thread tb([&] { b.Run(stop); });
  // Deadline is start + 1 s; allow the sweep interval and scheduling, well under two seconds.
  std::int64_t expired_at = 0;
  while (RealNowMs() < start + 3000) {
    // The raw record, "status|items|...": reading it through the store would expire it.
    const store::CommandResult r = pool_->Command({"GET", store::ReservationKey("sg", "hold-39")});
    if (r.ok() && r->str.rfind("expired|", 0) == 0) {
      expired_at = RealNowMs();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  ta.join();
  tb.join();
  ASSERT_GT(expired_at, 0) << "holds were not expired by the sweepers";
  EXPECT_LE(expired_at, start + 1000 + 1000) << "expired within about a second of the deadline";
  EXPECT_EQ(a.expired() + b.expired(), 40);
  Ingester ingester(*outbox_, mysql_, FastIngest("a"), RealNowMs);
  DrainWith(ingester);
  const QueryResult per_hold =
      Sql("SELECT ref, COUNT(*) FROM inventory_history WHERE op = 'expire' GROUP BY ref HAVING "
          "COUNT(*) <> 2");
  EXPECT_TRUE(per_hold.rows.empty()) << "one expire event per item, never two";
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM inventory_history WHERE op = 'expire'").rows[0][0], "80");
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM reservations WHERE status = 'expired'").rows[0][0], "40");
  EXPECT_EQ(Sql("SELECT reserved FROM inventory WHERE sku = 2").rows[0][0], "0");
}

// check reports drift injected on either side and exits clean of it after repair: Redis counters
// changed behind the ledger's back get compensating events; an inventory row edited in MariaDB is
// recomputed from its history.
TEST_F(SyncTest, CheckFindsDriftAndRepairClearsIt) {
  Workload work(*store_, 8);
  work.Run(400);
  Ingester ingester(*outbox_, mysql_, FastIngest("a"), RealNowMs);
  DrainWith(ingester);
  ExpectMirrorsModel(work.model());

  ASSERT_TRUE(pool_->Command({"HINCRBY", store::StockKey("sg", 3), "on_hand", "5"}).ok());
  ASSERT_TRUE(pool_->Command({"HINCRBY", store::StockKey("sg", 4), "sold", "2"}).ok());
  Sql("UPDATE inventory SET reserved = reserved + 7 WHERE sku = 5");
  core::Result<CheckReport> check = Check(*pool_, "sg", mysql_, RealNowMs());
  ASSERT_TRUE(check.ok()) << check.error();
  std::map<std::int64_t, std::vector<Drift::Kind>> found;
  for (const Drift& d : check->drifts) found[d.sku].push_back(d.kind);
  EXPECT_EQ(found[3], std::vector<Drift::Kind>{Drift::Kind::kRedisVsLedger});
  EXPECT_EQ(found[4], std::vector<Drift::Kind>{Drift::Kind::kRedisVsLedger});
  EXPECT_EQ(found[5], std::vector<Drift::Kind>{Drift::Kind::kInventoryVsHistory});
  EXPECT_EQ(check->drifts.size(), 3u);

  const core::Result<RepairReport> repair = Repair(*pool_, "sg", mysql_, "ops-alice", RealNowMs());
  ASSERT_TRUE(repair.ok()) << repair.error();
  EXPECT_EQ(repair->actions.size(), 3u);
  EXPECT_TRUE(repair->unrepaired.empty());
  check = Check(*pool_, "sg", mysql_, RealNowMs());
  ASSERT_TRUE(check.ok());
  for (const Drift& d : check->drifts) ADD_FAILURE() << "left after repair: " << d.Describe();
  // The compensation is history like any event, attributed to who ran the repair.
  DrainWith(ingester);
  const QueryResult comp = Sql(
      "SELECT sku, op, qty, actor FROM inventory_history WHERE ref = '#repair' ORDER BY event_id");
  ASSERT_EQ(comp.rows.size(), 3u);
  EXPECT_EQ(comp.rows[0][1], "adjust");
  EXPECT_EQ(comp.rows[0][2], "5");
  EXPECT_EQ(comp.rows[0][3], "ops-alice");
  EXPECT_EQ(comp.rows[1][1], "return");
  EXPECT_EQ(comp.rows[1][2], "-2");
  check = Check(*pool_, "sg", mysql_, RealNowMs());
  EXPECT_TRUE(check->drifts.empty());
  // Redis was not overwritten: the counters are what they were after the injection.
  EXPECT_EQ(pool_->Command({"HGET", store::StockKey("sg", 4), "sold"}).value().str,
            std::to_string(work.model().GetStock(4, work.now()).stock->sold + 2));
}

// A repaired SKU comes back from a rebuild as Redis had it: the compensating events moved its
// version and updated_at there, and the history they were written to restores both.
TEST_F(SyncTest, RebuildAfterRepairKeepsVersionAndUpdatedAt) {
  Workload work(*store_, 10);
  work.Run(200);
  Ingester ingester(*outbox_, mysql_, FastIngest("a"), RealNowMs);
  DrainWith(ingester);
  ASSERT_TRUE(pool_->Command({"HINCRBY", store::StockKey("sg", 3), "on_hand", "5"}).ok());
  // The operator's clock is behind the sale's (the workload runs ahead of real time): the SKU's
  // updated_at must not go back, in Redis or in the history.
  const core::Result<RepairReport> repair = Repair(*pool_, "sg", mysql_, "ops-alice", RealNowMs());
  ASSERT_TRUE(repair.ok()) << repair.error();
  ASSERT_EQ(repair->actions.size(), 1u);
  DrainWith(ingester);
  const auto fields = [&] {
    return pool_->Command({"HMGET", store::StockKey("sg", 3), "on_hand", "reserved", "sold",
                           "version", "updated_at"});
  };
  const auto before = fields();
  ASSERT_TRUE(before.ok());

  ASSERT_TRUE(pool_->Command({"FLUSHALL"}).ok());
  const core::Result<RebuildReport> rebuilt = Rebuild(*pool_, "sg", mysql_, RealNowMs());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error();
  const auto after = fields();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(before->elements.size(), after->elements.size());
  for (std::size_t i = 0; i < before->elements.size(); ++i) {
    EXPECT_EQ(after->elements[i].str, before->elements[i].str) << "field " << i;
  }
}

// After FLUSHALL, rebuild restores every SKU, reservation, idempotency key and customer count
// from MariaDB: the store then answers exactly like the model, including retries of old orders,
// and the history continues without a gap.
TEST_F(SyncTest, RebuildAfterFlushallRestoresExactState) { RunRebuildAfterFlushall(); }
TEST_F(SyncClusterTest, RebuildAfterFlushallRestoresExactState) { RunRebuildAfterFlushall(); }

void SyncTest::RunRebuildAfterFlushall() {
  Workload work(*store_, 9);
  work.Run(750);
  // A reader of the snapshot feed that last polled halfway through the sale.
  const store::SnapshotResult halfway = store_->Snapshot({}, work.now());
  ASSERT_EQ(halfway.code, core::Code::kOk);
  work.Run(750);
  Ingester ingester(*outbox_, mysql_, FastIngest("a"), RealNowMs);
  DrainWith(ingester);
  ExpectMirrorsModel(work.model());

  FlushAll();
  // A rebuild refuses a keyspace that is not empty.
  core::SetStockRequest set;
  set.on_hand = 1;
  ASSERT_EQ(store_->SetStock(99, set, "admin", work.now()).code, core::Code::kOk);
  EXPECT_FALSE(Rebuild(*pool_, "sg", mysql_, RealNowMs()).ok());
  FlushAll();
  // Nor while the outbox a sync process recreated after the loss exists (it may be running).
  ASSERT_TRUE(outbox_->EnsureGroup().ok());
  const core::Result<RebuildReport> refused = Rebuild(*pool_, "sg", mysql_, RealNowMs());
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("Stop every stockgate-sync"), std::string::npos)
      << refused.error();
  ASSERT_TRUE(pool_->Command({"DEL", store::LedgerKey("sg")}).ok());

  const core::Result<RebuildReport> rebuilt = Rebuild(*pool_, "sg", mysql_, RealNowMs());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error();
  EXPECT_TRUE(rebuilt->warnings.empty());
  EXPECT_EQ(rebuilt->skus, static_cast<std::int64_t>(work.model().AllStock().size()));
  EXPECT_EQ(rebuilt->reservations,
            static_cast<std::int64_t>(work.model().AllReservations().size()));

  // Raw state, before anything expires: every SKU and every reservation as the model has them.
  std::vector<std::int64_t> skus;
  for (const auto& s : work.model().AllStock()) skus.push_back(s.sku);
  const std::int64_t at = work.now();
  const store::StockListResult list = store_->GetStocks(skus, at);
  ASSERT_EQ(list.code, core::Code::kOk);
  for (std::size_t i = 0; i < skus.size(); ++i) {
    EXPECT_EQ(list.items[i].stock, work.model().GetStock(skus[i], at).stock) << skus[i];
  }
  for (const auto& r : work.model().AllReservations()) {
    EXPECT_EQ(store_->GetReservation(r.order_id, at).reservation,
              work.model().GetReservation(r.order_id, at).reservation)
        << r.order_id;
  }
  const store::SnapshotResult snap = store_->Snapshot({}, at);
  EXPECT_EQ(snap.items.size(), skus.size());
  // The reader's cursor from before the loss lists every SKU again, whatever order they were
  // restored in, and the version is past any from before the loss.
  EXPECT_EQ(store_->Snapshot(halfway.cursor, at).items.size(), skus.size());
  EXPECT_GT(snap.version, halfway.version + (std::int64_t{1} << 39));
  EXPECT_TRUE(store_->Snapshot(snap.cursor, at).items.empty());
  // The sale goes on from the restored state (retries, limits and idempotency keys included),
  // and the history continues after the restored one.
  Ingester after(*outbox_, mysql_, FastIngest("b"), RealNowMs);
  for (int round = 0; round < 10 && !HasFailure(); ++round) {
    work.Run(100);
    after.RunOnce();
  }
  DrainWith(after);
  ExpectMirrorsModel(work.model());
}

// Retention keeps Redis's memory flat: orders live their whole life (a hold, then a sale or a
// release), sync writes their history, and a retention pass removes their records once the
// history has them. Measured with INFO memory: 2,000 more orders leave used_memory about where it
// was, while without retention the same 2,000 add their records. MariaDB keeps every order, and
// a rebuild with retention restores none of the retired ones.
TEST_F(SyncTest, RetentionHoldsRedisMemoryFlat) {
  core::SetStockRequest set;
  set.on_hand = 1'000'000;
  ASSERT_EQ(store_->SetStock(1, set, "admin", RealNowMs()).code, core::Code::kOk);
  Ingester ingester(*outbox_, mysql_, FastIngest("a"), RealNowMs);
  int next = 0;
  const auto run_orders = [&](int n) {
    for (int i = 0; i < n && !HasFailure(); ++i) {
      core::ReservationRequest r;
      r.order_id = Id("order-", next++);
      r.items = {{1, 1}};
      r.ttl_seconds = 600;
      ASSERT_EQ(store_->Reserve(r, "svc", RealNowMs()).code, core::Code::kOk);
      const core::ReservationResult done =
          next % 2 == 0 ? store_->Confirm(r.order_id, "svc", RealNowMs(), "")
                        : store_->Release(r.order_id, "svc", RealNowMs(), "");
      ASSERT_EQ(done.code, core::Code::kOk) << done.message;
    }
    DrainWith(ingester);
    // What sync has written leaves the stream now, not at the ingester's next trim: the
    // measurements compare the records alone.
    ASSERT_TRUE(outbox_->Trim().ok());
  };
  const auto retire = [&]() -> std::int64_t {
    const core::Result<std::int64_t> r =
        RetireSynced(*store_, outboxes_, /*retention_ms=*/0, RealNowMs() + 1, /*margin=*/0);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : -1;
  };
  const auto used_memory = [&] {
    const store::CommandResult info = pool_->Command({"INFO", "memory"});
    EXPECT_TRUE(info.ok());
    const std::string& text = info.ok() ? info->str : std::string();
    const auto at = text.find("used_memory:");
    return at == std::string::npos ? std::int64_t{-1} : std::stoll(text.substr(at + 12));
  };
  const auto records = [&] {
    const store::CommandResult keys = pool_->Command({"KEYS", "sg:{p0}:res:*"});
    return keys.ok() ? keys->elements.size() : std::size_t{999'999};
  };

  run_orders(1000);  // warm-up: the allocator, the stream, the indexes reach their working size
  EXPECT_EQ(retire(), 1000);
  const std::int64_t before = used_memory();
  run_orders(2000);
  EXPECT_EQ(retire(), 2000);
  EXPECT_EQ(records(), 0u);
  const std::int64_t with_retention = used_memory();
  run_orders(2000);
  const std::int64_t without_retention = used_memory();
  EXPECT_EQ(records(), 2000u);
  const std::int64_t grew_with = with_retention - before;
  const std::int64_t grew_without = without_retention - with_retention;
  RecordProperty("used_memory_growth_with_retention", std::to_string(grew_with));
  RecordProperty("used_memory_growth_without", std::to_string(grew_without));
  EXPECT_GT(grew_without, 200'000) << "2,000 records take room";
  EXPECT_LT(grew_with, grew_without / 5) << "with: " << grew_with << ", without: " << grew_without;
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM reservations").rows.at(0).at(0).value_or(""), "5000");

  // A rebuild after a loss restores the 2,000 unretired records only when told no retention.
  FlushAll();
  const core::Result<RebuildReport> rebuilt =
      Rebuild(*pool_, "sg", mysql_, RealNowMs() + 1, Partitions(), /*retention_ms=*/1);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error();
  EXPECT_EQ(rebuilt->past_retention, 5000);
  EXPECT_EQ(records(), 0u);
  // Their order_ids are remembered as retention remembered them: no second sale.
  core::ReservationRequest reuse;
  reuse.order_id = "order-1";
  reuse.items = {{1, 1}};
  reuse.ttl_seconds = 600;
  EXPECT_EQ(store_->Reserve(reuse, "svc", RealNowMs()).code, core::Code::kIdempotencyConflict);
  EXPECT_EQ(store_->GetStocks({1}, RealNowMs()).items.at(0).stock->sold, 2500);
}

// With MariaDB unreachable check, repair and rebuild fail with a reason instead of hanging.
TEST_F(SyncTest, OperatorCommandsFailFastWithoutMariaDb) {
  mariadb_->Kill();
  const core::Result<CheckReport> check = Check(*pool_, "sg", mysql_, RealNowMs());
  EXPECT_FALSE(check.ok());
  EXPECT_NE(check.error().find("mariadb"), std::string::npos) << check.error();
  EXPECT_FALSE(Repair(*pool_, "sg", mysql_, "ops", RealNowMs()).ok());
  EXPECT_FALSE(Rebuild(*pool_, "sg", mysql_, RealNowMs()).ok());
  ASSERT_TRUE(mariadb_->Restart());
}

// A metrics port another process holds: sync says so and exits 1 instead of running without.
TEST_F(SyncTest, MetricsOnABusyPortIsRefused) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  SyncProcess sync(SyncArgs({"--metrics-listen", Id("127.0.0.1:", ntohs(addr.sin_port)), "run"}));
  sync.Start();
  EXPECT_EQ(sync.Wait(), 1);
  close(fd);
}

}  // namespace
}  // namespace stockgate::sync
