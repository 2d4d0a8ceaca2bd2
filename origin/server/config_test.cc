#include "origin/server/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace stockgate::server {
namespace {

// The P-256 public key of RFC 7515, appendix A.3, as a JWK without its closing brace.
constexpr std::string_view kRfcJwk =
    R"({"kty":"EC","crv":"P-256","kid":"2026-11","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
    R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")";

const std::string kSecret = "config-test-secret-0123456789abcdefghij";

class ConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "sg_config_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    env_["STOCKGATE_JWT_SECRET"] = kSecret;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // LoadConfig with `args` after the program name and env_ as the whole environment.
  LoadResult Load(std::vector<std::string> args = {}) {
    args.insert(args.begin(), "stockgate-origin");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return LoadConfig(static_cast<int>(args.size()), argv.data(), [this](const char* name) {
      const auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }

  // The error of a load that must fail.
  std::string ErrorOf(std::vector<std::string> args = {}) {
    const LoadResult r = Load(std::move(args));
    EXPECT_FALSE(r.ok());
    return r.error();
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

// With nothing but a secret, every setting has its documented default.
TEST_F(ConfigTest, Defaults) {
  const LoadResult r = Load();
  ASSERT_TRUE(r.ok()) << r.error();
  const OriginConfig& c = r->config;
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.threads, DefaultThreads(std::thread::hardware_concurrency()));
  EXPECT_EQ(c.read_timeout_ms, 5000);
  EXPECT_EQ(c.write_timeout_ms, 5000);
  EXPECT_EQ(c.keep_alive_max_count, 10000);
  EXPECT_EQ(c.body_limit_bytes, 65536u);
  EXPECT_EQ(c.redis_host, "127.0.0.1");
  EXPECT_EQ(c.redis_port, 6379);
  EXPECT_EQ(c.redis_pool_size, 1);
  EXPECT_EQ(c.redis_connect_timeout_ms, 200);
  EXPECT_EQ(c.redis_command_timeout_ms, 500);
  EXPECT_EQ(c.redis_key_prefix, "sg");
  EXPECT_EQ(c.jwt_secret, kSecret);
  EXPECT_TRUE(c.public_stock_reads);
  EXPECT_EQ(c.max_adjustment, 1'000'000);
  EXPECT_EQ(c.low_stock_threshold, 0);
  EXPECT_DOUBLE_EQ(c.rate_limits.reservations.rate_per_second, 1000);
  EXPECT_DOUBLE_EQ(c.rate_limits.reservations.burst, 2000);
  EXPECT_DOUBLE_EQ(c.rate_limits.reads.rate_per_second, 200);
  EXPECT_DOUBLE_EQ(c.rate_limits.reads.burst, 400);
  EXPECT_DOUBLE_EQ(c.rate_limits.admin.rate_per_second, 50);
  EXPECT_DOUBLE_EQ(c.rate_limits.admin.burst, 100);
  EXPECT_EQ(c.rate_limits.client_capacity, 100'000u);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.config_file, "");
}

// Automatic threads: 64 per hardware thread, never fewer than 256 nor more than 1024.
TEST(DefaultThreadsTest, OnePerHardwareThread) {
  EXPECT_EQ(DefaultThreads(0), 1);  // unknown hardware
  EXPECT_EQ(DefaultThreads(1), 1);
  EXPECT_EQ(DefaultThreads(16), 16);
  EXPECT_EQ(DefaultThreads(100'000), 1024);
}

// Every key in a file reaches its field, including nested rate-limit tables.
TEST_F(ConfigTest, ParsesFile) {
  const std::string path = WriteFile("origin.toml", R"(
listen = "0.0.0.0:9090"
threads = 12
read_timeout_ms = 1500
write_timeout_ms = 2500
keep_alive_max_count = 77
redis = "[::1]:6380"
redis_pool_size = 4
redis_connect_timeout_ms = 50
redis_command_timeout_ms = 75
redis_key_prefix = "shop1"
jwt_secret = "file-secret-0123456789-0123456789-abc"
public_stock_reads = false
max_adjustment = 500
log_level = "debug"
[rate_limits]
client_capacity = 1000
[rate_limits.reservations]
rate_per_second = 5000
burst = 10000.5
[rate_limits.reads]
rate_per_second = 0
burst = 1
[rate_limits.admin]
rate_per_second = 0.5
burst = 3
)");
  env_.clear();
  const LoadResult r = Load({"--config", path});
  ASSERT_TRUE(r.ok()) << r.error();
  const OriginConfig& c = r->config;
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 9090);
  EXPECT_EQ(c.threads, 12);
  EXPECT_EQ(c.read_timeout_ms, 1500);
  EXPECT_EQ(c.write_timeout_ms, 2500);
  EXPECT_EQ(c.keep_alive_max_count, 77);
  EXPECT_EQ(c.redis_host, "::1");
  EXPECT_EQ(c.redis_port, 6380);
  EXPECT_EQ(c.redis_pool_size, 4);
  EXPECT_EQ(c.redis_connect_timeout_ms, 50);
  EXPECT_EQ(c.redis_command_timeout_ms, 75);
  EXPECT_EQ(c.redis_key_prefix, "shop1");
  EXPECT_EQ(c.jwt_secret, "file-secret-0123456789-0123456789-abc");
  EXPECT_FALSE(c.public_stock_reads);
  EXPECT_EQ(c.max_adjustment, 500);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.rate_limits.client_capacity, 1000u);
  EXPECT_DOUBLE_EQ(c.rate_limits.reservations.rate_per_second, 5000);
  EXPECT_DOUBLE_EQ(c.rate_limits.reservations.burst, 10000.5);
  EXPECT_DOUBLE_EQ(c.rate_limits.reads.rate_per_second, 0);
  EXPECT_DOUBLE_EQ(c.rate_limits.reads.burst, 1);
  EXPECT_DOUBLE_EQ(c.rate_limits.admin.rate_per_second, 0.5);
  EXPECT_DOUBLE_EQ(c.rate_limits.admin.burst, 3);
  EXPECT_EQ(c.config_file, path);
}

// Each key can be set from its environment variable (catches a mis-wired table row).
TEST_F(ConfigTest, EveryKeyIsSettableFromEnvironment) {
  env_ = {{"STOCKGATE_LISTEN", "localhost:1"},
          {"STOCKGATE_LISTEN_REUSE_PORT", "1"},
          {"STOCKGATE_TLS_CERT_FILE", "/tls/origin.crt"},
          {"STOCKGATE_TLS_KEY_FILE", "/tls/origin.key"},
          {"STOCKGATE_GRPC_LISTEN", "0.0.0.0:9090"},
          {"STOCKGATE_THREADS", "7"},
          {"STOCKGATE_READ_TIMEOUT_MS", "11"},
          {"STOCKGATE_WRITE_TIMEOUT_MS", "12"},
          {"STOCKGATE_KEEP_ALIVE_MAX_COUNT", "13"},
          {"STOCKGATE_REDIS", "redis.internal:65535"},
          {"STOCKGATE_REDIS_CLUSTER", "10.0.0.1:7000,[::1]:7001"},
          {"STOCKGATE_REDIS_POOL_SIZE", "14"},
          {"STOCKGATE_REDIS_CONNECT_TIMEOUT_MS", "15"},
          {"STOCKGATE_REDIS_COMMAND_TIMEOUT_MS", "26"},
          {"STOCKGATE_REDIS_REPLICA_ACKS", "2"},
          {"STOCKGATE_REDIS_REPLICA_ACK_TIMEOUT_MS", "25"},
          {"STOCKGATE_REDIS_KEY_PREFIX", "p:x"},
          {"STOCKGATE_REDIS_PARTITIONS", "16"},
          {"STOCKGATE_REDIS_USER", "stockgate-origin"},
          {"STOCKGATE_MYSQL", "mysql://app@db.internal:3307/shop"},
          {"STOCKGATE_JWT_SECRET", "env-secret-0123456789-0123456789-xyz"},
          {"STOCKGATE_JWT_JWKS_FILE",
           WriteFile("env.jwks", R"({"keys":[)" + std::string(kRfcJwk) + "}]}")},
          {"STOCKGATE_PUBLIC_STOCK_READS", "0"},
          {"STOCKGATE_MAX_ADJUSTMENT", "17"},
          {"STOCKGATE_LOW_STOCK_THRESHOLD", "27"},
          {"STOCKGATE_LOG_LEVEL", "warn"},
          {"STOCKGATE_LOG_REQUESTS", "all"},
          {"STOCKGATE_RATE_LIMITS_CLIENT_CAPACITY", "18"},
          {"STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND", "19.5"},
          {"STOCKGATE_RATE_LIMITS_RESERVATIONS_BURST", "20"},
          {"STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND", "21"},
          {"STOCKGATE_RATE_LIMITS_READS_BURST", "22"},
          {"STOCKGATE_RATE_LIMITS_ADMIN_RATE_PER_SECOND", "23"},
          {"STOCKGATE_RATE_LIMITS_ADMIN_BURST", "24"}};
  ASSERT_EQ(env_.size(), ConfigKeys().size());
  const LoadResult r = Load();
  ASSERT_TRUE(r.ok()) << r.error();
  const OriginConfig& c = r->config;
  EXPECT_EQ(c.listen_host, "localhost");
  EXPECT_EQ(c.listen_port, 1);
  EXPECT_TRUE(c.listen_reuse_port);
  EXPECT_EQ(c.tls_cert_file, "/tls/origin.crt");
  EXPECT_EQ(c.tls_key_file, "/tls/origin.key");
  EXPECT_EQ(c.grpc_listen, "0.0.0.0:9090");
  EXPECT_EQ(c.threads, 7);
  EXPECT_EQ(c.read_timeout_ms, 11);
  EXPECT_EQ(c.write_timeout_ms, 12);
  EXPECT_EQ(c.keep_alive_max_count, 13);
  EXPECT_EQ(c.redis_replica_acks, 2);
  EXPECT_EQ(c.redis_replica_ack_timeout_ms, 25);
  EXPECT_EQ(c.redis_host, "redis.internal");
  EXPECT_EQ(c.redis_port, 65535);
  EXPECT_EQ(store::NodeList(c.redis_cluster), "10.0.0.1:7000,[::1]:7001");
  EXPECT_EQ(c.redis_pool_size, 14);
  EXPECT_EQ(c.redis_connect_timeout_ms, 15);
  EXPECT_EQ(c.redis_command_timeout_ms, 26);
  EXPECT_EQ(c.redis_key_prefix, "p:x");
  EXPECT_EQ(c.redis_partitions, 16);
  EXPECT_EQ(c.redis_user, "stockgate-origin");
  EXPECT_EQ(c.mysql_uri, "mysql://app@db.internal:3307/shop");
  EXPECT_EQ(c.jwt_jwks_file, (dir_ / "env.jwks").string());
  EXPECT_EQ(c.jwt_es256_keys.size(), 1u);
  EXPECT_EQ(c.jwt_secret, "env-secret-0123456789-0123456789-xyz");
  EXPECT_EQ(c.log_requests, "all");
  EXPECT_FALSE(c.public_stock_reads);
  EXPECT_EQ(c.max_adjustment, 17);
  EXPECT_EQ(c.low_stock_threshold, 27);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.rate_limits.client_capacity, 18u);
  EXPECT_DOUBLE_EQ(c.rate_limits.reservations.rate_per_second, 19.5);
  EXPECT_DOUBLE_EQ(c.rate_limits.reservations.burst, 20);
  EXPECT_DOUBLE_EQ(c.rate_limits.reads.rate_per_second, 21);
  EXPECT_DOUBLE_EQ(c.rate_limits.reads.burst, 22);
  EXPECT_DOUBLE_EQ(c.rate_limits.admin.rate_per_second, 23);
  EXPECT_DOUBLE_EQ(c.rate_limits.admin.burst, 24);
}

// defaults < file < environment < flags, key by key.
TEST_F(ConfigTest, PrecedenceFileEnvironmentFlags) {
  const std::string path = WriteFile("p.toml", R"(
listen = "10.0.0.1:1001"
threads = 3
log_level = "debug"
redis_pool_size = 9
)");
  env_["STOCKGATE_LISTEN"] = "10.0.0.2:1002";
  env_["STOCKGATE_THREADS"] = "5";
  env_["STOCKGATE_REDIS"] = "10.0.0.9:7000";
  const LoadResult r = Load({"--config", path, "--listen", "10.0.0.3:1003", "--redis=[::1]:7001"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->config.listen_host, "10.0.0.3");  // flag over env over file
  EXPECT_EQ(r->config.listen_port, 1003);
  EXPECT_EQ(r->config.redis_host, "::1");  // flag over env
  EXPECT_EQ(r->config.redis_port, 7001);
  EXPECT_EQ(r->config.threads, 5);              // env over file
  EXPECT_EQ(r->config.log_level, "debug");      // file over default
  EXPECT_EQ(r->config.redis_pool_size, 9);      // file over default
  EXPECT_EQ(r->config.redis_key_prefix, "sg");  // default

  const LoadResult flags = Load({"--config", path, "--threads", "8", "--log-level", "error"});
  ASSERT_TRUE(flags.ok()) << flags.error();
  EXPECT_EQ(flags->config.threads, 8);
  EXPECT_EQ(flags->config.log_level, "error");
}

// STOCKGATE_CONFIG names the file when --config is absent; --config wins over it.
TEST_F(ConfigTest, ConfigFileFromEnvironment) {
  const std::string a = WriteFile("a.toml", "threads = 21\n");
  const std::string b = WriteFile("b.toml", "threads = 22\n");
  env_["STOCKGATE_CONFIG"] = a;
  LoadResult r = Load();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->config.threads, 21);
  EXPECT_EQ(r->config.config_file, a);
  r = Load({"--config", b});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->config.threads, 22);
}

// Unknown keys, top-level or nested, are errors that name the key and its line (typo safety).
TEST_F(ConfigTest, UnknownKeyIsAnError) {
  std::string e = ErrorOf({"--config", WriteFile("u1.toml", "\nlisten_adress = \"a:1\"\n")});
  EXPECT_NE(e.find("unknown key \"listen_adress\""), std::string::npos) << e;
  EXPECT_NE(e.find(":2:"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("u2.toml", "[rate_limits.reads]\nbrust = 5\n")});
  EXPECT_NE(e.find("unknown key \"rate_limits.reads.brust\""), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("u3.toml", "[redis_options]\npool = 1\n")});
  EXPECT_NE(e.find("unknown key \"redis_options\""), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("u4.toml", "body_limit_bytes = 65536\n")});
  EXPECT_NE(e.find("unknown key \"body_limit_bytes\""), std::string::npos) << e;
}

