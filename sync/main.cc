// stockgate-sync: reads the configuration, wires the parts, runs. `run` (the default) drains the
// outbox stream into MariaDB and sweeps expired holds until SIGINT/SIGTERM; `check`, `repair`,
// `rebuild` and `migrate` are the operator commands of docs/operations.md.
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <pthread.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "origin/config/loader.h"
#include "origin/history/mysql_config.h"
#include "origin/history/schema.h"
#include "origin/log/log.h"
#include "origin/store/recovery.h"
#include "origin/store/redis_cluster.h"
#include "origin/store/redis_inventory_store.h"
#include "sync/ingester.h"
#include "sync/metrics.h"
#include "sync/outbox.h"
#include "sync/reconcile.h"
#include "sync/sweeper.h"

namespace stockgate::sync {
namespace {

using nlohmann::json;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string redis = "127.0.0.1:6379";  // as given, for the log
  std::string redis_host = "127.0.0.1";
  std::uint16_t redis_port = 6379;
  std::vector<store::ClusterNode> redis_cluster;  // empty: the one Redis above
  std::string redis_user;                         // "": the default user
  std::string redis_key_prefix = "sg";
  int redis_partitions = 1;
  int redis_timeout_ms = 500;
  std::string mysql = "mysql://root@127.0.0.1:3306/stockgate";
  std::string consumer;
  int batch_size = 500;
  std::int64_t claim_idle_ms = 10'000;
  int sweep_interval_ms = 200;
  std::int64_t retention_seconds = 7 * 86400;  // 0: finished orders' records stay in Redis
  int stats_interval_ms = 5'000;
  std::string metrics_listen;  // "" = no metrics listener
  std::string actor = "repair";
  std::string log_level = "info";
};

using config::Kind;
using config::Value;

core::Status CheckListen(std::string_view listen) {
  if (listen.empty()) return {};  // no listener
  if (core::Result<config::HostPort> hp = config::ParseHostPort(listen); !hp) return hp.failure();
  return {};
}

// One row of the key table: what the key accepts, and where its value goes, in the order of the
// example file.
struct Setting {
  config::Key key;
  void (*apply)(Options&, const Value&) = nullptr;
  std::string (*show)(const Options&) = nullptr;  // the value as --help shows the default
};

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> settings = {
      {{.name = "redis",
        .flag_help = "Address of Redis",
        .flag_value = "HOST:PORT",
        .kind = Kind::kHostPort},
       [](Options& o, const Value& v) {
         o.redis_host = v.host_port.host;
         o.redis_port = v.host_port.port;
         o.redis = v.host_port.host + ":" + std::to_string(v.host_port.port);
       },
       [](const Options& o) { return o.redis; }},
      {{.name = "redis_cluster",
        .flag_help = "Seed nodes of a Redis Cluster to use instead of --redis",
        .flag_value = "HOST:PORT,...",
        .check = config::CheckHostPortList},
       [](Options& o, const Value& v) {
         const core::Result<std::vector<config::HostPort>> seeds = config::ParseHostPortList(v.s);
         o.redis_cluster.clear();
         for (const config::HostPort& hp : *seeds) o.redis_cluster.push_back({hp.host, hp.port});
       },
       [](const Options& o) {
         return o.redis_cluster.empty() ? std::string("none") : store::NodeList(o.redis_cluster);
       }},
      {{.name = "redis_key_prefix",
        .flag_help = "Key prefix shared with the origin",
        .flag_value = "PREFIX",
        .check = store::CheckKeyPrefix,
        .old_name = "redis-prefix"},
       [](Options& o, const Value& v) { o.redis_key_prefix = v.s; },
       [](const Options& o) { return o.redis_key_prefix; }},
      {{.name = "redis_partitions",
        .flag_help = "Partitions of the keyspace, as the origins have them",
        .flag_value = "N",
        .kind = Kind::kInt,
        .min_int = 1,
        .max_int = store::kMaxPartitions},
       [](Options& o, const Value& v) { o.redis_partitions = static_cast<int>(v.i); },
       [](const Options& o) { return std::to_string(o.redis_partitions); }},
      {{.name = "redis_user",
        .flag_help = "Redis ACL user; the password comes from STOCKGATE_REDIS_PASSWORD",
        .flag_value = "USER",
        .check = store::CheckRedisUser},
       [](Options& o, const Value& v) { o.redis_user = v.s; },
       [](const Options& o) {
         return o.redis_user.empty() ? std::string("default") : o.redis_user;
       }},
      {{.name = "redis_timeout_ms",
        .flag_help = "Bound on each Redis command",
        .flag_value = "MS",
        .kind = Kind::kInt,
        .min_int = 50,
        .max_int = 60'000,
        .old_name = "redis-timeout-ms"},
       [](Options& o, const Value& v) { o.redis_timeout_ms = static_cast<int>(v.i); },
       [](const Options& o) { return std::to_string(o.redis_timeout_ms); }},
      {{.name = "mysql",
        .flag_help = "MariaDB; the password comes from STOCKGATE_MYSQL_PASSWORD",
        .flag_value = "mysql://USER@HOST:PORT/DB[?socket=PATH|tls-ca=PATH]",
        .check = history::CheckMySqlUri},
       [](Options& o, const Value& v) { o.mysql = v.s; },
       [](const Options& o) { return o.mysql; }},
      {{.name = "consumer",
        .flag_help = "Name in the consumer group (default HOST-PID)",
        .flag_value = "NAME"},
       [](Options& o, const Value& v) { o.consumer = v.s; },
       [](const Options&) { return std::string("HOST-PID"); }},
      {{.name = "batch_size",
        .flag_help = "Outbox entries per MariaDB transaction",
        .flag_value = "N",
        .kind = Kind::kInt,
        .min_int = 1,
        .max_int = 10'000,
        .old_name = "batch-size"},
       [](Options& o, const Value& v) { o.batch_size = static_cast<int>(v.i); },
       [](const Options& o) { return std::to_string(o.batch_size); }},
      {{.name = "claim_idle_ms",
        .flag_help = "Take over entries another consumer left unacknowledged this long",
        .flag_value = "MS",
        .kind = Kind::kInt,
        .min_int = 100,
        .max_int = 3'600'000,
        .old_name = "claim-idle-ms"},
       [](Options& o, const Value& v) { o.claim_idle_ms = v.i; },
       [](const Options& o) { return std::to_string(o.claim_idle_ms); }},
      {{.name = "sweep_interval_ms",
        .flag_help = "Expire due holds this often; 0 turns the sweeper off",
        .flag_value = "MS",
        .kind = Kind::kInt,
        .min_int = 0,
        .max_int = 60'000,
        .old_name = "sweep-interval-ms"},
       [](Options& o, const Value& v) { o.sweep_interval_ms = static_cast<int>(v.i); },
       [](const Options& o) { return std::to_string(o.sweep_interval_ms); }},
      {{.name = "retention_seconds",
        .flag_help = "Remove finished orders' records from Redis this long after they finished "
                     "(once in the history); 0 keeps them",
        .flag_value = "S",
        .kind = Kind::kInt,
        .min_int = 0,
        .max_int = 10LL * 366 * 86400},
       [](Options& o, const Value& v) { o.retention_seconds = v.i; },
       [](const Options& o) { return std::to_string(o.retention_seconds); }},
      {{.name = "stats_interval_ms",
        .flag_help = "Log throughput and lag, and update the metrics, this often",
        .flag_value = "MS",
        .kind = Kind::kInt,
        .min_int = 100,
        .max_int = 3'600'000,
        .old_name = "stats-interval-ms"},
       [](Options& o, const Value& v) { o.stats_interval_ms = static_cast<int>(v.i); },
       [](const Options& o) { return std::to_string(o.stats_interval_ms); }},
      {{
           .name = "metrics_listen",
           .flag_help =
               "run: serve Prometheus metrics on http://HOST:PORT/metrics (off when empty)",
           .flag_value = "HOST:PORT",
           .check = CheckListen,
       },
       [](Options& o, const Value& v) { o.metrics_listen = v.s; },
       [](const Options& o) {
         return o.metrics_listen.empty() ? std::string("off") : o.metrics_listen;
       }},
      {{.name = "actor",
        .flag_help = "repair: the actor of compensating events",
        .flag_value = "NAME"},
       [](Options& o, const Value& v) { o.actor = v.s; },
       [](const Options& o) { return o.actor; }},
      {{.name = "log_level",
        .flag_help = "Least severe level written",
        .flag_value = "LEVEL",
        .check = log::CheckLevel,
        .old_name = "log-level"},
       [](Options& o, const Value& v) { o.log_level = v.s; },
       [](const Options& o) { return o.log_level; }},
  };
  return settings;
}

