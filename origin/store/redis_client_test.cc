// The contract both Redis clients keep (typed tests over RedisPool and RedisPipeline), then what
// is particular to each: the pool's bounded wait for a connection, the pipeline's shared
// connections and reply matching.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "origin/store/redis_pipeline.h"
#include "origin/store/redis_pool.h"
#include "tests/support/redis_server.h"

namespace stockgate::store {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using stockgate::testing::RedisServer;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// Repeats the command until it succeeds or `limit` passes; returns the last result.
CommandResult Eventually(RedisClient& pool, const std::vector<std::string>& argv,
                         milliseconds limit = milliseconds(5000)) {
  const Clock::time_point start = Clock::now();
  CommandResult result = pool.Command(argv);
  while (!result.ok() && Since(start) < limit) {
    std::this_thread::sleep_for(milliseconds(10));
    result = pool.Command(argv);
  }
  return result;
}

class RedisServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = RedisServer::Start(ServerOptions(), &error);
    ASSERT_NE(server_, nullptr) << error;
  }
  // The shipped durability settings (AOF, appendfsync always) unless a suite says otherwise.
  virtual RedisServer::Options ServerOptions() const { return {}; }

  RedisConfig Config() const {
    RedisConfig config;
    config.port = server_->port();
    return config;
  }

  std::unique_ptr<RedisServer> server_;
};

// Both clients, one behaviour.
template <class Client>
class RedisClientTest : public RedisServerTest {};
using Clients = ::testing::Types<RedisPool, RedisPipeline>;
class ClientNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, RedisPool> ? "Pool" : "Pipeline";
  }
};
TYPED_TEST_SUITE(RedisClientTest, Clients, ClientNames);

// Keys and values travel byte for byte, NUL and CR LF included; each reply type maps to Reply.
TYPED_TEST(RedisClientTest, CommandRoundTripIsBinarySafe) {
  TypeParam pool(this->Config());
  const std::string key("sku\0:1", 6);
  const std::string value("a\0b\r\nc\xff", 7);

  const CommandResult set = pool.Command({"SET", key, value});
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_TRUE(set->is_status());
  EXPECT_EQ(set->str, "OK");

  const CommandResult get = pool.Command({"GET", key});
  ASSERT_TRUE(get.ok()) << get.error();
  ASSERT_TRUE(get->is_string());
  EXPECT_EQ(get->str, value);
  EXPECT_EQ(get->str.size(), 7u);

  const CommandResult other = pool.Command({"GET", std::string("sku\0:2", 6)});
  ASSERT_TRUE(other.ok()) << other.error();
  EXPECT_TRUE(other->is_nil());

  const CommandResult incr = pool.Command({"INCRBY", "counter", "41"});
  ASSERT_TRUE(incr.ok()) << incr.error();
  EXPECT_TRUE(incr->is_integer());
  EXPECT_EQ(incr->integer, 41);

  EXPECT_FALSE(pool.Command({}).ok());
}

// A Redis error reply is a successful round trip: ok=true, the connection is kept.
TYPED_TEST(RedisClientTest, ErrorRepliesAreNotTransportFailures) {
  RedisConfig config = this->Config();
  config.pool_size = 1;  // so that "kept" means one connection for every call
  TypeParam pool(config);
  ASSERT_TRUE(pool.Command({"SET", "text", "abc"}).ok());

  const CommandResult incr = pool.Command({"INCR", "text"});
  ASSERT_TRUE(incr.ok()) << incr.error();
  EXPECT_TRUE(incr->is_error());
  EXPECT_TRUE(Contains(incr->str, "not an integer")) << incr->str;

  const CommandResult unknown = pool.Command({"NO-SUCH-COMMAND"});
  ASSERT_TRUE(unknown.ok()) << unknown.error();
  EXPECT_TRUE(unknown->is_error());

  EXPECT_TRUE(pool.Ping());
  const RedisStats stats = pool.stats();
  EXPECT_EQ(stats.connects, 1);
  EXPECT_EQ(stats.command_failures, 0);
}