// Wrong TOML types are errors naming the key and what it accepts.
TEST_F(ConfigTest, WrongTypeIsAnError) {
  std::string e = ErrorOf({"--config", WriteFile("t1.toml", "threads = \"8\"\n")});
  EXPECT_NE(e.find("key \"threads\" must be an integer in 0..1024"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("t2.toml", "threads = 8.0\n")});
  EXPECT_NE(e.find("key \"threads\" must be an integer"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("t3.toml", "public_stock_reads = \"yes\"\n")});
  EXPECT_NE(e.find("key \"public_stock_reads\" must be true or false"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("t4.toml", "listen = 8080\n")});
  EXPECT_NE(e.find("key \"listen\" must be a string"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("t5.toml", "rate_limits = 5\n")});
  EXPECT_NE(e.find("key \"rate_limits\" must be a table"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("t6.toml", "[rate_limits.reads]\nburst = \"many\"\n")});
  EXPECT_NE(e.find("key \"rate_limits.reads.burst\" must be a number in 1..1e+09"),
            std::string::npos)
      << e;
}

// Out-of-range values name the key and the bound, from every source.
TEST_F(ConfigTest, OutOfRangeIsAnError) {
  std::string e = ErrorOf({"--config", WriteFile("r1.toml", "threads = 5000\n")});
  EXPECT_NE(e.find("key \"threads\" must be an integer in 0..1024"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("r2.toml", "redis_pool_size = 0\n")});
  EXPECT_NE(e.find("key \"redis_pool_size\" must be an integer in 1..1024"), std::string::npos)
      << e;
  e = ErrorOf({"--config", WriteFile("r3.toml", "[rate_limits.admin]\nburst = 0.5\n")});
  EXPECT_NE(e.find("rate_limits.admin.burst\" must be a number in 1..1e+09"), std::string::npos)
      << e;
  e = ErrorOf({"--config", WriteFile("r4.toml", "log_level = \"verbose\"\n")});
  EXPECT_NE(e.find("key \"log_level\" must be one of trace"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("r5.toml", "redis_key_prefix = \"{sg}\"\n")});
  EXPECT_NE(e.find("key \"redis_key_prefix\" must be 1..32"), std::string::npos) << e;
  e = ErrorOf({"--mysql", "db.internal:3306"});
  EXPECT_NE(e.find("a MySQL URI starts with mysql://"), std::string::npos) << e;
  e = ErrorOf({"--config", WriteFile("r6.toml", "max_adjustment = 0\n")});
  EXPECT_NE(e.find("key \"max_adjustment\" must be an integer in 1..2147483647"), std::string::npos)
      << e;
  e = ErrorOf({"--config", WriteFile("r7.toml", "tls_cert_file = \"/tls/origin.crt\"\n")});
  EXPECT_NE(e.find("tls_cert_file and tls_key_file go together"), std::string::npos) << e;

  env_["STOCKGATE_THREADS"] = "many";
  EXPECT_EQ(ErrorOf(), "STOCKGATE_THREADS must be an integer in 0..1024");
  env_["STOCKGATE_THREADS"] = "-1";
  EXPECT_EQ(ErrorOf(), "STOCKGATE_THREADS must be an integer in 0..1024");
  env_.erase("STOCKGATE_THREADS");
  env_["STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND"] = "nan";
  EXPECT_EQ(ErrorOf(), "STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND must be a number in 0..1e+09");
  env_.erase("STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND");
  env_["STOCKGATE_PUBLIC_STOCK_READS"] = "yes";
  EXPECT_EQ(ErrorOf(), "STOCKGATE_PUBLIC_STOCK_READS must be true or false");
  env_.erase("STOCKGATE_PUBLIC_STOCK_READS");

  EXPECT_EQ(ErrorOf({"--threads", "1025"}), "--threads must be an integer in 0..1024");
  EXPECT_EQ(ErrorOf({"--log-level", "loud"}).find("--log-level must be one of"), 0u);
}