// Percentile of samples (sorted in place), 0 when there are none.
std::int64_t Percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Every partition's counters together; the events counted are the same as the latest run's.
IngestStats TakeAllStats(const std::vector<std::unique_ptr<Ingester>>& ingesters) {
  IngestStats all;
  for (const auto& ingester : ingesters) {
    IngestStats s = ingester->TakeStats();
    all.events += s.events;
    all.duplicates += s.duplicates;
    all.records += s.records;
    all.batches += s.batches;
    all.claimed += s.claimed;
    all.write_failures += s.write_failures;
    all.read_failures += s.read_failures;
    all.malformed += s.malformed;
    all.lag_ms.insert(all.lag_ms.end(), s.lag_ms.begin(), s.lag_ms.end());
  }
  return all;
}

// Every partition's backlog summed; failed when any could not be measured.
core::Result<Outbox::Backlog> MeasureAll(const std::vector<std::unique_ptr<Outbox>>& outboxes) {
  Outbox::Backlog all;
  all.undelivered = 0;
  bool unknown = false;
  for (const auto& outbox : outboxes) {
    const core::Result<Outbox::Backlog> b = outbox->Measure();
    if (!b) return b;
    all.length += b->length;
    all.pending += b->pending;
    unknown = unknown || b->undelivered < 0;
    all.undelivered += b->undelivered;
  }
  if (unknown) all.undelivered = -1;
  return all;
}