// A sequence goes out on one connection and comes back as its replies in order; an error reply
// inside it is one of the replies, not a failure of the sequence.
TYPED_TEST(RedisClientTest, SequenceAnswersEachCommandInOrder) {
  RedisConfig config = this->Config();
  config.pool_size = 3;
  TypeParam pool(config);
  const CommandResult r = pool.Sequence({{"SET", "s", "1"}, {"INCR", "s"}, {"HGET", "s", "f"}});
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_TRUE(r->is_array());
  ASSERT_EQ(r->elements.size(), 3u);
  EXPECT_EQ(r->elements[0].str, "OK");
  EXPECT_EQ(r->elements[1].integer, 2);
  EXPECT_TRUE(r->elements[2].is_error()) << "WRONGTYPE";
  // CLIENT ID twice on one connection names the same client: the sequence shares a connection.
  for (int i = 0; i < 10; ++i) {
    const CommandResult ids = pool.Sequence({{"CLIENT", "ID"}, {"CLIENT", "ID"}});
    ASSERT_TRUE(ids.ok()) << ids.error();
    EXPECT_EQ(ids->elements[0].integer, ids->elements[1].integer);
  }
  const CommandResult one = pool.Sequence({{"GET", "s"}});
  ASSERT_TRUE(one.ok()) << one.error();
  ASSERT_EQ(one->elements.size(), 1u);
  EXPECT_EQ(one->elements[0].str, "2");
  EXPECT_FALSE(pool.Sequence({}).ok());
  EXPECT_FALSE(pool.Sequence({{"PING"}, {}}).ok());
  EXPECT_TRUE(pool.Ping()) << "a refused sequence is not a Redis failure";
}

// Eval passes KEYS and ARGV and returns nested arrays, integers, strings, status, nil and errors;
// redis.error_reply and Lua runtime errors come back as ok=true with an error reply.
TYPED_TEST(RedisClientTest, EvalReturnsArraysIntegersAndErrors) {
  TypeParam pool(this->Config());
  const Script mixed("mixed",
                     "redis.call('SET', KEYS[1], ARGV[1])\n"
                     "return {tonumber(ARGV[2]) + 1, redis.call('GET', KEYS[1]), {KEYS[2]}}");
  const CommandResult r = pool.Eval(mixed, {"k1", "k2"}, {"v", "6"});
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_TRUE(r->is_array());
  ASSERT_EQ(r->elements.size(), 3u);
  EXPECT_TRUE(r->elements[0].is_integer());
  EXPECT_EQ(r->elements[0].integer, 7);
  EXPECT_TRUE(r->elements[1].is_string());
  EXPECT_EQ(r->elements[1].str, "v");
  ASSERT_TRUE(r->elements[2].is_array());
  ASSERT_EQ(r->elements[2].elements.size(), 1u);
  EXPECT_EQ(r->elements[2].elements[0].str, "k2");

  const Script refuse("refuse", "return redis.error_reply('insufficient_stock sku 7')");
  const CommandResult refused = pool.Eval(refuse, {}, {});
  ASSERT_TRUE(refused.ok()) << refused.error();
  EXPECT_TRUE(refused->is_error());
  EXPECT_TRUE(Contains(refused->str, "insufficient_stock sku 7")) << refused->str;

  const Script status("status", "return redis.status_reply('DONE')");
  const CommandResult done = pool.Eval(status, {}, {});
  ASSERT_TRUE(done.ok()) << done.error();
  EXPECT_TRUE(done->is_status());
  EXPECT_EQ(done->str, "DONE");

  const Script nothing("nothing", "return nil");
  const CommandResult nil = pool.Eval(nothing, {}, {});
  ASSERT_TRUE(nil.ok()) << nil.error();
  EXPECT_TRUE(nil->is_nil());

  const Script wrong("wrong", "return redis.call('INCR', KEYS[1])");
  const CommandResult runtime = pool.Eval(wrong, {"k1"}, {});
  ASSERT_TRUE(runtime.ok()) << runtime.error();
  EXPECT_TRUE(runtime->is_error());

  const Script broken("broken", "return +");
  const CommandResult compile = pool.Eval(broken, {}, {});
  ASSERT_TRUE(compile.ok()) << compile.error();
  EXPECT_TRUE(compile->is_error());
  EXPECT_TRUE(Contains(compile->str, "compiling")) << compile->str;

  EXPECT_EQ(pool.stats().command_failures, 0);
}

// The binary-safe check for Eval: a value with a NUL byte reaches the script and comes back whole.
TYPED_TEST(RedisClientTest, EvalArgumentsAreBinarySafe) {
  TypeParam pool(this->Config());
  const Script echo("echo", "return ARGV[1]");
  const std::string value("x\0y\r\n", 5);
  const CommandResult r = pool.Eval(echo, {}, {value});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->str, value);
}