// Ports outside 1..65535 and malformed HOST:PORT are refused from file, environment and flags.
TEST_F(ConfigTest, BadAddressIsAnError) {
  std::string e = ErrorOf({"--config", WriteFile("a1.toml", "listen = \"127.0.0.1:0\"\n")});
  EXPECT_NE(e.find("key \"listen\" must be HOST:PORT"), std::string::npos) << e;
  EXPECT_NE(e.find("port must be 1..65535"), std::string::npos) << e;
  env_["STOCKGATE_REDIS"] = "redis:65536";
  e = ErrorOf();
  EXPECT_EQ(e.find("STOCKGATE_REDIS must be HOST:PORT"), 0u) << e;
  env_.erase("STOCKGATE_REDIS");
  e = ErrorOf({"--listen", "::1:8080"});
  EXPECT_EQ(e.find("--listen must be HOST:PORT"), 0u) << e;
  // gRPC is off by default; set, it is an address like the others.
  EXPECT_EQ(Load()->config.grpc_listen, "");
  e = ErrorOf({"--grpc-listen", "127.0.0.1:0"});
  EXPECT_EQ(e.find("--grpc-listen"), 0u) << e;
  EXPECT_NE(e.find("port must be 1..65535"), std::string::npos) << e;
  env_["STOCKGATE_GRPC_LISTEN"] = "nowhere";
  EXPECT_EQ(ErrorOf().find("STOCKGATE_GRPC_LISTEN"), 0u);
  env_.erase("STOCKGATE_GRPC_LISTEN");
  EXPECT_EQ(Load({"--grpc-listen", "[::1]:9090"})->config.grpc_listen, "[::1]:9090");
}

