#include "origin/server/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "origin/config/loader.h"
#include "origin/history/mysql_config.h"
#include "origin/log/log.h"
#include "origin/server/jwt_auth.h"
#include "origin/store/redis_inventory_store.h"

namespace stockgate::server {
namespace {

constexpr int kMaxThreads = 1024;
// A longer secret adds nothing to HMAC-SHA256 and is more likely a pasted file by mistake.
constexpr std::size_t kMaxJwtSecretBytes = 4096;

using config::Kind;
using config::Value;

// One row of the key table: what the key accepts, and where its value goes.
struct Setting {
  config::Key key;
  void (*apply)(OriginConfig&, const Value&) = nullptr;
  // Keys with a flag: the value as --help shows the default.
  std::string (*show)(const OriginConfig&) = nullptr;
};

core::Status CheckRequestLog(std::string_view value) {
  if (value == "all" || value == "errors" || value == "none") return {};
  return config::Invalid("must be all, errors or none");
}

core::Status CheckMySqlUri(std::string_view uri) {
  if (uri.empty()) return {};  // history off
  return history::CheckMySqlUri(uri);
}

// "" (off) or HOST:PORT.
core::Status CheckOptionalHostPort(std::string_view text) {
  if (text.empty()) return {};
  const core::Result<config::HostPort> hp = config::ParseHostPort(text);
  if (!hp) return config::Invalid(hp.error());
  return {};
}

core::Status CheckSecretLength(std::string_view secret) {
  if (secret.size() <= kMaxJwtSecretBytes) return {};
  return config::Invalid("must be at most " + std::to_string(kMaxJwtSecretBytes) + " bytes");
}

// Rates and bursts: 0 rate turns a group's limit off; a bucket holds at least one request.
Setting RateKey(std::string_view key, double min, void (*apply)(OriginConfig&, const Value&)) {
  return {.key = {.name = key, .kind = Kind::kDouble, .min_double = min, .max_double = 1e9},
          .apply = apply};
}

// Order = the example file's order. The loader derives each key's variable and flag from its
// name (config::EnvName, config::FlagName).
const std::vector<Setting>& Settings() {
  static const std::vector<Setting> settings = {
      {.key = {.name = "listen",
               .flag_help = "Address to serve HTTP on",
               .flag_value = "HOST:PORT",
               .kind = Kind::kHostPort},
       .apply =
           [](OriginConfig& c, const Value& v) {
             c.listen_host = v.host_port.host;
             c.listen_port = v.host_port.port;
           },
       .show =
           [](const OriginConfig& c) {
             return c.listen_host + ":" + std::to_string(c.listen_port);
           }},
      {.key = {.name = "listen_reuse_port", .kind = Kind::kBool},
       .apply = [](OriginConfig& c, const Value& v) { c.listen_reuse_port = v.b; }},
      {.key = {.name = "tls_cert_file", .kind = Kind::kString},
       .apply = [](OriginConfig& c, const Value& v) { c.tls_cert_file = v.s; }},
      {.key = {.name = "tls_key_file", .kind = Kind::kString},
       .apply = [](OriginConfig& c, const Value& v) { c.tls_key_file = v.s; }},
      {.key = {.name = "grpc_listen",
               .flag_help = "Address to serve the seeds' gRPC services on (off when unset)",
               .flag_value = "HOST:PORT",
               .kind = Kind::kString,
               .check = CheckOptionalHostPort},
       .apply = [](OriginConfig& c, const Value& v) { c.grpc_listen = v.s; }},
      {.key = {.name = "threads",
               .flag_help = "HTTP event-loop threads (0: one per hardware thread)",
               .flag_value = "N",
               .kind = Kind::kInt,
               .min_int = 0,
               .max_int = kMaxThreads},
       .apply = [](OriginConfig& c, const Value& v) { c.threads = static_cast<int>(v.i); },
       .show = [](const OriginConfig& c) { return std::to_string(c.threads); }},
      {.key = {.name = "read_timeout_ms", .kind = Kind::kInt, .min_int = 1, .max_int = 600'000},
       .apply = [](OriginConfig& c, const Value& v) { c.read_timeout_ms = static_cast<int>(v.i); }},
      {.key = {.name = "write_timeout_ms", .kind = Kind::kInt, .min_int = 1, .max_int = 600'000},
       .apply = [](OriginConfig& c,
                   const Value& v) { c.write_timeout_ms = static_cast<int>(v.i); }},
      {.key = {.name = "keep_alive_max_count",
               .kind = Kind::kInt,
               .min_int = 1,
               .max_int = 10'000'000},
       .apply = [](OriginConfig& c,
                   const Value& v) { c.keep_alive_max_count = static_cast<int>(v.i); }},
      {.key = {.name = "redis",
               .flag_help = "Address of Redis",
               .flag_value = "HOST:PORT",
               .kind = Kind::kHostPort},
       .apply =
           [](OriginConfig& c, const Value& v) {
             c.redis_host = v.host_port.host;
             c.redis_port = v.host_port.port;
           },
       .show =
           [](const OriginConfig& c) { return c.redis_host + ":" + std::to_string(c.redis_port); }},
      {.key = {.name = "redis_cluster",
               .flag_help = "Seed nodes of a Redis Cluster to use instead of --redis",
               .flag_value = "HOST:PORT,...",
               .kind = Kind::kString,
               .check = config::CheckHostPortList},
       .apply =
           [](OriginConfig& c, const Value& v) {
             const core::Result<std::vector<config::HostPort>> seeds =
                 config::ParseHostPortList(v.s);
             c.redis_cluster.clear();
             for (const config::HostPort& hp : *seeds) {
               c.redis_cluster.push_back({hp.host, hp.port});
             }
           },
       .show =
           [](const OriginConfig& c) {
             return c.redis_cluster.empty() ? std::string("none")
                                            : store::NodeList(c.redis_cluster);
           }},
      {.key = {.name = "redis_pool_size", .kind = Kind::kInt, .min_int = 1, .max_int = 1024},
       .apply = [](OriginConfig& c, const Value& v) { c.redis_pool_size = static_cast<int>(v.i); }},
      {.key = {.name = "redis_connect_timeout_ms",
               .kind = Kind::kInt,
               .min_int = 1,
               .max_int = 60'000},
       .apply = [](OriginConfig& c,
                   const Value& v) { c.redis_connect_timeout_ms = static_cast<int>(v.i); }},
      {.key = {.name = "redis_command_timeout_ms",
               .kind = Kind::kInt,
               .min_int = 1,
               .max_int = 60'000},
       .apply = [](OriginConfig& c,
                   const Value& v) { c.redis_command_timeout_ms = static_cast<int>(v.i); }},
      {.key = {.name = "redis_replica_acks",
               .flag_help = "Replicas that must hold a write before it is answered",
               .flag_value = "N",
               .kind = Kind::kInt,
               .min_int = 0,
               .max_int = 5},
       .apply = [](OriginConfig& c,
                   const Value& v) { c.redis_replica_acks = static_cast<int>(v.i); },
       .show =
           [](const OriginConfig& c) {
             return c.redis_replica_acks < 0 ? std::string("1 with --redis-cluster, else 0")
                                             : std::to_string(c.redis_replica_acks);
           }},
      {.key = {.name = "redis_replica_ack_timeout_ms",
               .kind = Kind::kInt,
               .min_int = 1,
               .max_int = 60'000},
       .apply = [](OriginConfig& c,
                   const Value& v) { c.redis_replica_ack_timeout_ms = static_cast<int>(v.i); }},
      {.key = {.name = "redis_key_prefix", .kind = Kind::kString, .check = store::CheckKeyPrefix},
       .apply = [](OriginConfig& c, const Value& v) { c.redis_key_prefix = v.s; }},
      {.key = {.name = "redis_partitions",
               .kind = Kind::kInt,
               .min_int = 1,
               .max_int = store::kMaxPartitions},
       .apply = [](OriginConfig& c,
                   const Value& v) { c.redis_partitions = static_cast<int>(v.i); }},
      {.key = {.name = "redis_user", .kind = Kind::kString, .check = store::CheckRedisUser},
       .apply = [](OriginConfig& c, const Value& v) { c.redis_user = v.s; }},
      {.key = {.name = "mysql",
               .flag_help = "History database (MariaDB); \"\" turns the history routes off",
               .flag_value = "mysql://USER@HOST:PORT/DB",
               .kind = Kind::kString,
               .check = CheckMySqlUri},
       .apply = [](OriginConfig& c, const Value& v) { c.mysql_uri = v.s; },
       .show =
           [](const OriginConfig& c) {
             return c.mysql_uri.empty() ? std::string("none") : c.mysql_uri;
           }},
      {.key = {.name = "jwt_secret", .kind = Kind::kString, .check = CheckSecretLength},
       .apply = [](OriginConfig& c, const Value& v) { c.jwt_secret = v.s; }},
      {.key = {.name = "jwt_jwks_file", .kind = Kind::kString},
       .apply = [](OriginConfig& c, const Value& v) { c.jwt_jwks_file = v.s; }},
      {.key = {.name = "public_stock_reads", .kind = Kind::kBool},
       .apply = [](OriginConfig& c, const Value& v) { c.public_stock_reads = v.b; }},
      {.key = {.name = "max_adjustment",
               .kind = Kind::kInt,
               .min_int = 1,
               .max_int = core::kMaxOnHand},
       .apply = [](OriginConfig& c, const Value& v) { c.max_adjustment = v.i; }},
      {.key = {.name = "low_stock_threshold",
               .kind = Kind::kInt,
               .min_int = 0,
               .max_int = core::kMaxLowStockThreshold},
       .apply = [](OriginConfig& c, const Value& v) { c.low_stock_threshold = v.i; }},
      {.key = {.name = "log_level",
               .flag_help = "trace, debug, info, warn, error, critical or off",
               .flag_value = "LEVEL",
               .kind = Kind::kString,
               .check = log::CheckLevel},
       .apply = [](OriginConfig& c, const Value& v) { c.log_level = v.s; },
       .show = [](const OriginConfig& c) { return c.log_level; }},
      {.key = {.name = "log_requests", .kind = Kind::kString, .check = CheckRequestLog},
       .apply = [](OriginConfig& c, const Value& v) { c.log_requests = v.s; }},
      {.key = {.name = "rate_limits.client_capacity",
               .kind = Kind::kInt,
               .min_int = 1,
               .max_int = 10'000'000},
       .apply =
           [](OriginConfig& c, const Value& v) {
             c.rate_limits.client_capacity = static_cast<std::uint32_t>(v.i);
           }},
      RateKey("rate_limits.reservations.rate_per_second", 0,
              [](OriginConfig& c, const Value& v) {
                c.rate_limits.reservations.rate_per_second = v.d;
              }),
      RateKey("rate_limits.reservations.burst", 1,
              [](OriginConfig& c, const Value& v) { c.rate_limits.reservations.burst = v.d; }),
      RateKey("rate_limits.reads.rate_per_second", 0,
              [](OriginConfig& c, const Value& v) { c.rate_limits.reads.rate_per_second = v.d; }),
      RateKey("rate_limits.reads.burst", 1,
              [](OriginConfig& c, const Value& v) { c.rate_limits.reads.burst = v.d; }),
      RateKey("rate_limits.admin.rate_per_second", 0,
              [](OriginConfig& c, const Value& v) { c.rate_limits.admin.rate_per_second = v.d; }),
      RateKey("rate_limits.admin.burst", 1,
              [](OriginConfig& c, const Value& v) { c.rate_limits.admin.burst = v.d; }),
  };
  return settings;
}

// The final checks that span sources: some token key is required, a secret must be strong, and
// the JWK Set file is read and must hold valid public keys.
core::Status CheckComplete(OriginConfig& config) {
  // On a cluster a write is acknowledged once a replica holds it too, unless told otherwise:
  // a failover then loses no acknowledged sale.
  if (config.redis_replica_acks < 0)
    config.redis_replica_acks = config.redis_cluster.empty() ? 0 : 1;
  // EVALSHA and WAIT are one call of the Redis client, bounded by its command timeout; past it
  // the connection is dropped and every call on it fails.
  if (config.redis_replica_acks > 0 &&
      config.redis_replica_ack_timeout_ms >= config.redis_command_timeout_ms) {
    return config::Invalid("redis_replica_ack_timeout_ms (" +
                           std::to_string(config.redis_replica_ack_timeout_ms) +
                           ") must be below redis_command_timeout_ms (" +
                           std::to_string(config.redis_command_timeout_ms) + ")");
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return config::Invalid(
        "tls_cert_file and tls_key_file go together: set both to serve HTTPS, or neither");
  }
  if (!config.jwt_jwks_file.empty()) {
    std::ifstream in(config.jwt_jwks_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return config::Invalid("jwt_jwks_file " + config.jwt_jwks_file + ": cannot be read");
    auto keys = ParseJwks(text.str());
    if (!keys)
      return config::Invalid("jwt_jwks_file " + config.jwt_jwks_file + ": " + keys.error());
    config.jwt_es256_keys = std::move(keys).value();
  }
  if (config.jwt_secret.empty() && config.jwt_es256_keys.empty()) {
    return config::Invalid(
        "no token key: set STOCKGATE_JWT_SECRET to at least " + std::to_string(kMinJwtSecretBytes) +
        " random bytes (e.g. `openssl rand -base64 48`), or jwt_jwks_file to the issuer's "
        "public keys");
  }
  if (!config.jwt_secret.empty() && !JwtAuth::SecretIsStrong(config.jwt_secret)) {
    return config::Invalid("jwt_secret is too weak: " + std::to_string(config.jwt_secret.size()) +
                           " bytes, need at least " + std::to_string(kMinJwtSecretBytes));
  }
  return {};
}

// The key column of Settings(), for the loader.
const std::vector<config::Key>& Keys() {
  static const std::vector<config::Key> keys = [] {
    std::vector<config::Key> out;
    for (const Setting& s : Settings()) out.push_back(s.key);
    return out;
  }();
  return keys;
}

LoadResult Load(int argc, char** argv, const std::function<const char*(const char*)>& getenv) {
  CLI::App app(
      "stockgate origin: the authoritative inventory HTTP API.\n"
      "Settings: defaults < config file < STOCKGATE_* environment < flags; every key, its\n"
      "default and its variable are documented in stockgate-origin.example.toml. The HS256\n"
      "secret comes from STOCKGATE_JWT_SECRET (or jwt_secret), ES256 public keys from\n"
      "jwt_jwks_file.",
      "stockgate-origin");
  app.footer(
      "Other commands:\n"
      "  stockgate-origin token --role R --sub S --ttl SECONDS [--key PEM --kid K]\n"
      "      mints a token (ES256 with --key, else HS256 with STOCKGATE_JWT_SECRET)\n"
      "  stockgate-origin jwks --key PEM --kid K\n"
      "      prints the JWK Set of an issuer key, for jwt_jwks_file and the edge\n"
      "Each answers --help.");
  LoadedConfig result;
  OriginConfig& config = result.config;
  const core::Result<config::Loaded> loaded = config::Load(
      app, Keys(), "STOCKGATE_CONFIG", argc, argv, getenv,
      [&config](std::size_t i, const Value& v) { Settings()[i].apply(config, v); },
      [](std::size_t i) {
        const Setting& s = Settings()[i];
        return s.show ? s.show(OriginConfig{}) : std::string();
      });
  if (!loaded) return loaded.failure();
  result.help_requested = loaded->help_requested;
  result.help_text = loaded->help_text;
  result.warnings = loaded->warnings;
  if (result.help_requested) return result;
  config.config_file = loaded->file;
  if (config.threads == 0) config.threads = DefaultThreads(std::thread::hardware_concurrency());
  if (core::Status complete = CheckComplete(config); !complete) return complete.failure();
  return result;
}

}  // namespace

int DefaultThreads(unsigned hardware_threads) {
  return static_cast<int>(std::clamp<std::int64_t>(hardware_threads, 1, kMaxThreads));
}

const std::vector<ConfigKeyInfo>& ConfigKeys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    std::vector<ConfigKeyInfo> out;
    for (const Setting& s : Settings()) {
      out.push_back({std::string(s.key.name), config::EnvName(s.key.name),
                     s.key.flag_help.empty() ? "" : config::FlagName(s.key.name)});
    }
    return out;
  }();
  return keys;
}

LoadResult LoadConfig(int argc, char** argv,
                      const std::function<const char*(const char*)>& getenv) {
  // The boundary: nothing thrown below (JWK parsing, allocation) escapes to the caller.
  try {
    return Load(argc, argv, getenv);
  } catch (const std::exception& e) {
    return config::Invalid(std::string("configuration: ") + e.what());
  }
}

}  // namespace stockgate::server
