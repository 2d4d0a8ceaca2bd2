// stockgate-origin-load: drives POST /v1/reservations at a running origin (or an edge in front
// of one) over N keep-alive connections (one thread and one persistent httplib::Client each) and
// prints one JSON object: how many requests were answered, by status and by X-Stockgate-Edge
// verdict, the rate of successful reservations and of all answers, and the latency percentiles.
// Every request reserves one unit of one SKU under an order_id never used before in the run
// ("<prefix>-<connection>-<i>"), so each 201 is a real new hold; --invalid sends a body every
// validator refuses instead. --clients N spreads the requests over N X-Client-Id values. The
// token (role service) comes from --token or STOCKGATE_BENCH_TOKEN; mint one with
// `stockgate-origin token --role service --sub bench --ttl 3600`.
//
// With --alternate-port the same requests go to two servers in turns: the run is cut into slices
// of --slice-ms, the even slices' requests go to --port and the odd ones' to --alternate-port, and
// each answer counts for the slice its request was sent in. Two servers measured that way meet the
// same machine within one slice of each other, so a slow minute of the machine falls on both
// alike. The report is that of --port's requests, with "alternate" holding the same report for
// --alternate-port's, the ratio of the two servers' rates over the run's whole pairs of slices,
// and each pair's answers with the expected status ([--port's, --alternate-port's]). A request
// still being answered when the turn changes is answered in the other server's slice.
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/load_stats.h"

namespace stockgate::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  int connections = 32;
  // The run ends when either limit is reached; 0 turns a limit off.
  std::int64_t requests = 0;  // total over all connections
  double duration_s = 10;
  std::string token;
  std::int64_t sku = 1;
  std::string order_prefix = "bench";
  int ttl_seconds = 900;
  int timeout_ms = 5000;     // connect, read and write timeout of each request
  std::int64_t clients = 0;  // X-Client-Id values to spread requests over; 0: no such header
  bool invalid = false;      // send a body that validation refuses (qty 0)
  int expect_status = 201;   // the exit status is 0 only if every request got this
  // "identity" asks for uncompressed answers; cpp-httplib's client would otherwise offer br and
  // gzip, and the server would compress every ~300-byte answer.
  std::string accept_encoding = "identity";
  int alternate_port = 0;           // 0: one server only
  int alternate_expect_status = 0;  // the alternate server's expected status; 0: expect_status
  int slice_ms = 250;               // the length of each server's turn
};

// At most this many pairs of slices in one run (a counter each per connection and server).
constexpr double kMaxPairs = 100'000;

// The two servers of a run: 0 is --port, 1 is --alternate-port (unused without it).
constexpr int kTargets = 2;

// What one connection saw.
struct ConnectionResult {
  std::vector<std::int64_t> latency_ns;          // of every answered request, in send order
  std::map<std::string, std::int64_t> outcomes;  // HTTP status, or "transport:<error>"
  std::map<std::string, std::int64_t> edge;      // X-Stockgate-Edge values, when present
  std::vector<std::int64_t> pair_ok;             // answers with the expected status by pair
};

// A keep-alive client to the origin, connected by one GET /healthz.
std::unique_ptr<httplib::Client> Connect(const Options& o, int port, std::string* error) {
  auto client = std::make_unique<httplib::Client>(o.host, port);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  const auto timeout = std::chrono::milliseconds(o.timeout_ms);
  client->set_connection_timeout(timeout);
  client->set_read_timeout(timeout);
  client->set_write_timeout(timeout);
  // Any answer will do: the request only opens the connection (an edge or a rate limiter in
  // front may well refuse it).
  const httplib::Result res = client->Get("/healthz");
  if (!res) {
    *error = "GET /healthz failed: " + httplib::to_string(res.error());
    return nullptr;
  }
  return client;
}

// The status the server `target` should answer with.
int ExpectedStatus(const Options& o, int target) {
  return target == 1 && o.alternate_expect_status != 0 ? o.alternate_expect_status
                                                       : o.expect_status;
}

