// stockgate-origin: reads the configuration, wires the parts, serves. Also
// `stockgate-origin token --role R --sub S --ttl SECONDS [--key PEM --kid K]`, which mints a JWT
// for operators and tests (ES256 with an issuer's private key, else HS256 with the secret from
// STOCKGATE_JWT_SECRET), and `stockgate-origin jwks --key PEM --kid K`, which prints the public
// JWK Set of an issuer key for the origin's jwt_jwks_file and the edge.
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "origin/grpc/grpc_server.h"
#include "origin/history/mariadb_history.h"
#include "origin/log/log.h"
#include "origin/server/api.h"
#include "origin/server/assets.h"
#include "origin/server/config.h"
#include "origin/server/event_hub.h"
#include "origin/server/http_server.h"
#include "origin/server/jwt_auth.h"
#include "origin/store/recovery.h"
#include "origin/store/redis_cluster.h"
#include "origin/store/redis_inventory_store.h"

namespace stockgate {
namespace {

using nlohmann::json;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* Getenv(const char* name) { return std::getenv(name); }

// The text of a file, or nullopt.
std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return std::nullopt;
  return text.str();
}

int MintToken(int argc, char** argv) {
  CLI::App app{
      "Mints a token: ES256 with an issuer's private key (--key, --kid), else HS256 with the "
      "secret in STOCKGATE_JWT_SECRET"};
  std::string role_name, sub, key_file, kid;
  std::int64_t ttl = 3600;
  app.add_option("--role", role_name, "admin | service | viewer | buyer")->required();
  app.add_option("--sub", sub, "Subject: who the token is for (a buyer: the customer id)")
      ->required();
  app.add_option("--ttl", ttl, "Lifetime in seconds")->check(CLI::Range(1, 31'536'000));
  app.add_option("--key", key_file, "P-256 private key (PEM) to sign ES256 with")
      ->type_name("FILE");
  app.add_option("--kid", kid, "Key id the verifiers' JWK Set names that key by");
  CLI11_PARSE(app, argc, argv);
  const auto role = server::RoleFromName(role_name);
  if (!role) {
    std::fprintf(stderr, "token: unknown role %s (admin | service | viewer | buyer)\n",
                 role_name.c_str());
    return 2;
  }
  const server::Claims claims{sub, *role, NowMs() / 1000 + ttl};
  const auto mint = [&]() -> core::Result<std::string> {
    if (!key_file.empty()) {
      const std::optional<std::string> pem = ReadFile(key_file);
      if (!pem) return core::Fail(core::Code::kInvalidRequest, "cannot read " + key_file);
      return server::JwtAuth::MintEs256(claims, *pem, kid);
    }
    const char* secret = std::getenv("STOCKGATE_JWT_SECRET");
    if (secret == nullptr || !server::JwtAuth::SecretIsStrong(secret)) {
      return core::Fail(core::Code::kInvalidRequest,
                        "give --key and --kid, or set STOCKGATE_JWT_SECRET to at least " +
                            std::to_string(server::kMinJwtSecretBytes) + " bytes");
    }
    return server::JwtAuth(secret).Mint(claims);
  };
  const core::Result<std::string> token = mint();
  if (!token) {
    std::fprintf(stderr, "token: %s\n", token.error().c_str());
    return 2;
  }
  std::printf("%s\n", token->c_str());
  return 0;
}

// Prints the JWK Set verifiers need for an issuer's private key.
int PrintJwks(int argc, char** argv) {
  CLI::App app{"Prints the public JWK Set of a P-256 private key, for jwt_jwks_file and the edge"};
  std::string key_file, kid;
  app.add_option("--key", key_file, "P-256 private key (PEM)")->required()->type_name("FILE");
  app.add_option("--kid", kid, "Key id its tokens carry")->required();
  CLI11_PARSE(app, argc, argv);
  const std::optional<std::string> pem = ReadFile(key_file);
  if (!pem) {
    std::fprintf(stderr, "jwks: cannot read %s\n", key_file.c_str());
    return 2;
  }
  const core::Result<std::string> jwk = server::JwtAuth::PublicJwk(*pem, kid);
  if (!jwk) {
    std::fprintf(stderr, "jwks: %s\n", jwk.error().c_str());
    return 2;
  }
  std::printf("{\"keys\":[%s]}\n", jwk->c_str());
  return 0;
}

int Serve(int argc, char** argv) {
  const server::LoadResult loaded = server::LoadConfig(argc, argv, Getenv);
  if (!loaded) {
    std::fprintf(stderr, "stockgate-origin: %s\n", loaded.error().c_str());
    return 2;
  }
  if (loaded->help_requested) {
    std::printf("%s", loaded->help_text.c_str());
    return 0;
  }
  const server::OriginConfig& c = loaded->config;
  log::Configure(*log::ParseLevel(c.log_level));  // the loader checked the name
  for (const std::string& w : loaded->warnings) log::Warn("deprecated setting", {{"detail", w}});

  // Block the stop signals in every thread; one thread waits for them and stops the server.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  store::RedisConfig redis;
  redis.host = c.redis_host;
  redis.port = c.redis_port;
  redis.pool_size = c.redis_pool_size;
  redis.username = c.redis_user;
  if (const char* password = Getenv("STOCKGATE_REDIS_PASSWORD")) redis.password = password;
  redis.connect_timeout_ms = c.redis_connect_timeout_ms;
  redis.command_timeout_ms = c.redis_command_timeout_ms;
  // Every request shares these connections: calls in flight together go out in one write and
  // share Redis's fsync (group commit). On a cluster, each node has such a pipeline.
  const std::unique_ptr<store::RedisClient> redis_client =
      store::MakeRedisClient(redis, c.redis_cluster, /*pipelined=*/true);
  store::RedisClient& pool = *redis_client;
  store::RedisStoreConfig store_config{c.redis_key_prefix};
  store_config.partitions = c.redis_partitions;
  store_config.batching.replica_acks = c.redis_replica_acks;
  store_config.batching.replica_ack_timeout_ms = c.redis_replica_ack_timeout_ms;
  store::RedisInventoryStore store(pool, store_config);
  // Keys of an earlier layout would be invisible to the store: refuse them rather than sell
  // beside them. An unreachable Redis is not a reason to stay down (readiness reports it).
  if (const core::Status layout = store::CheckKeyspaceLayout(pool, c.redis_key_prefix);
      layout.code() == core::Code::kInvalidState) {
    log::Error("cannot start", {{"error", layout.error()}});
    return 2;
  } else if (!layout) {
    log::Warn("keyspace layout not checked", {{"error", layout.error()}});
  }
  // The partition count fixes where every key is: another count would sell from the wrong keys.
  if (const core::Status count =
          store::CheckPartitionCount(pool, c.redis_key_prefix, c.redis_partitions);
      count.code() == core::Code::kInvalidState) {
    log::Error("cannot start", {{"error", count.error()}});
    return 2;
  } else if (!count) {
    log::Warn("partition count not checked", {{"error", count.error()}});
  }
  server::JwtAuth auth(
      server::VerificationKeys{.hs256_secret = c.jwt_secret, .es256 = c.jwt_es256_keys});

  prometheus::Registry registry;
  server::HttpMetrics http_metrics(registry);
  auto& redis_failures =
      prometheus::BuildCounter()
          .Name("stockgate_redis_failures_total")
          .Help(
              "Redis calls that failed without an answer, by kind: connect, command "
              "(transport), backoff (refused by the open breaker), overloaded")
          .Register(registry);
  auto& redis_sent = prometheus::BuildCounter()
                         .Name("stockgate_redis_pipeline_total")
                         .Help(
                             "Calls sent to Redis and the writes that carried them; "
                             "calls / writes is the pipeline's mean batch size")
                         .Register(registry);
  auto& store_batches = prometheus::BuildCounter()
                            .Name("stockgate_store_batch_total")
                            .Help(
                                "Store operations and the script batches that carried them to "
                                "Redis (operations / batches is the mean batch size), and "
                                "operations refused unsent because too many were waiting")
                            .Register(registry);
  std::mutex stats_mu;
  store::RedisStats reported{};
  store::OpBatcher::Stats reported_batches{};
  auto render_metrics = [&] {
    {
      // Client statistics are cumulative; move the counters by what happened since last time.
      std::lock_guard lock(stats_mu);
      struct Row {
        prometheus::Family<prometheus::Counter>* family;
        const char* label;
        const char* value;
        long long now, before;
      };
      const auto pipe = pool.stats();
      const auto batches = store.batch_stats();
      const Row rows[] = {
          {&redis_failures, "kind", "connect", pipe.connect_failures, reported.connect_failures},
          {&redis_failures, "kind", "command", pipe.command_failures, reported.command_failures},
          {&redis_failures, "kind", "backoff", pipe.fast_failures, reported.fast_failures},
          {&redis_failures, "kind", "overloaded", pipe.overloaded, reported.overloaded},
          {&redis_sent, "what", "calls", pipe.commands, reported.commands},
          {&redis_sent, "what", "writes", pipe.writes, reported.writes},
          {&store_batches, "what", "operations", batches.ops, reported_batches.ops},
          {&store_batches, "what", "batches", batches.batches, reported_batches.batches},
          {&store_batches, "what", "refused", batches.refused, reported_batches.refused}};
      for (const Row& r : rows) {
        r.family->Add({{r.label, r.value}}).Increment(static_cast<double>(r.now - r.before));
      }
      reported = pipe;
      reported_batches = batches;
    }
    return prometheus::TextSerializer().Serialize(registry.Collect());
  };

  server::ApiConfig api_config;
  api_config.public_stock_reads = c.public_stock_reads;
  api_config.max_adjustment = c.max_adjustment;
  api_config.low_stock_threshold = c.low_stock_threshold;
  api_config.reservation_limit = c.rate_limits.reservations;
  api_config.read_limit = c.rate_limits.reads;
  api_config.admin_limit = c.rate_limits.admin;
  api_config.client_capacity = c.rate_limits.client_capacity;
  api_config.openapi_json = server::OpenApiJson();
  api_config.swagger_ui_js = server::SwaggerUiJs();
  api_config.swagger_ui_css = server::SwaggerUiCss();
  std::unique_ptr<history::MariaDbHistory> history;
  if (!c.mysql_uri.empty()) {
    history::MySqlConfig mysql = history::ParseMySqlUri(c.mysql_uri).value();  // LoadConfig checked
    if (const char* password = Getenv("STOCKGATE_MYSQL_PASSWORD")) mysql.password = password;
    mysql.read_timeout_s = 2;  // a history read that takes longer is answered with 503
    mysql.write_timeout_s = 2;
    mysql.pool_size = 8;
    history = std::make_unique<history::MariaDbHistory>(mysql);
  }
  server::Api api(
      store, history.get(), auth, api_config, [&pool] { return pool.Ping(); }, render_metrics);

  server::ServerOptions options;
  options.host = c.listen_host;
  options.port = c.listen_port;
  options.reuse_port = c.listen_reuse_port;
  options.tls_cert_file = c.tls_cert_file;
  options.tls_key_file = c.tls_key_file;
  options.threads = c.threads;
  options.read_timeout_ms = c.read_timeout_ms;
  options.write_timeout_ms = c.write_timeout_ms;
  options.keep_alive_max_count = c.keep_alive_max_count;
  options.log_requests = c.log_requests == "all"    ? server::ServerOptions::RequestLog::kAll
                         : c.log_requests == "none" ? server::ServerOptions::RequestLog::kNone
                                                    : server::ServerOptions::RequestLog::kErrors;
  server::EventHub events(store, server::EventHubOptions{}, NowMs, &registry);
  events.Start();
  server::HttpServer http(api, http_metrics, &events, options, NowMs);
  const int port = http.Bind();
  if (port < 0) return 1;
  // The seeds' gRPC services, through the same Api.
  std::unique_ptr<grpcapi::GrpcServer> grpc;
  if (!c.grpc_listen.empty()) {
    const server::HostPort at = server::ParseHostPort(c.grpc_listen).value();  // LoadConfig checked
    grpcapi::GrpcOptions grpc_options;
    grpc_options.host = at.host;
    grpc_options.port = at.port;
    if (!c.tls_cert_file.empty()) {
      // The HTTP listener has loaded and checked these files; gRPC never falls back to plain.
      const std::optional<std::string> cert = ReadFile(c.tls_cert_file);
      const std::optional<std::string> key = ReadFile(c.tls_key_file);
      if (!cert || !key) {
        log::Error("cannot serve gRPC", {{"error", "cannot read tls_cert_file or tls_key_file"}});
        return 1;
      }
      grpc_options.tls_cert_pem = *cert;
      grpc_options.tls_key_pem = *key;
    }
    grpc = std::make_unique<grpcapi::GrpcServer>(
        api, grpc_options, NowMs, [&pool] { return pool.Ping(); }, &registry);
    if (grpc->Start() < 0) return 1;
  }

  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log::Info("stopping", {{"signal", sig}});
    events.Stop();  // ends the event streams, which would otherwise hold workers open
    if (grpc) grpc->Stop();
    http.Stop();
  });
  log::Info("listening",
            {{"listen", c.listen_host + ":" + std::to_string(port)},
             {"scheme", c.tls_cert_file.empty() ? "http" : "https"},
             {"grpc", c.grpc_listen.empty() ? std::string("off") : c.grpc_listen},
             {"redis", c.redis_cluster.empty() ? c.redis_host + ":" + std::to_string(c.redis_port)
                                               : "cluster " + store::NodeList(c.redis_cluster)},
             {"replica_acks", c.redis_replica_acks},
             {"partitions", c.redis_partitions},
             {"threads", c.threads},
             {"config", c.config_file}});
  const bool served = http.Serve();
  // Wake the stopper if the server ended on its own.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  // Calls still in flight at Redis finish now, while the store, the API and the server their
  // callbacks reach still exist (they go in reverse order of declaration, the pipeline last).
  pool.Close();
  return served ? 0 : 1;
}

}  // namespace
}  // namespace stockgate

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "token") {
    return stockgate::MintToken(argc - 1, argv + 1);
  }
  if (argc > 1 && std::string_view(argv[1]) == "jwks") {
    return stockgate::PrintJwks(argc - 1, argv + 1);
  }
  return stockgate::Serve(argc, argv);
}