// On a cluster, writes wait for a replica unless told otherwise; on one Redis they do not. A bad
// seed list names the item; a bad Redis user name is refused.
TEST_F(ConfigTest, ReplicaAcksDefaultToOneOnAClusterOnly) {
  LoadResult r = Load();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->config.redis_cluster.empty());
  EXPECT_EQ(r->config.redis_replica_acks, 0);
  r = Load({"--redis-cluster", "127.0.0.1:7000,127.0.0.1:7001"});
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->config.redis_cluster.size(), 2U);
  EXPECT_EQ(r->config.redis_cluster[1].port, 7001);
  EXPECT_EQ(r->config.redis_replica_acks, 1);
  r = Load({"--redis-cluster", "127.0.0.1:7000", "--redis-replica-acks", "0"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->config.redis_replica_acks, 0) << "an explicit 0 stands";
  env_["STOCKGATE_REDIS_USER"] = "bad user";
  EXPECT_NE(ErrorOf().find("STOCKGATE_REDIS_USER must be empty or 1..64 characters"),
            std::string::npos)
      << ErrorOf();
  env_["STOCKGATE_REDIS_USER"] = std::string(65, 'u');
  EXPECT_FALSE(ErrorOf().empty());
  env_.erase("STOCKGATE_REDIS_USER");
  const std::string e = ErrorOf({"--redis-cluster", "127.0.0.1:7000,127.0.0.1"});
  EXPECT_EQ(e.find("--redis-cluster"), 0u) << e;
  EXPECT_NE(e.find("item 2"), std::string::npos) << e;
}