// Waits for the start, then sends reservations until the run's request budget or `deadline` (set
// with `started` before `start` opens) is reached: on clients[0] into out[0], or, with
// --alternate-port, on the client of each slice's server into its result.
void RunConnection(const Options& o, int connection,
                   const std::array<httplib::Client*, kTargets>& clients,
                   std::atomic<std::int64_t>& claimed, const Clock::time_point& started,
                   const Clock::time_point& deadline, std::latch& start,
                   const std::array<ConnectionResult*, kTargets>& out) {
  httplib::Headers headers = {{"Accept-Encoding", o.accept_encoding}};
  if (!o.token.empty()) headers.emplace("Authorization", "Bearer " + o.token);
  const std::string body_head =
      R"({"order_id":")" + o.order_prefix + "-" + std::to_string(connection) + "-";
  const std::string body_tail =
      R"(","items":[{"sku":)" + std::to_string(o.sku) +
      (o.invalid ? R"(,"qty":0}],"ttl_seconds":)" : R"(,"qty":1}],"ttl_seconds":)") +
      std::to_string(o.ttl_seconds) + "}";
  if (o.requests > 0) {
    out[0]->latency_ns.reserve(static_cast<std::size_t>(o.requests / o.connections + 1));
  }
  const auto slice =
      std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(o.slice_ms));
  start.wait();

  for (std::int64_t i = 0;; ++i) {
    if (o.requests > 0 && claimed.fetch_add(1, std::memory_order_relaxed) >= o.requests) break;
    const auto sent = Clock::now();
    if (o.duration_s > 0 && sent >= deadline) break;
    const std::string body = body_head + std::to_string(i) + body_tail;
    if (o.clients > 0) {
      // Request i of connection c goes out as client (c + i * connections) mod N.
      std::string id = "c";
      id += std::to_string((connection + i * o.connections) % o.clients);
      headers.erase("X-Client-Id");
      headers.emplace("X-Client-Id", std::move(id));
    }
    std::size_t slice_index = 0;
    int target = 0;
    if (o.alternate_port != 0) {
      slice_index = static_cast<std::size_t>((sent - started) / slice);
      target = static_cast<int>(slice_index % kTargets);
    }
    ConnectionResult& r = *out[static_cast<std::size_t>(target)];
    const httplib::Result res = clients[static_cast<std::size_t>(target)]->Post(
        "/v1/reservations", headers, body, "application/json");
    const auto answered = Clock::now();
    if (res) {
      r.latency_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(answered - sent).count());
      ++r.outcomes[std::to_string(res->status)];
      if (res->has_header("X-Stockgate-Edge")) {
        ++r.edge[res->get_header_value("X-Stockgate-Edge")];
      }
      if (res->status == ExpectedStatus(o, target) && slice_index / kTargets < r.pair_ok.size()) {
        ++r.pair_ok[slice_index / kTargets];
      }
    } else {
      ++r.outcomes["transport:" + httplib::to_string(res.error())];
    }
  }
}

// The report of one server's requests from what every connection saw of it; `seconds` is the
// time its requests were sent in.
json Summarize(const std::vector<ConnectionResult>& results, int expect_status, double seconds) {
  std::vector<std::int64_t> latency;
  std::map<std::string, std::int64_t> outcomes;
  std::map<std::string, std::int64_t> edge;
  for (const auto& r : results) {
    latency.insert(latency.end(), r.latency_ns.begin(), r.latency_ns.end());
    for (const auto& [k, v] : r.outcomes) outcomes[k] += v;
    for (const auto& [k, v] : r.edge) edge[k] += v;
  }
  std::sort(latency.begin(), latency.end());
  std::int64_t requests = 0;
  for (const auto& [k, v] : outcomes) requests += v;
  const std::string expected = std::to_string(expect_status);
  const std::int64_t ok = outcomes.count(expected) ? outcomes[expected] : 0;
  json errors = json::object();
  for (const auto& [k, v] : outcomes) {
    if (k != expected) errors[k] = v;
  }
  std::int64_t answered = 0;
  json statuses = json::object();
  for (const auto& [k, v] : outcomes) {
    statuses[k] = v;
    if (k.rfind("transport:", 0) != 0) answered += v;
  }
  double mean_ms = 0;
  for (const auto ns : latency) mean_ms += static_cast<double>(ns) / 1e6;
  if (!latency.empty()) mean_ms /= static_cast<double>(latency.size());
  return {
      {"connections", results.size()},
      {"requests", requests},
      {"ok", ok},
      {"errors", errors},
      {"seconds", seconds},
      {"rps", seconds > 0 ? static_cast<double>(ok) / seconds : 0},
      {"statuses", statuses},
      {"edge", edge},
      {"answered_rps", seconds > 0 ? static_cast<double>(answered) / seconds : 0},
      {"p50_ms", QuantileMs(latency, 0.50)},
      {"p99_ms", QuantileMs(latency, 0.99)},
      {"mean_ms", mean_ms},
      {"max_ms", latency.empty() ? 0 : static_cast<double>(latency.back()) / 1e6},
  };
}

