// RedisCluster against real Redis Clusters (redis-server 7 in cluster mode, built by redis-cli):
// key slots agree with Redis's own CLUSTER KEYSLOT, calls reach the master of their slot with
// either node client, scripts reload per node, MOVED and ASK are followed while a slot migrates,
// a dead master fails its slots fast and leaves the others serving, and with replicas a killed
// master's slots come back on the promoted replica.
#include "origin/store/redis_cluster.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "origin/store/redis_pool.h"
#include "tests/support/redis_cluster.h"

namespace stockgate::store {
namespace {

using testing::RedisClusterServers;
using namespace std::chrono_literals;

// Bulk payload of a RESP reply as RedisServer::Ask returns it ("$N\r\n<payload>\r\n"), or the
// simple/integer line without its type byte.
std::string Payload(const std::string& reply) {
  const auto eol = reply.find("\r\n");
  if (reply.empty() || eol == std::string::npos) return {};
  std::string_view rest(reply);
  if (reply[0] != '$') return std::string(rest.substr(1, eol - 1));
  rest.remove_prefix(eol + 2);
  if (rest.size() >= 2) rest.remove_suffix(2);
  return std::string(rest);
}

// prefix + n + suffix (built by appending: GCC 12 warns falsely on "literal" + std::string).
std::string Name(std::string_view prefix, int n, std::string_view suffix = "") {
  std::string out(prefix);
  out += std::to_string(n);
  out += suffix;
  return out;
}

RedisClusterConfig ConfigFor(const RedisClusterServers& cluster, bool pipelined) {
  RedisClusterConfig c;
  c.seeds.push_back({"127.0.0.1", cluster.ports()[0]});
  c.node.pool_size = 2;
  c.node.command_timeout_ms = 1000;
  c.node.retry_backoff_ms = 50;
  c.pipelined = pipelined;
  c.retry_delay_ms = 50;
  return c;
}

// A direct client of one node, which follows no redirect.
std::unique_ptr<RedisPool> Direct(int port) {
  RedisConfig c;
  c.port = port;
  c.pool_size = 1;
  return std::make_unique<RedisPool>(c);
}

TEST(KeySlotTest, HashTagsAndKnownValues) {
  EXPECT_EQ(KeySlot("123456789"), 0x31C3);  // the CRC16/XMODEM check value
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));  // an empty tag hashes the whole key
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(KeySlotTest, RoutingKeyOfEachCommandShape) {
  using Argv = std::vector<std::string>;
  EXPECT_EQ(RoutingKey(Argv{"GET", "k"}), "k");
  EXPECT_EQ(RoutingKey(Argv{"evalsha", "sha", "2", "a", "b", "x"}), "a");
  EXPECT_EQ(RoutingKey(Argv{"EVALSHA", "sha", "0", "x"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{"EVAL", "src", "nope"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"}),
            "s");
  EXPECT_EQ(RoutingKey(Argv{"XINFO", "GROUPS", "s"}), "s");
  EXPECT_EQ(RoutingKey(Argv{"XGROUP", "CREATE", "s", "g", "0"}), "s");
  EXPECT_EQ(RoutingKey(Argv{"PING"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{"WAIT", "1", "100"}), std::nullopt);
  EXPECT_EQ(RoutingKey(Argv{"SCRIPT", "LOAD", "return 1"}), std::nullopt);
}

class RedisClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RedisClusterServers::Options options;
    options.appendonly = false;
    cluster_ = RedisClusterServers::Start(options).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(cluster_, nullptr); }

  static RedisClusterServers* cluster_;
};
RedisClusterServers* RedisClusterTest::cluster_ = nullptr;

// Redis's own CLUSTER KEYSLOT is the oracle for KeySlot, and every key written through the
// client sits on the master that CLUSTER NODES names for its slot, with either node client.
TEST_F(RedisClusterTest, CallsReachTheMasterOfTheirSlot) {
  const int asked = cluster_->ports()[0];
  for (const bool pipelined : {true, false}) {
    RedisCluster redis(ConfigFor(*cluster_, pipelined));
    EXPECT_EQ(redis.Masters().size(), 3u);
    for (int i = 0; i < 60; ++i) {
      const std::string key = Name("k", i, pipelined ? "p" : "b");
      EXPECT_EQ(Payload(cluster_->NodeOnPort(asked)->Ask("CLUSTER KEYSLOT " + key)),
                std::to_string(KeySlot(key)));
      const CommandResult set = redis.Command({"SET", key, Name("v", i)});
      ASSERT_TRUE(set.ok()) << set.error();
      ASSERT_EQ(set->str, "OK") << set->str;
      const int port = cluster_->MasterOfSlot(KeySlot(key), asked);
      ASSERT_EQ(redis.NodeOf(KeySlot(key))->port, port);
      const CommandResult there = Direct(port)->Command({"GET", key});
      ASSERT_TRUE(there.ok()) << there.error();
      EXPECT_EQ(there->str, Name("v", i));
    }
    EXPECT_EQ(redis.redirects(), 0) << "a fresh map needs no redirect";
    EXPECT_TRUE(redis.Ping());
  }
}

// EVALSHA goes to the node of KEYS[1]; a node that lost its scripts (SCRIPT FLUSH) loads it
// again on NOSCRIPT; a script without keys is refused rather than sent anywhere.
TEST_F(RedisClusterTest, ScriptsRunOnTheirKeysNodeAndReloadThere) {
  const Script script("echo", "return {KEYS[1], redis.call('INCR', KEYS[1])}");
  RedisCluster redis(ConfigFor(*cluster_, true));
  for (int round = 0; round < 2; ++round) {
    for (const int port : cluster_->ports()) {
      ASSERT_TRUE(Direct(port)->Command({"SCRIPT", "FLUSH"}).ok());
    }
    for (int i = 0; i < 30; ++i) {
      const std::string key = Name("{s", i, "}n");
      const CommandResult r = redis.Eval(script, {key}, {});
      ASSERT_TRUE(r.ok()) << r.error();
      ASSERT_TRUE(r->is_array()) << r->str;
      EXPECT_EQ(r->elements[0].str, key);
      EXPECT_EQ(r->elements[1].integer, round + 1);
    }
  }
  EXPECT_FALSE(redis.Eval(script, {}, {}).ok());

  // The script followed by WAIT on its connection, after the node lost the script again.
  for (const int port : cluster_->ports()) {
    ASSERT_TRUE(Direct(port)->Command({"SCRIPT", "FLUSH"}).ok());
  }
  const std::optional<CommandResult> then = Await([&](RedisClient::Callback done) {
    redis.EvalThenAsync(script, {Name("{s", 0, "}n")}, {}, {"WAIT", "0", "10"}, std::move(done));
  });
  ASSERT_TRUE(then.has_value());
  ASSERT_TRUE(then->ok()) << then->error();
  ASSERT_EQ((*then)->elements.size(), 2u);
  EXPECT_EQ((*then)->elements[0].elements[1].integer, 3);
  EXPECT_EQ((*then)->elements[1].integer, 0) << "WAIT: no replicas here";
  const RedisStats stats = redis.stats();
  EXPECT_GE(stats.connects, 3) << "a connection to each master at least";
  EXPECT_GE(stats.noscript_reloads, 4) << "three masters twice, and once for EvalThen";
}

// A slot moved by hand, key by key: while it migrates the old owner answers ASK for the keys
// already moved (followed with ASKING), and once it is assigned the old owner answers MOVED
// (followed, and the map updated). The client never answers with a redirect itself.
TEST_F(RedisClusterTest, MigratingSlotIsFollowedThroughAskAndMoved) {
  const int asked = cluster_->ports()[0];
  const std::string a = "{migrating}a";
  const std::string b = "{migrating}b";
  const int slot = KeySlot(a);
  const int source_port = cluster_->MasterOfSlot(slot, asked);
  int target_port = 0;
  for (const int port : cluster_->ports()) {
    if (port != source_port) target_port = port;
  }
  auto source = Direct(source_port);
  auto target = Direct(target_port);
  const std::string source_id = source->Command({"CLUSTER", "MYID"})->str;
  const std::string target_id = target->Command({"CLUSTER", "MYID"})->str;

  RedisCluster redis(ConfigFor(*cluster_, true));
  ASSERT_EQ(redis.Command({"SET", a, "1"})->str, "OK");
  ASSERT_EQ(redis.Command({"SET", b, "2"})->str, "OK");

  // Migration: the target imports, the source migrates, and key a moves first.
  ASSERT_EQ(
      target->Command({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source_id})->str,
      "OK");
  ASSERT_EQ(
      source->Command({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target_id})->str,
      "OK");
  ASSERT_EQ(
      source->Command({"MIGRATE", "127.0.0.1", std::to_string(target_port), a, "0", "5000"})->str,
      "OK");
  const long long before = redis.redirects();
  const CommandResult moved_key = redis.Command({"GET", a});
  ASSERT_TRUE(moved_key.ok()) << moved_key.error();
  EXPECT_EQ(moved_key->str, "1") << "read on the target after ASK";
  EXPECT_EQ(redis.redirects(), before + 1);
  EXPECT_EQ(redis.Command({"GET", b})->str, "2") << "still on the source";
  // A sequence whose second command is sent elsewhere is not sent again: its first one ran.
  const CommandResult mixed = redis.Sequence({{"INCR", b}, {"GET", a}});
  EXPECT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().find("outcome is unknown"), std::string::npos) << mixed.error();
  EXPECT_EQ(redis.Command({"GET", b})->str, "3") << "the INCR ran once";
  // A sequence asked elsewhere goes there whole, ASKING before its command with a key.
  const CommandResult sent_there = redis.Sequence({{"GET", a}, {"WAIT", "0", "10"}});
  ASSERT_TRUE(sent_there.ok()) << sent_there.error();
  ASSERT_EQ(sent_there->elements.size(), 2u);
  EXPECT_EQ(sent_there->elements[0].str, "1");
  EXPECT_TRUE(sent_there->elements[1].is_integer());
  EXPECT_EQ(redis.NodeOf(slot)->port, source_port) << "ASK does not change the map";

  // The rest moves and the slot is assigned to the target everywhere.
  ASSERT_EQ(
      source->Command({"MIGRATE", "127.0.0.1", std::to_string(target_port), b, "0", "5000"})->str,
      "OK");
  for (const int port : cluster_->ports()) {
    ASSERT_EQ(
        Direct(port)->Command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target_id})->str,
        "OK");
  }
  const CommandResult after = redis.Command({"GET", b});
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->str, "3");
  EXPECT_EQ(redis.NodeOf(slot)->port, target_port) << "MOVED updates the map";
  const CommandResult incr = redis.Command({"INCR", a});
  ASSERT_TRUE(incr.ok()) << incr.error();
  EXPECT_EQ(incr->integer, 2);

  // Back to where it was, so the other tests see the cluster as created.
  const std::string slot_text = std::to_string(slot);
  EXPECT_TRUE(target->Command({"CLUSTER", "SETSLOT", slot_text, "MIGRATING", source_id}).ok());
  EXPECT_TRUE(source->Command({"CLUSTER", "SETSLOT", slot_text, "IMPORTING", target_id}).ok());
  EXPECT_TRUE(target
                  ->Command({"MIGRATE", "127.0.0.1", std::to_string(source_port), "", "0", "5000",
                             "KEYS", a, b})
                  .ok());
  for (const int port : cluster_->ports()) {
    EXPECT_TRUE(Direct(port)->Command({"CLUSTER", "SETSLOT", slot_text, "NODE", source_id}).ok());
  }
}

