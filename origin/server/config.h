// OriginConfig: every setting of the origin service, and LoadConfig, which builds it from
// defaults < a TOML file (`--config FILE` or STOCKGATE_CONFIG) < STOCKGATE_* environment variables
// < command-line flags. Every key is checked (unknown keys, types and ranges are errors naming the
// key and the bound) and the JWT secret must be strong, so a loaded config is one the server can
// run with. The key table lives in config.cc; origin/stockgate-origin.example.toml documents it.
#ifndef STOCKGATE_ORIGIN_SERVER_CONFIG_H_
#define STOCKGATE_ORIGIN_SERVER_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/requests.h"
#include "core/token_bucket.h"
#include "origin/config/loader.h"
#include "origin/server/jwt_auth.h"
#include "origin/store/redis_cluster.h"

namespace stockgate::server {

// One token bucket per client key (JWT sub, else X-Client-Id, else address) and route group;
// rate_per_second 0 turns a group's limit off.
struct RateLimits {
  // The order service is one client that bursts at sale start: it must not be throttled by default.
  core::TokenBucketConfig reservations{1000, 2000};
  core::TokenBucketConfig reads{200, 400};
  core::TokenBucketConfig admin{50, 100};
  // Client keys tracked per group; beyond it the least recently seen are forgotten.
  std::uint32_t client_capacity = 100'000;
};

struct OriginConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  // Share the listen port with other origins on the host (SO_REUSEPORT); off: a port in use is
  // refused at start.
  bool listen_reuse_port = false;
  // HTTPS on the listen address: a PEM certificate chain and its PEM key (both, or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
  // The seeds' gRPC services (origin/grpc) on HOST:PORT, with the TLS settings above; "": off.
  std::string grpc_listen;
  // HTTP event-loop threads; LoadConfig resolves 0 to DefaultThreads(hardware). Connections do
  // not hold threads: a few serve them all.
  int threads = 0;
  int read_timeout_ms = 5000;
  int write_timeout_ms = 5000;
  int keep_alive_max_count = 10'000;  // requests per keep-alive connection
  // The API's body limit (413 above it). Not configurable: it is part of the API contract and
  // the edge enforces the same number.
  std::size_t body_limit_bytes = core::kMaxBodyBytes;

  std::string redis_host = "127.0.0.1";
  std::uint16_t redis_port = 6379;
  // Seed nodes of a Redis Cluster to run on instead of the one Redis above; empty: no cluster.
  std::vector<store::ClusterNode> redis_cluster;
  // Connections to Redis, shared by every request: calls in flight together are pipelined into
  // one write and share Redis's fsync. One carries tens of thousands of calls per second; more
  // split the batches, so Redis does more event-loop passes (and fsyncs) for the same calls.
  int redis_pool_size = 1;
  int redis_connect_timeout_ms = 200;
  int redis_command_timeout_ms = 500;
  // Replicas that must hold each batch of writes before its answers are given (WAIT after the
  // batch, on its connection); fewer within the timeout: 503, outcome unknown. 0: off. Unset
  // (-1), LoadConfig makes it 1 on a cluster and 0 on one Redis.
  int redis_replica_acks = -1;
  int redis_replica_ack_timeout_ms = 100;
  std::string redis_key_prefix = "sg";
  // Partitions of the keyspace (origin/store/keyspace.h); the same for every origin and sync.
  int redis_partitions = 1;
  // The Redis ACL user to AUTH as, with the password from STOCKGATE_REDIS_PASSWORD; "": the
  // default user (requirepass, or no AUTH when no password is set).
  std::string redis_user;

  // The history database the sync worker writes, as mysql://USER@HOST:PORT/DB[?socket=PATH];
  // "" leaves the history routes answering 503. The password comes from STOCKGATE_MYSQL_PASSWORD.
  std::string mysql_uri;

  // Token keys: an HS256 secret (internal callers), an issuer's ES256 public keys (a JWK Set
  // file), or both; LoadConfig refuses a config with neither. jwt_es256_keys is what
  // jwt_jwks_file held, read and checked by LoadConfig.
  std::string jwt_secret;
  std::string jwt_jwks_file;
  std::vector<PublicKey> jwt_es256_keys;
  bool public_stock_reads = true;
  std::int64_t max_adjustment = core::kDefaultMaxAdjustment;  // bound on |delta| of adjustments
  std::int64_t low_stock_threshold = 0;  // of SKUs created without one; 0: never low
  RateLimits rate_limits;
  std::string log_level = "info";  // trace | debug | info | warn | error | critical | off
  // Which requests get a JSON log line: "all", "errors" (answers 500 and above) or "none".
  std::string log_requests = "errors";

  std::string config_file;  // the file that was read, "" when none (for the startup log)
};

// One event-loop thread per hardware thread (at least one, at most 1024).
int DefaultThreads(unsigned hardware_threads);

using config::HostPort;
using config::ParseHostPort;

// One configuration key as the file, the environment and the flags spell it.
struct ConfigKeyInfo {
  std::string key;   // TOML key, dotted for tables: "rate_limits.reads.burst"
  std::string env;   // "STOCKGATE_RATE_LIMITS_READS_BURST"
  std::string flag;  // "--threads", or "" when the key has no flag
};
// Every key LoadConfig accepts, in the order of the example file.
const std::vector<ConfigKeyInfo>& ConfigKeys();

struct LoadedConfig {
  OriginConfig config;  // complete and valid unless help_requested
  // `--help` was given: print help_text and exit 0; config is not one to serve.
  bool help_requested = false;
  std::string help_text;
  std::vector<std::string> warnings;  // deprecated spellings that were read: log them
};
// A refused setting fails (kInvalidRequest) with one line naming the key and the bound.
using LoadResult = core::Result<LoadedConfig>;

// `getenv` is injected so tests can supply an environment; pass a wrapper around std::getenv.
// Never throws and never exits.
LoadResult LoadConfig(int argc, char** argv, const std::function<const char*(const char*)>& getenv);

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_CONFIG_H_