// Answers with the expected status in pair `index` of slices, over all connections.
std::int64_t PairOk(const std::vector<ConnectionResult>& results, std::size_t index) {
  std::int64_t n = 0;
  for (const auto& r : results) n += r.pair_ok[index];
  return n;
}

int Run(const Options& o) {
  const bool alternate = o.alternate_port != 0;
  const int targets = alternate ? kTargets : 1;
  const std::array<int, kTargets> ports = {o.port, o.alternate_port};
  // Alternating runs whole pairs of slices, so each server is sent requests for the same time.
  const auto pairs =
      alternate ? static_cast<std::size_t>(o.duration_s * 1000 / (2.0 * o.slice_ms)) : 0;
  const double run_s =
      alternate ? static_cast<double>(pairs) * 2 * o.slice_ms / 1000 : o.duration_s;
  std::array<std::vector<ConnectionResult>, kTargets> results;
  for (auto& per_target : results) {
    per_target.resize(static_cast<std::size_t>(o.connections));
    for (auto& r : per_target) r.pair_ok.assign(pairs, 0);
  }
  std::vector<std::thread> threads;
  std::atomic<std::int64_t> claimed{0};
  // Connections are opened one at a time before the clock starts. cpp-httplib 0.11 listens with
  // a backlog of 5: connecting all at once overflows the accept queue, and the measurement would
  // then include 1 s SYN retransmits and reset connections rather than reservations.
  std::array<std::vector<std::unique_ptr<httplib::Client>>, kTargets> clients;
  for (int t = 0; t < targets; ++t) {
    for (int c = 0; c < o.connections; ++c) {
      std::string error;
      auto& list = clients[static_cast<std::size_t>(t)];
      list.push_back(Connect(o, ports[static_cast<std::size_t>(t)], &error));
      if (!list.back()) {
        std::fprintf(stderr, "stockgate-origin-load: port %d, connection %d: %s\n",
                     ports[static_cast<std::size_t>(t)], c, error.c_str());
        return 1;
      }
    }
  }
  std::latch start(1);
  Clock::time_point started;
  Clock::time_point deadline;
  for (int c = 0; c < o.connections; ++c) {
    const auto i = static_cast<std::size_t>(c);
    const std::array<httplib::Client*, kTargets> mine = {clients[0][i].get(),
                                                         alternate ? clients[1][i].get() : nullptr};
    const std::array<ConnectionResult*, kTargets> into = {&results[0][i], &results[1][i]};
    threads.emplace_back(
        [&, c, mine, into] { RunConnection(o, c, mine, claimed, started, deadline, start, into); });
  }
  const double cpu_before = CpuSeconds();
  started = Clock::now();
  deadline =
      started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(run_s));
  start.count_down();
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const double cpu_seconds = CpuSeconds() - cpu_before;

  json report = Summarize(results[0], o.expect_status, alternate ? run_s / 2 : seconds);
  report["client_cpu_seconds"] = cpu_seconds;
  bool all_expected = report["ok"] == report["requests"] && report["requests"] > 0;
  if (alternate) {
    json other = Summarize(results[1], ExpectedStatus(o, 1), run_s / 2);
    all_expected = all_expected && other["ok"] == other["requests"] && other["requests"] > 0;
    json pair_ok = json::array();
    for (std::size_t k = 0; k < pairs; ++k) {
      pair_ok.push_back({PairOk(results[0], k), PairOk(results[1], k)});
    }
    const double rps0 = report["rps"];
    const double rps1 = other["rps"];
    report["alternate"] = {
        {"port", o.alternate_port}, {"slice_ms", o.slice_ms},
        {"pairs", pairs},           {"ratio", rps0 > 0 ? rps1 / rps0 : 0},
        {"pair_ok", pair_ok},       {"report", other},
    };
  }
  std::printf("%s\n", report.dump().c_str());
  return all_expected ? 0 : 1;
}

}  // namespace
}  // namespace stockgate::bench