// A sequence (a write, then WAIT) goes out on one connection of the slot's master.
TEST_F(RedisClusterTest, SequenceGoesToTheSlotOfItsFirstKey) {
  RedisCluster redis(ConfigFor(*cluster_, true));
  const CommandResult r = redis.Sequence({{"SET", "{seq}k", "v"}, {"WAIT", "0", "100"}});
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->elements.size(), 2u);
  EXPECT_EQ(r->elements[0].str, "OK");
  EXPECT_EQ(r->elements[1].integer, 0) << "no replicas in this cluster";
}

// Destroying the client with calls in flight on a frozen node answers each of them once, as a
// failure, without waiting for the node.
TEST_F(RedisClusterTest, ClosingAnswersWhatIsInFlight) {
  testing::RedisServer* frozen = cluster_->nodes()[0].get();
  std::atomic<int> answered{0};
  std::atomic<int> succeeded{0};
  {
    RedisClusterConfig c = ConfigFor(*cluster_, true);
    c.node.command_timeout_ms = 30'000;
    RedisCluster redis(c);
    std::string key;
    for (int i = 0; key.empty(); ++i) {
      if (redis.NodeOf(KeySlot(Name("frozen", i)))->port == frozen->port()) key = Name("frozen", i);
    }
    frozen->Pause();
    for (int i = 0; i < 10; ++i) {
      redis.CommandAsync({"INCR", key}, [&](CommandResult r) {
        succeeded += r.ok() ? 1 : 0;
        ++answered;
      });
    }
  }
  frozen->Resume();
  EXPECT_EQ(answered.load(), 10);
  EXPECT_EQ(succeeded.load(), 0);
}