// First use and every SCRIPT FLUSH cost one SCRIPT LOAD; the caller only sees the result.
TYPED_TEST(RedisClientTest, EvalReloadsScriptAfterNoscript) {
  TypeParam pool(this->Config());
  const Script incr("incr", "return redis.call('INCRBY', KEYS[1], ARGV[1])");

  CommandResult r = pool.Eval(incr, {"n"}, {"5"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->integer, 5);
  EXPECT_EQ(pool.stats().noscript_reloads, 1);

  r = pool.Eval(incr, {"n"}, {"5"});
  EXPECT_EQ(r->integer, 10);
  EXPECT_EQ(pool.stats().noscript_reloads, 1);

  ASSERT_TRUE(pool.Command({"SCRIPT", "FLUSH"}).ok());
  r = pool.Eval(incr, {"n"}, {"5"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->is_integer());
  EXPECT_EQ(r->integer, 15);  // ran exactly once more
  EXPECT_EQ(pool.stats().noscript_reloads, 2);
}

// Script::sha1 is lowercase hex and equals what Redis computes for the same source.
TYPED_TEST(RedisClientTest, ScriptSha1MatchesRedis) {
  EXPECT_EQ(Script("empty", "").sha1(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  const Script script("one", "return 1");
  EXPECT_EQ(script.name(), "one");
  EXPECT_EQ(script.source(), "return 1");
  TypeParam pool(this->Config());
  const CommandResult loaded = pool.Command({"SCRIPT", "LOAD", script.source()});
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(loaded->str, script.sha1());
}

// With Redis killed, every call fails with ok=false, and during the backoff no call touches the
// network: connect attempts stay flat while 100 calls fail fast.
TYPED_TEST(RedisClientTest, KilledRedisFailsFastWithoutReconnecting) {
  RedisConfig config = this->Config();
  config.pool_size = 1;  // one connection: no other one's late failure re-trips the breaker
  config.retry_backoff_ms = 60'000;  // the whole test runs inside one backoff window
  TypeParam pool(config);
  ASSERT_TRUE(pool.Ping());
  this->server_->Kill();

  const CommandResult first = pool.Command({"INCR", "n"});
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE(first.error().empty());
  const RedisStats before = pool.stats();
  // The pooled connection is seen dead (EOF) before use, or fails in use; either way one failure.
  EXPECT_EQ(before.connect_failures + before.command_failures, 1);

  const Clock::time_point start = Clock::now();
  for (int i = 0; i < 100; ++i) {
    const CommandResult r = pool.Command({"INCR", "n"});
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(Contains(r.error(), "backing off")) << r.error();
  }
  EXPECT_FALSE(pool.Ping());
  EXPECT_LT(Since(start), milliseconds(1000));  // 101 calls; a connect per call would cost more

  const RedisStats after = pool.stats();
  EXPECT_EQ(after.connect_failures, before.connect_failures);
  EXPECT_EQ(after.command_failures, before.command_failures);
  EXPECT_EQ(after.fast_failures, before.fast_failures + 101);
}

// Against a down Redis, many threads together make at most one connect attempt per backoff
// window (one probe at a time), yet keep retrying so recovery is automatic.
TYPED_TEST(RedisClientTest, DownRedisIsProbedOncePerBackoff) {
  RedisConfig config = this->Config();
  config.retry_backoff_ms = 50;
  this->server_->Kill();
  TypeParam pool(config);
  constexpr int kThreads = 8;

  std::atomic<long long> calls{0};
  std::atomic<long long> successes{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (Since(start) < milliseconds(500)) {
        if (pool.Command({"PING"}).ok()) successes.fetch_add(1);
        calls.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const long long elapsed_ms = Since(start).count();

  const RedisStats stats = pool.stats();
  EXPECT_EQ(successes.load(), 0);
  EXPECT_GE(stats.connect_failures, 2);  // it did probe again after the first backoff
  // Until the first failure the breaker is closed, so the first round may be one per thread;
  // after that, one probe per window. Without the single probe it would be 8 per window.
  EXPECT_LE(stats.connect_failures, elapsed_ms / config.retry_backoff_ms + kThreads);
  if constexpr (std::is_same_v<TypeParam, RedisPool>) {
    // Each pool call either failed fast or was a connect attempt. (A pipeline call may also fail
    // with the batch whose connect failed, so its count is not one per call.)
    EXPECT_EQ(stats.fast_failures + stats.connect_failures, calls.load());
  } else {
    EXPECT_GE(stats.fast_failures, calls.load() / 2);
  }
}

// After a crash and restart the same pool serves again, and the write acknowledged before the
// crash is there (AOF with appendfsync always).
TYPED_TEST(RedisClientTest, RecoversAfterRestartWithTheSamePool) {
  RedisConfig config = this->Config();
  config.retry_backoff_ms = 50;
  TypeParam pool(config);
  ASSERT_TRUE(pool.Command({"SET", "durable", "yes"}).ok());

  this->server_->Kill();
  EXPECT_FALSE(pool.Command({"GET", "durable"}).ok());

  const RedisServer::Status restarted = this->server_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  const CommandResult r = Eventually(pool, {"GET", "durable"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->str, "yes");
  EXPECT_GE(pool.stats().connects, 2);
}

// A restart between two calls costs no failed call: the stale idle connection is noticed (EOF)
// before use and replaced.
TYPED_TEST(RedisClientTest, StaleIdleConnectionIsReplacedBeforeUse) {
  RedisConfig config = this->Config();
  config.pool_size = 1;  // the second call must meet the connection the first one used
  TypeParam pool(config);
  ASSERT_TRUE(pool.Ping());
  const RedisServer::Status restarted = this->server_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted.error();

  const CommandResult r = pool.Command({"PING"});
  EXPECT_TRUE(r.ok()) << r.error();
  const RedisStats stats = pool.stats();
  EXPECT_EQ(stats.connects, 2);
  EXPECT_EQ(stats.command_failures, 0);
  EXPECT_EQ(stats.connect_failures, 0);
}

// The breaker waits on its own clock: with Redis back, calls keep failing fast until that clock
// has passed retry_backoff_ms (a minute here, which real time never reaches in this test); then
// one call probes Redis and closes the breaker. No sleeping through a backoff.
TYPED_TEST(RedisClientTest, BreakerProbesAgainWhenItsClockSaysSo) {
  auto now = std::make_shared<std::atomic<std::int64_t>>(0);
  RedisConfig config = this->Config();
  config.pool_size = 1;  // one connection: no other one's late failure re-trips the breaker
  config.retry_backoff_ms = 60'000;
  config.now = [now] { return Clock::time_point(milliseconds(now->load())); };
  TypeParam pool(config);
  ASSERT_TRUE(pool.Ping());
  this->server_->Kill();
  EXPECT_FALSE(pool.Command({"PING"}).ok());  // trips the breaker
  ASSERT_TRUE(this->server_->Restart());
  const long long fast_before = pool.stats().fast_failures;
  CommandResult r = pool.Command({"PING"});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error(), "backing off")) << r.error();
  now->store(59'999);
  EXPECT_FALSE(pool.Command({"PING"}).ok());
  EXPECT_EQ(pool.stats().fast_failures, fast_before + 2);
  now->store(60'000);
  r = pool.Command({"PING"});
  EXPECT_TRUE(r.ok()) << r.error();
  r = pool.Command({"PING"});
  EXPECT_TRUE(r.ok()) << r.error();
}

// A frozen Redis (SIGSTOP) makes calls fail after about command_timeout_ms instead of hanging,
// for an established connection and for a fresh one; after SIGCONT the pool recovers.
TYPED_TEST(RedisClientTest, PausedRedisTimesOutInsteadOfHanging) {
  RedisConfig config = this->Config();
  config.command_timeout_ms = 200;
  config.retry_backoff_ms = 50;
  TypeParam pool(config);
  ASSERT_TRUE(pool.Ping());
  this->server_->Pause();

  Clock::time_point start = Clock::now();
  CommandResult r = pool.Command({"INCR", "n"});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error(), "timed out")) << r.error();
  EXPECT_LT(Since(start), milliseconds(3000));

  // The kernel still accepts new connections to the stopped process; the read bound catches it.
  std::this_thread::sleep_for(milliseconds(config.retry_backoff_ms + 20));
  start = Clock::now();
  r = pool.Command({"PING"});
  EXPECT_FALSE(r.ok());
  EXPECT_LT(Since(start), milliseconds(3000));
  const RedisStats stats = pool.stats();
  EXPECT_GE(stats.command_failures + stats.connect_failures, 2);  // both calls failed, neither hung

  this->server_->Resume();
  r = Eventually(pool, {"PING"});
  EXPECT_TRUE(r.ok()) << r.error();
}

// Throughput tests skip the AOF: with appendfsync always, 32000 INCRs are mostly fsync time.
template <class Client>
class RedisClientLoadTest : public RedisClientTest<Client> {
 protected:
  RedisServer::Options ServerOptions() const override {
    RedisServer::Options options;
    options.appendonly = false;
    return options;
  }
};

// 16 threads x 2000 INCRs through 4 connections: every increment counted once, never more than
// 4 connections opened.
TYPED_TEST_SUITE(RedisClientLoadTest, Clients, ClientNames);

TYPED_TEST(RedisClientLoadTest, ConcurrentIncrementsAreExact) {
  RedisConfig config = this->Config();
  config.pool_size = 4;
  config.pool_wait_ms = 10'000;  // this test is about exactness, not about exhaustion
  TypeParam pool(config);
  constexpr int kThreads = 16;
  constexpr int kPerThread = 2000;

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        const CommandResult r = pool.Command({"INCR", "total"});
        if (!r.ok() || !r->is_integer()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0);
  const CommandResult total = pool.Command({"GET", "total"});
  ASSERT_TRUE(total.ok()) << total.error();
  EXPECT_EQ(total->str, std::to_string(kThreads * kPerThread));
  const RedisStats stats = pool.stats();
  EXPECT_GE(stats.connects, 1);
  EXPECT_LE(stats.connects, 4);
  EXPECT_EQ(stats.pool_exhausted, 0);
}

// When every connection is busy past pool_wait_ms the caller gets ok=false ("pool exhausted")
// instead of blocking, the breaker stays closed, and the pool serves again once one is free.
TEST_F(RedisServerTest, ExhaustedPoolFailsInsteadOfBlocking) {
  RedisConfig config = Config();
  config.pool_size = 1;
  config.command_timeout_ms = 5000;
  config.pool_wait_ms = 100;
  RedisPool pool(config);

  std::optional<CommandResult> held;
  std::thread holder([&] { held = pool.Command({"BLPOP", "never-pushed", "1.5"}); });
  // Wait until Redis reports the BLPOP blocked, i.e. the only connection is taken.
  RedisPool observer(Config());
  const Clock::time_point wait_start = Clock::now();
  bool blocked = false;
  while (!blocked && Since(wait_start) < milliseconds(5000)) {
    const CommandResult info = observer.Command({"INFO", "clients"});
    blocked = info.ok() && Contains(info->str, "blocked_clients:1\r\n");
    if (!blocked) std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(blocked);

  const Clock::time_point start = Clock::now();
  const CommandResult r = pool.Command({"PING"});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error(), "pool exhausted")) << r.error();
  EXPECT_LT(Since(start), milliseconds(1000));
  EXPECT_EQ(pool.stats().pool_exhausted, 1);

  holder.join();
  ASSERT_TRUE(held->ok()) << held->error();
  EXPECT_TRUE(held->value().is_nil());  // BLPOP timed out on the server side
  EXPECT_TRUE(pool.Ping());
  EXPECT_EQ(pool.stats().connects, 1);
}

// Many threads share two connections: every reply reaches the call that asked for it, and the
// calls went out in batches no larger than what was in flight.
TEST_F(RedisServerTest, PipelineRepliesReachTheirOwnCallers) {
  RedisConfig config = Config();
  config.pool_size = 2;
  config.command_timeout_ms = 10'000;  // exactness under load, not timeouts
  RedisPipeline pipeline(config);
  constexpr int kThreads = 32;
  constexpr int kPerThread = 300;

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string mine = std::to_string(t) + "-" + std::to_string(i);
        const CommandResult r = pipeline.Command({"ECHO", mine});
        if (!r.ok() || !r->is_string() || r->str != mine) mismatches.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(mismatches.load(), 0);
  const RedisStats stats = pipeline.stats();
  EXPECT_EQ(stats.commands, kThreads * kPerThread);
  EXPECT_GE(stats.writes, 1);
  EXPECT_LE(stats.writes, stats.commands);
  EXPECT_EQ(stats.connects, 2);
  EXPECT_EQ(stats.command_failures, 0);
}

// At max_in_flight calls on a connection the next call fails at once ("overloaded") instead of
// queueing behind a stalled Redis; the calls already sent still get their replies.
TEST_F(RedisServerTest, FullPipelineRefusesInsteadOfQueueing) {
  RedisConfig config = Config();
  config.pool_size = 1;
  config.max_in_flight = 1;
  config.command_timeout_ms = 10'000;
  RedisPipeline pipeline(config);
  ASSERT_TRUE(pipeline.Ping());
  server_->Pause();

  std::optional<CommandResult> first;
  std::thread sender([&] { first = pipeline.Command({"INCR", "n"}); });
  while (pipeline.stats().commands < 2) std::this_thread::sleep_for(milliseconds(1));

  const Clock::time_point start = Clock::now();
  const CommandResult refused = pipeline.Command({"PING"});
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(Contains(refused.error(), "overloaded")) << refused.error();
  EXPECT_LT(Since(start), milliseconds(1000));
  EXPECT_EQ(pipeline.stats().overloaded, 1);

  server_->Resume();
  sender.join();
  ASSERT_TRUE(first->ok()) << first->error();
  EXPECT_EQ(first->value().integer, 1);
}

// Redis killed with calls in flight: each of them fails as soon as the connection drops, long
// before its timeout, with an error that says the outcome is unknown (a transport failure).
TEST_F(RedisServerTest, PipelineFailsCallsInFlightWhenRedisDies) {
  RedisConfig config = Config();
  config.pool_size = 1;
  config.command_timeout_ms = 30'000;
  RedisPipeline pipeline(config);
  ASSERT_TRUE(pipeline.Ping());
  server_->Pause();

  constexpr int kCalls = 8;
  std::vector<std::optional<CommandResult>> results(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { results[i] = pipeline.Command({"INCR", "n"}); });
  }
  while (pipeline.stats().commands < kCalls + 1) std::this_thread::sleep_for(milliseconds(1));
  const Clock::time_point start = Clock::now();
  server_->Kill();
  for (std::thread& t : threads) t.join();

  EXPECT_LT(Since(start), milliseconds(5000));  // not the 30 s timeout
  for (const std::optional<CommandResult>& r : results) {
    EXPECT_FALSE(r->ok());
    EXPECT_FALSE(r->error().empty());
  }
  EXPECT_EQ(pipeline.stats().command_failures, kCalls);
}

// Close with calls in flight on a frozen Redis: each callback has run, with a failure, by the time
// Close returns; one that calls again (as a batcher sends its next batch) is refused rather than
// queued, and so is every call after Close.
TEST_F(RedisServerTest, ClosedPipelineFailsWhatItHeldAndRefusesMore) {
  RedisConfig config = Config();
  config.pool_size = 2;
  config.command_timeout_ms = 30'000;
  RedisPipeline pipeline(config);
  ASSERT_TRUE(pipeline.Ping());
  server_->Pause();

  constexpr int kCalls = 6;
  std::mutex mu;
  std::vector<CommandResult> results;
  std::vector<CommandResult> again;
  for (int i = 0; i < kCalls; ++i) {
    pipeline.CommandAsync({"INCR", "n"}, [&](CommandResult r) {
      pipeline.CommandAsync({"INCR", "n"}, [&](CommandResult r2) {
        std::lock_guard lock(mu);
        again.push_back(std::move(r2));
      });
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
    });
  }
  while (pipeline.stats().commands < kCalls + 1) std::this_thread::sleep_for(milliseconds(1));
  pipeline.Close();
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(results.size(), static_cast<std::size_t>(kCalls));
    ASSERT_EQ(again.size(), static_cast<std::size_t>(kCalls));
    for (const CommandResult& r : results) EXPECT_FALSE(r.ok());
    for (const CommandResult& r : again) {
      EXPECT_FALSE(r.ok());
      EXPECT_TRUE(Contains(r.error(), "closing")) << r.error();
    }
  }
  const CommandResult after = pipeline.Command({"PING"});
  EXPECT_FALSE(after.ok());
  EXPECT_TRUE(Contains(after.error(), "closing")) << after.error();
  pipeline.Close();  // idempotent
  server_->Resume();
}

}  // namespace
}  // namespace stockgate::store