// HOST:PORT parsing is strict: brackets for IPv6, decimal port 1..65535, a non-empty host.
TEST(HostPortTest, ParsesStrictly) {
  core::Result<config::HostPort> r = ParseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->host, "127.0.0.1");
  EXPECT_EQ(r->port, 8080);
  r = ParseHostPort("[::1]:6379");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 6379);
  r = ParseHostPort("[2001:db8::7]:65535");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->host, "2001:db8::7");
  EXPECT_TRUE(ParseHostPort("redis-0.redis_svc.local:1").ok());
  for (const char* bad : {"",
                          ":8080",
                          "host",
                          "host:",
                          "host:0",
                          "host:65536",
                          "host:99999999",
                          "host:+80",
                          "host:-1",
                          "host:80a",
                          "host: 80",
                          "host:0x50",
                          "::1:8080",
                          "[::1]",
                          "[::1]8080",
                          "[]:80",
                          "[::1:80",
                          "[fe80::1%eth0]:80",
                          "[host]:80",
                          "ho st:80",
                          "host/x:80",
                          "h:80:90"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << '"' << bad << '"';
  }
}

// No secret, or one under 32 bytes, refuses to load, and the message does not echo the secret.
TEST_F(ConfigTest, MissingOrWeakSecretIsAnError) {
  env_.erase("STOCKGATE_JWT_SECRET");
  std::string e = ErrorOf();
  EXPECT_NE(e.find("no token key"), std::string::npos) << e;
  EXPECT_NE(e.find("STOCKGATE_JWT_SECRET"), std::string::npos) << e;
  EXPECT_NE(e.find("jwt_jwks_file"), std::string::npos) << e;
  env_["STOCKGATE_JWT_SECRET"] = "short-secret-31-bytes-long-xxxx";
  ASSERT_EQ(env_["STOCKGATE_JWT_SECRET"].size(), 31u);
  e = ErrorOf();
  EXPECT_EQ(e, "jwt_secret is too weak: 31 bytes, need at least 32");
  e = ErrorOf({"--config", WriteFile("s.toml", "jwt_secret = \"abc\"\n")});
  EXPECT_EQ(e, "jwt_secret is too weak: 31 bytes, need at least 32");  // env overrides the file
  env_.erase("STOCKGATE_JWT_SECRET");
  e = ErrorOf({"--config", WriteFile("s2.toml", "jwt_secret = \"abc\"\n")});
  EXPECT_EQ(e, "jwt_secret is too weak: 3 bytes, need at least 32");
}