int RunDaemon(const Options& o, store::RedisClient& pool, const history::MySqlConfig& mysql) {
  // The stop signals are blocked since main began (threads inherit that); this thread takes them.
  const sigset_t stop_signals = StopSignals();
  std::atomic<bool> stop{false};

  store::RedisStoreConfig store_config(o.redis_key_prefix);
  store_config.partitions = o.redis_partitions;
  store::RedisInventoryStore store(pool, store_config);
  // One outbox and one ingester per partition, drained by up to kIngestThreads threads: a thread
  // with one partition waits in XREADGROUP for new entries; one with several polls them in turn.
  constexpr int kIngestThreads = 8;
  const int threads = std::min(o.redis_partitions, kIngestThreads);
  std::vector<std::unique_ptr<Outbox>> outboxes;
  std::vector<std::unique_ptr<Ingester>> ingesters;
  for (int p = 0; p < o.redis_partitions; ++p) {
    outboxes.push_back(std::make_unique<Outbox>(pool, o.redis_key_prefix, "sync", p));
    IngestConfig ingest;
    ingest.consumer = o.consumer;
    ingest.batch_size = o.batch_size;
    ingest.claim_idle_ms = o.claim_idle_ms;
    ingest.block_ms =
        o.redis_partitions > threads ? 0 : std::max(10, std::min(100, o.redis_timeout_ms / 3));
    ingesters.push_back(std::make_unique<Ingester>(*outboxes.back(), mysql, ingest, NowMs));
  }
  Sweeper sweeper(store, o.sweep_interval_ms, NowMs);
  if (o.retention_seconds > 0 && o.sweep_interval_ms == 0) {
    log::Warn("retention needs the sweeper: with sweep_interval_ms = 0 no record leaves Redis",
              {{"retention_seconds", o.retention_seconds}});
  }
  if (o.retention_seconds > 0) {
    sweeper.SetRetention(
        [&store, &outboxes, retention_ms = o.retention_seconds * 1000](std::int64_t now) {
          const core::Result<std::int64_t> r = RetireSynced(store, outboxes, retention_ms, now);
          if (r.ok()) return *r;
          log::Warn("retention did not run", {{"error", r.error()}});
          return std::int64_t{-1};
        },
        10'000);
  }

  auto registry = std::make_shared<prometheus::Registry>();
  SyncMetrics metrics(*registry);
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!o.metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(o.metrics_listen);
    } catch (const std::exception& e) {
      log::Error("cannot listen", {{"metrics_listen", o.metrics_listen}, {"error", e.what()}});
      return 1;
    }
    exposer->RegisterCollectable(registry);
  }

  std::thread sweep_thread;
  if (o.sweep_interval_ms > 0) sweep_thread = std::thread([&] { sweeper.Run(stop); });
  // The schema first; while MariaDB is unreachable keep trying (the stream holds the backlog
  // and the sweeper runs regardless).
  std::atomic<bool> schema_ready{false};
  std::thread schema_thread([&] {
    for (int attempt = 0; !stop.load(); ++attempt) {
      const core::Result<std::vector<int>> m = history::ApplyMigrations(mysql);
      if (m.ok()) {
        for (const int v : *m) {
          log::Info("migration applied", {{"version", v}});
        }
        schema_ready = true;
        return;
      }
      if (attempt % 20 == 0) {
        log::Warn("mariadb not ready", {{"error", m.error()}});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  std::vector<std::thread> ingest_threads;
  for (int t = 0; t < threads; ++t) {
    ingest_threads.emplace_back([&, t] {
      while (!stop.load() && !schema_ready.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::vector<std::string> last_errors(ingesters.size());
      while (!stop.load()) {
        bool busy = false;
        bool failed = false;
        for (std::size_t p = static_cast<std::size_t>(t); p < ingesters.size();
             p += static_cast<std::size_t>(threads)) {
          Ingester& ingester = *ingesters[p];
          const Ingester::Step step = ingester.RunOnce();
          std::string& last_error = last_errors[p];
          if (step == Ingester::Step::kRedisDown || step == Ingester::Step::kMySqlDown) {
            failed = true;
            if (ingester.last_error() != last_error) {
              last_error = ingester.last_error();
              log::Warn("ingest paused", {{"partition", p}, {"error", last_error}});
            }
          } else {
            busy = busy || step == Ingester::Step::kWrote;
            if (!last_error.empty()) {
              log::Info("ingest resumed", {{"partition", p}});
              last_error.clear();
            }
          }
        }
        if (failed) {
          std::this_thread::sleep_for(std::chrono::milliseconds(250));
        } else if (!busy && ingesters.size() > static_cast<std::size_t>(threads)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
  }
  std::thread stats_thread([&] {
    auto last = std::chrono::steady_clock::now();
    std::int64_t last_events = 0;
    while (!stop.load()) {
      for (int slept = 0; slept < o.stats_interval_ms && !stop.load(); slept += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      IngestStats s = TakeAllStats(ingesters);
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - last).count();
      last = now;
      const core::Result<Outbox::Backlog> b = MeasureAll(outboxes);
      metrics.Update(s, {.expired = sweeper.expired(), .failures = sweeper.failures()}, b);
      log::Info("sync stats",
                {{"events", s.events},
                 {"events_per_s", static_cast<double>(s.events - last_events) / seconds},
                 {"duplicates", s.duplicates},
                 {"records", s.records},
                 {"batches", s.batches},
                 {"claimed", s.claimed},
                 {"lag_p50_ms", Percentile(s.lag_ms, 0.50)},
                 {"lag_p99_ms", Percentile(s.lag_ms, 0.99)},
                 {"stream_length", b.ok() ? b->length : -1},
                 {"pending", b.ok() ? b->pending : -1},
                 {"undelivered", b.ok() ? b->undelivered : -1},
                 {"expired", sweeper.expired()},
                 {"retired", sweeper.retired()},
                 {"sweep_failures", sweeper.failures()},
                 {"write_failures", s.write_failures},
                 {"read_failures", s.read_failures},
                 {"malformed", s.malformed}});
      last_events = s.events;
    }
  });
  log::Info(
      "sync started",
      {{"consumer", o.consumer},
       {"metrics_listen", o.metrics_listen},
       {"redis", o.redis_cluster.empty() ? o.redis : "cluster " + store::NodeList(o.redis_cluster)},
       {"prefix", o.redis_key_prefix},
       {"partitions", o.redis_partitions},
       {"mysql_host", mysql.socket.empty() ? mysql.host : mysql.socket},
       {"database", mysql.database}});
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info("stopping", {{"signal", sig}});
  stop = true;
  schema_thread.join();
  for (std::thread& t : ingest_threads) t.join();
  if (sweep_thread.joinable()) sweep_thread.join();
  stats_thread.join();
  return 0;
}

int Main(int argc, char** argv) {
  // Blocked from the start, so a stop request that arrives while the daemon is starting is kept
  // for its sigwait instead of killing it half-way; the one-shot commands unblock them below.
  const sigset_t stop_signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  CLI::App app{
      "stockgate-sync: exactly-once history in MariaDB, hold expiry, reconciliation.\n"
      "Settings: defaults < config file < STOCKGATE_* environment < flags; every key, its\n"
      "default and its variable are documented in stockgate-sync.example.toml."};
  app.fallthrough();
  Options o;
  app.add_subcommand("run",
                     "Drain the outbox into MariaDB and sweep expired holds "
                     "(the default)");
  auto* check = app.add_subcommand(
      "check", "Compare Redis, MariaDB inventory and the ledger; exit 1 on any drift");
  auto* repair = app.add_subcommand(
      "repair", "Fix drift with compensating ledger events (and recompute inventory rows)");
  auto* rebuild = app.add_subcommand("rebuild", "Restore Redis from MariaDB after data loss");
  auto* migrate = app.add_subcommand(
      "migrate",
      "Apply the MariaDB schema migrations, set up the parts' database users whose passwords "
      "STOCKGATE_MYSQL_{ORIGIN,SYNC,MIGRATE}_PASSWORD give, and exit");
  app.require_subcommand(0, 1);
  std::vector<config::Key> keys;
  for (const Setting& s : Settings()) keys.push_back(s.key);
  const core::Result<config::Loaded> loaded = config::Load(
      app, keys, "STOCKGATE_SYNC_CONFIG", argc, argv, [](const char* n) { return std::getenv(n); },
      [&o](std::size_t i, const Value& v) { Settings()[i].apply(o, v); },
      [](std::size_t i) {
        const Setting& s = Settings()[i];
        return s.show ? s.show(Options{}) : std::string();
      });
  if (!loaded) {
    std::fprintf(stderr, "stockgate-sync: %s\n", loaded.error().c_str());
    return 2;
  }
  if (loaded->help_requested) {
    std::printf("%s", loaded->help_text.c_str());
    return 0;
  }
  log::Configure(*log::ParseLevel(o.log_level));  // the loader checked the name
  for (const std::string& w : loaded->warnings) log::Warn("deprecated setting", {{"detail", w}});

  store::RedisConfig redis;
  redis.host = o.redis_host;
  redis.port = o.redis_port;
  redis.pool_size = 4;
  redis.username = o.redis_user;
  if (const char* pw = std::getenv("STOCKGATE_REDIS_PASSWORD")) redis.password = pw;
  redis.command_timeout_ms = o.redis_timeout_ms;
  // The operator commands read the whole keyspace and stream in one script.
  if (*check || *repair || *rebuild)
    redis.command_timeout_ms = std::max(o.redis_timeout_ms, 60'000);
  core::Result<history::MySqlConfig> parsed_mysql = history::ParseMySqlUri(o.mysql);
  if (!parsed_mysql) {
    std::fprintf(stderr, "stockgate-sync: --mysql: %s\n", parsed_mysql.error().c_str());
    return 2;
  }
  history::MySqlConfig mysql = std::move(parsed_mysql).value();
  if (const char* pw = std::getenv("STOCKGATE_MYSQL_PASSWORD")) mysql.password = pw;
  // Operator commands read whole tables; give them time.
  if (*migrate || *check || *repair || *rebuild) {
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    mysql.read_timeout_s = 60;
    mysql.write_timeout_s = 60;
  }
  if (o.consumer.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    o.consumer = std::string(host) + "-" + std::to_string(getpid());
  }

  if (*migrate) {
    const core::Result<std::vector<int>> m = history::ApplyMigrations(mysql);
    if (!m) {
      std::fprintf(stderr, "stockgate-sync migrate: %s\n", m.error().c_str());
      return 2;
    }
    std::printf("migrations applied: %zu (schema has %zu)\n", m->size(),
                history::Migrations().size());
    // The parts' own users, for each password given (never on the command line).
    std::vector<history::DatabaseUser> users;
    for (const auto& [role, variable] :
         {std::pair{history::DatabaseRole::kOrigin, "STOCKGATE_MYSQL_ORIGIN_PASSWORD"},
          std::pair{history::DatabaseRole::kSync, "STOCKGATE_MYSQL_SYNC_PASSWORD"},
          std::pair{history::DatabaseRole::kMigrate, "STOCKGATE_MYSQL_MIGRATE_PASSWORD"}}) {
      const char* password = std::getenv(variable);
      if (password != nullptr && *password != '\0') users.push_back({role, password});
    }
    if (!users.empty()) {
      if (const core::Status made = history::EnsureDatabaseUsers(mysql, users); !made) {
        std::fprintf(stderr, "stockgate-sync migrate: %s\n", made.error().c_str());
        return 2;
      }
      for (const history::DatabaseUser& u : users) {
        std::printf("database user %s: set\n",
                    std::string(history::DatabaseUserName(u.role)).c_str());
      }
    }
    return 0;
  }
  // Calls that block (the consumer's XREADGROUP) each take a connection of their own; on a
  // cluster, of the node serving the key.
  const std::unique_ptr<store::RedisClient> redis_client =
      store::MakeRedisClient(redis, o.redis_cluster, /*pipelined=*/false);
  store::RedisClient& pool = *redis_client;
  // Keys of an earlier layout would be invisible here: refuse them rather than report them as
  // lost or sync beside them. An unreachable Redis is not a reason to stay down (each command
  // reports it as it goes).
  if (const core::Status layout = store::CheckKeyspaceLayout(pool, o.redis_key_prefix);
      layout.code() == core::Code::kInvalidState) {
    std::fprintf(stderr, "stockgate-sync: %s\n", layout.error().c_str());
    return 2;
  } else if (!layout) {
    log::Warn("keyspace layout not checked", {{"error", layout.error()}});
  }
  // The partition count fixes where every key is: a count other than the keyspace's would
  // read and write the wrong places.
  if (const core::Status count =
          store::CheckPartitionCount(pool, o.redis_key_prefix, o.redis_partitions);
      count.code() == core::Code::kInvalidState) {
    std::fprintf(stderr, "stockgate-sync: %s\n", count.error().c_str());
    return 2;
  } else if (!count) {
    log::Warn("partition count not checked", {{"error", count.error()}});
  }
  if (*check) {
    const core::Result<CheckReport> checked =
        Check(pool, o.redis_key_prefix, mysql, NowMs(), o.redis_partitions);
    if (!checked) {
      std::fprintf(stderr, "stockgate-sync check: %s\n", checked.error().c_str());
      return 2;
    }
    const CheckReport& r = *checked;
    for (const Drift& d : r.drifts) std::printf("drift: %s\n", d.Describe().c_str());
    std::printf(
        "checked %lld skus, %lld history events, %lld events not yet synced, %lld live "
        "holds: %zu drift(s)\n",
        static_cast<long long>(r.skus), static_cast<long long>(r.history_events),
        static_cast<long long>(r.stream_events), static_cast<long long>(r.live_holds),
        r.drifts.size());
    return r.drifts.empty() ? 0 : 1;
  }
  if (*repair) {
    const core::Result<RepairReport> repaired =
        Repair(pool, o.redis_key_prefix, mysql, o.actor, NowMs(), o.redis_partitions);
    if (!repaired) {
      std::fprintf(stderr, "stockgate-sync repair: %s\n", repaired.error().c_str());
      return 2;
    }
    const RepairReport& r = *repaired;
    for (const std::string& a : r.actions) std::printf("repaired: %s\n", a.c_str());
    for (const Drift& d : r.unrepaired) {
      std::printf("not repaired (needs an operator): %s\n", d.Describe().c_str());
    }
    std::printf("%zu fix(es), %zu left\n", r.actions.size(), r.unrepaired.size());
    return r.unrepaired.empty() ? 0 : 1;
  }
  if (*rebuild) {
    const core::Result<RebuildReport> rebuilt = Rebuild(
        pool, o.redis_key_prefix, mysql, NowMs(), o.redis_partitions, o.retention_seconds * 1000);
    if (!rebuilt) {
      std::fprintf(stderr, "stockgate-sync rebuild: %s\n", rebuilt.error().c_str());
      return 2;
    }
    const RebuildReport& r = *rebuilt;
    for (const std::string& w : r.warnings) std::printf("warning: %s\n", w.c_str());
    std::printf(
        "rebuilt %lld skus, %lld reservations (%lld live holds; %lld past retention left in the "
        "history), %lld adjustment keys; stream continues after %s\n",
        static_cast<long long>(r.skus), static_cast<long long>(r.reservations),
        static_cast<long long>(r.live_holds), static_cast<long long>(r.past_retention),
        static_cast<long long>(r.adjustments), r.last_event.c_str());
    return 0;
  }
  return RunDaemon(o, pool, mysql);
}

}  // namespace
}  // namespace stockgate::sync

int main(int argc, char** argv) { return stockgate::sync::Main(argc, argv); }