// With every seed unreachable the map is empty: calls fail fast and say why, never hang.
TEST(RedisClusterDownTest, UnreachableClusterFailsFast) {
  RedisClusterConfig c;
  c.seeds.push_back({"127.0.0.1", 1});
  c.node.connect_timeout_ms = 100;
  c.max_redirects = 2;
  c.retry_delay_ms = 20;
  RedisCluster redis(c);
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = redis.Command({"GET", "k"});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.code(), core::Code::kUnavailable);
  EXPECT_NE(r.error().find("slot map"), std::string::npos) << r.error();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// Losing a master without a replica: its slots fail fast (unavailable), the other masters' slots
// keep serving. With a replica per master, the killed master's slots come back once the replica
// is promoted, and the client finds it by reading the map again.
TEST(RedisClusterFailoverTest, KilledMasterIsReplacedByItsReplica) {
  RedisClusterServers::Options options;
  options.replicas = 1;
  options.appendonly = false;
  std::unique_ptr<RedisClusterServers> cluster = RedisClusterServers::Start(options);
  ASSERT_NE(cluster, nullptr);
  RedisCluster redis(ConfigFor(*cluster, true));
  const std::string key = "{failover}k";
  ASSERT_EQ(redis.Command({"SET", key, "before"})->str, "OK");
  const CommandResult waited = redis.Sequence({{"SET", key, "acked"}, {"WAIT", "1", "2000"}});
  ASSERT_TRUE(waited.ok()) << waited.error();
  ASSERT_EQ(waited->elements[1].integer, 1) << "the replica acknowledged the write";

  const int master = redis.NodeOf(KeySlot(key))->port;
  cluster->NodeOnPort(master)->Kill();
  const std::string other = "{elsewhere}k";
  ASSERT_NE(redis.NodeOf(KeySlot(other))->port, master);
  EXPECT_EQ(redis.Command({"SET", other, "x"})->str, "OK") << "other slots keep serving";

  // The replica is promoted after the node timeout; until then calls fail fast.
  CommandResult r = redis.Command({"GET", key});
  for (int i = 0; i < 300 && !(r.ok() && r->is_string()); ++i) {
    std::this_thread::sleep_for(50ms);
    r = redis.Command({"GET", key});
  }
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->str, "acked") << "the acknowledged write survived the failover";
  EXPECT_NE(redis.NodeOf(KeySlot(key))->port, master);
  EXPECT_GT(redis.refreshes(), 1);
}

}  // namespace
}  // namespace stockgate::store