// An issuer's public keys alone are enough (the HS256 secret is optional then); the JWK Set
// file is read at load, and a bad one is refused naming the file and the reason.
TEST_F(ConfigTest, JwksFileLoadsPublicKeys) {
  const std::string jwk(kRfcJwk);
  env_.erase("STOCKGATE_JWT_SECRET");
  const std::string good = WriteFile("jwks.json", R"({"keys":[)" + jwk + "}]}");
  env_["STOCKGATE_JWT_JWKS_FILE"] = good;
  const LoadResult r = Load();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->config.jwt_jwks_file, good);
  ASSERT_EQ(r->config.jwt_es256_keys.size(), 1u);
  EXPECT_EQ(r->config.jwt_es256_keys[0].kid, "2026-11");
  EXPECT_NE(r->config.jwt_es256_keys[0].pem.find("BEGIN PUBLIC KEY"), std::string::npos);

  const std::string with_private =
      WriteFile("private.json",
                R"({"keys":[)" + jwk + R"(,"d":"jpsQnnGQmL-YBIfLkQyG2QqDRMpr0a0QoRH2Sx3jQ1M"}]})");
  env_["STOCKGATE_JWT_JWKS_FILE"] = with_private;
  EXPECT_EQ(ErrorOf(), "jwt_jwks_file " + with_private +
                           ": key 0 (kid 2026-11) holds a private key: give verifiers the public "
                           "key only");
  const std::string missing = (dir_ / "none.json").string();
  env_["STOCKGATE_JWT_JWKS_FILE"] = missing;
  EXPECT_EQ(ErrorOf(), "jwt_jwks_file " + missing + ": cannot be read");
}