int main(int argc, char** argv) {
  stockgate::bench::Options o;
  CLI::App app{
      "Drives POST /v1/reservations at a stockgate origin over keep-alive connections and prints "
      "JSON: requests, ok (answers with --expect-status), errors and statuses by status, edge "
      "verdicts, seconds, rps (ok per second), answered_rps, p50_ms, p99_ms, and with "
      "--alternate-port the same for the second server's turns under \"alternate\". Exits 1 "
      "unless every request got its expected status."};
  app.add_option("--host", o.host, "Origin host")->capture_default_str();
  app.add_option("--port", o.port, "Origin port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--connections,-c", o.connections, "Concurrent keep-alive connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--requests,-n", o.requests,
                 "Total requests, 0 for no limit; the run ends at --requests or --duration, "
                 "whichever comes first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--duration,-d", o.duration_s, "Seconds to run, 0 for no limit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--token", o.token, "Bearer token of role service; empty: no Authorization")
      ->envname("STOCKGATE_BENCH_TOKEN");
  app.add_option("--sku", o.sku, "SKU every request reserves one unit of")->capture_default_str();
  app.add_option("--order-prefix", o.order_prefix,
                 "order_id prefix; ids are <prefix>-<connection>-<i>, unique within one run")
      ->capture_default_str();
  app.add_option("--ttl", o.ttl_seconds, "ttl_seconds of each hold")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--timeout-ms", o.timeout_ms, "Connect, read and write timeout per request")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  app.add_option("--accept-encoding", o.accept_encoding, "Accept-Encoding header sent")
      ->capture_default_str();
  app.add_option("--clients", o.clients, "Spread requests over this many X-Client-Id values")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--invalid", o.invalid, "Send bodies that validation refuses (qty 0)");
  app.add_option("--expect-status", o.expect_status,
                 "The status every request should get; ok and rps count it (default 201)")
      ->capture_default_str()
      ->check(CLI::Range(100, 599));
  CLI::Option* alternate =
      app.add_option(
             "--alternate-port", o.alternate_port,
             "A second server: the run's slices go to --port and to this port in turns, and "
             "the report's \"alternate\" holds this server's report and the ratio of the rates")
          ->check(CLI::Range(1, 65535));
  app.add_option(
         "--alternate-expect-status", o.alternate_expect_status,
         "The status every request to --alternate-port should get (default --expect-status)")
      ->check(CLI::Range(100, 599))
      ->needs(alternate);
  app.add_option("--slice-ms", o.slice_ms, "Length of each server's turn with --alternate-port")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000))
      ->needs(alternate);
  CLI11_PARSE(app, argc, argv);
  if (o.requests == 0 && o.duration_s <= 0) {
    std::fprintf(stderr, "stockgate-origin-load: give --requests or --duration\n");
    return 2;
  }
  if (o.alternate_port != 0 &&
      (o.requests != 0 || o.alternate_port == o.port || o.duration_s * 1000 < 2.0 * o.slice_ms ||
       o.duration_s * 1000 / (2.0 * o.slice_ms) > stockgate::bench::kMaxPairs)) {
    std::fprintf(stderr,
                 "stockgate-origin-load: --alternate-port is another port than --port, runs for "
                 "--duration (at least one and at most %.0f pairs of --slice-ms) and takes no "
                 "--requests\n",
                 stockgate::bench::kMaxPairs);
    return 2;
  }
  return stockgate::bench::Run(o);
}