// A missing file, a directory and a TOML syntax error are errors naming the file.
TEST_F(ConfigTest, UnreadableOrInvalidFileIsAnError) {
  const std::string missing = (dir_ / "nope.toml").string();
  std::string e = ErrorOf({"--config", missing});
  EXPECT_EQ(e, "cannot read config file " + missing + ": No such file or directory");
  e = ErrorOf({"--config", dir_.string()});
  EXPECT_EQ(e, "cannot read config file " + dir_.string() + ": is a directory");
  const std::string broken = WriteFile("broken.toml", "threads = 4\nlisten = \n");
  e = ErrorOf({"--config", broken});
  EXPECT_EQ(e.find("config file " + broken + ":2:"), 0u) << e;
  EXPECT_EQ(ErrorOf({"--config", ""}), "--config needs a file name");
}

// Unknown flags and stray arguments are errors, not ignored.
TEST_F(ConfigTest, UnknownFlagIsAnError) {
  EXPECT_NE(ErrorOf({"--listn", "a:1"}).find("--listn"), std::string::npos);
  EXPECT_FALSE(ErrorOf({"stray"}).empty());
}

// The replica WAIT rides on the same call as the script, so its timeout must fit in the command
// timeout; off (0 replicas) it does not matter.
TEST_F(ConfigTest, ReplicaAckTimeoutMustFitTheCommandTimeout) {
  const std::string e = ErrorOf({"--config", WriteFile("acks.toml",
                                                       "redis_replica_acks = 1\n"
                                                       "redis_replica_ack_timeout_ms = 500\n")});
  EXPECT_EQ(e, "redis_replica_ack_timeout_ms (500) must be below redis_command_timeout_ms (500)");
  EXPECT_TRUE(
      Load({"--config", WriteFile("acks-off.toml", "redis_replica_ack_timeout_ms = 900\n")}).ok());
  const LoadResult fits = Load({"--config", WriteFile("acks-fit.toml",
                                                      "redis_replica_acks = 1\n"
                                                      "redis_replica_ack_timeout_ms = 499\n")});
  ASSERT_TRUE(fits.ok()) << fits.error();
  EXPECT_EQ(fits->config.redis_replica_acks, 1);
}

// --help returns the help text instead of exiting, and says so, so it is not taken for a config.
TEST_F(ConfigTest, HelpIsReturnedNotExited) {
  env_.clear();  // help works even without a secret
  const LoadResult r = Load({"--help"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->help_requested);
  for (const char* flag : {"--config", "--listen", "--redis", "--threads", "--log-level"}) {
    EXPECT_NE(r->help_text.find(flag), std::string::npos) << flag << " missing from\n"
                                                          << r->help_text;
  }
}

std::string ReadExample() {
  std::ifstream in(STOCKGATE_EXAMPLE_CONFIG);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The shipped example file loads as is (given the secret) and reproduces the defaults exactly.
TEST_F(ConfigTest, ExampleFileLoadsAndMatchesDefaults) {
  const LoadResult defaults = Load();
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  const LoadResult r = Load({"--config", STOCKGATE_EXAMPLE_CONFIG});
  ASSERT_TRUE(r.ok()) << r.error();
  const OriginConfig& a = r->config;
  const OriginConfig& d = defaults->config;
  EXPECT_EQ(a.listen_host, d.listen_host);
  EXPECT_EQ(a.listen_port, d.listen_port);
  EXPECT_EQ(a.threads, d.threads);
  EXPECT_EQ(a.read_timeout_ms, d.read_timeout_ms);
  EXPECT_EQ(a.write_timeout_ms, d.write_timeout_ms);
  EXPECT_EQ(a.keep_alive_max_count, d.keep_alive_max_count);
  EXPECT_EQ(a.redis_host, d.redis_host);
  EXPECT_EQ(a.redis_port, d.redis_port);
  EXPECT_EQ(a.redis_pool_size, d.redis_pool_size);
  EXPECT_EQ(a.redis_connect_timeout_ms, d.redis_connect_timeout_ms);
  EXPECT_EQ(a.redis_command_timeout_ms, d.redis_command_timeout_ms);
  EXPECT_EQ(a.redis_key_prefix, d.redis_key_prefix);
  EXPECT_EQ(a.public_stock_reads, d.public_stock_reads);
  EXPECT_EQ(a.max_adjustment, d.max_adjustment);
  EXPECT_EQ(a.low_stock_threshold, d.low_stock_threshold);
  EXPECT_EQ(a.log_level, d.log_level);
  EXPECT_EQ(a.rate_limits.client_capacity, d.rate_limits.client_capacity);
  EXPECT_EQ(a.rate_limits.reservations.rate_per_second, d.rate_limits.reservations.rate_per_second);
  EXPECT_EQ(a.rate_limits.reservations.burst, d.rate_limits.reservations.burst);
  EXPECT_EQ(a.rate_limits.reads.rate_per_second, d.rate_limits.reads.rate_per_second);
  EXPECT_EQ(a.rate_limits.reads.burst, d.rate_limits.reads.burst);
  EXPECT_EQ(a.rate_limits.admin.rate_per_second, d.rate_limits.admin.rate_per_second);
  EXPECT_EQ(a.rate_limits.admin.burst, d.rate_limits.admin.burst);

  env_.erase("STOCKGATE_JWT_SECRET");  // the example must not ship a secret
  EXPECT_NE(ErrorOf({"--config", STOCKGATE_EXAMPLE_CONFIG}).find("no token key"),
            std::string::npos);
}

// The example documents every key: its assignment and its environment variable appear in it.
TEST(ConfigKeysTest, ExampleFileDocumentsEveryKey) {
  const std::string text = ReadExample();
  ASSERT_FALSE(text.empty()) << "cannot read " << STOCKGATE_EXAMPLE_CONFIG;
  for (const ConfigKeyInfo& key : ConfigKeys()) {
    const std::string leaf(key.key.substr(key.key.rfind('.') + 1));
    const bool assigned = text.find("\n" + leaf + " = ") != std::string::npos ||
                          text.find("\n# " + leaf + " = ") != std::string::npos;
    EXPECT_TRUE(assigned) << key.key << " is not shown in the example";
    EXPECT_NE(text.find(key.env), std::string::npos) << key.env << " is not in the example";
    if (!key.flag.empty()) {
      EXPECT_NE(text.find(key.flag), std::string::npos) << key.flag << " is not in the example";
    }
  }
  // The token keys are left commented out: a deployment chooses its own.
  EXPECT_NE(text.find("\n# jwt_secret = "), std::string::npos);
  EXPECT_NE(text.find("\n# jwt_jwks_file = "), std::string::npos);
}
}  // namespace
}  // namespace stockgate::server
