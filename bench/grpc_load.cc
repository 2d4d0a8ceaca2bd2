// stockgate-grpc-load: drives seed 000's LockInventory (inventory.InventoryService, the gRPC
// call of POST /v1/reservations) at a running origin's grpc_listen address, keeping N calls in
// flight on gRPC's callback client, and prints one JSON object in stockgate-origin-load's shape:
// requests, ok, errors by status, seconds, rps, p50_ms, p99_ms, mean_ms. Every call locks one
// unit of one SKU under a lock_key never used before in the run ("<prefix>-<slot>-<i>"), so each
// success is a new hold. The calls share --channels HTTP/2 connections (as a client's channel
// pool would). The token (role service) comes from --token or STOCKGATE_BENCH_TOKEN.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/load_stats.h"
#include "inventory/inventory.grpc.pb.h"

namespace stockgate::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 9090;
  int concurrency = 32;
  int channels = 4;
  std::int64_t requests = 0;  // total; 0: no limit
  double duration_s = 10;     // 0: no limit
  std::string token;
  std::int64_t sku = 1;
  std::string order_prefix = "bench";
  int ttl_seconds = 900;
  int timeout_ms = 5000;
};

class Load {
 public:
  explicit Load(const Options& o) : o_(o) {
    for (int i = 0; i < std::max(o.channels, 1); ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
      args.SetInt("stockgate.channel", i);                 // not shared with the others
      stubs_.push_back(inventory::InventoryService::NewStub(grpc::CreateCustomChannel(
          o.host + ":" + std::to_string(o.port), grpc::InsecureChannelCredentials(), args)));
    }
  }

  // Runs until a limit is reached and every call has answered; the report.
  json Run() {
    const double cpu_before = CpuSeconds();
    started_ = Clock::now();
    deadline_ = started_ + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o_.duration_s));
    active_ = o_.concurrency;
    for (int slot = 0; slot < o_.concurrency; ++slot) Issue(slot, 0);
    {
      std::unique_lock lock(mu_);
      done_cv_.wait(lock, [&] { return active_ == 0; });
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    std::sort(latency_.begin(), latency_.end());
    std::int64_t requests = 0;
    for (const auto& [k, v] : outcomes_) requests += v;
    const std::int64_t ok = outcomes_.count("OK") ? outcomes_["OK"] : 0;
    json errors = json::object();
    for (const auto& [k, v] : outcomes_) {
      if (k != "OK") errors[k] = v;
    }
    double mean_ms = 0;
    for (const auto ns : latency_) mean_ms += static_cast<double>(ns) / 1e6;
    if (!latency_.empty()) mean_ms /= static_cast<double>(latency_.size());
    return {{"concurrency", o_.concurrency},
            {"channels", o_.channels},
            {"requests", requests},
            {"ok", ok},
            {"errors", errors},
            {"seconds", seconds},
            {"rps", seconds > 0 ? static_cast<double>(ok) / seconds : 0},
            {"p50_ms", QuantileMs(latency_, 0.50)},
            {"p99_ms", QuantileMs(latency_, 0.99)},
            {"mean_ms", mean_ms},
            {"max_ms", latency_.empty() ? 0 : static_cast<double>(latency_.back()) / 1e6},
            {"client_cpu_seconds", CpuSeconds() - cpu_before}};
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    inventory::LockInventoryRequest request;
    inventory::LockInventoryResponse response;
    Clock::time_point sent;
  };

  bool MayIssue() {
    if (o_.duration_s > 0 && Clock::now() >= deadline_) return false;
    if (o_.requests > 0 && issued_.fetch_add(1) >= o_.requests) return false;
    return true;
  }

  void Issue(int slot, std::int64_t i) {
    if (!MayIssue()) {
      std::lock_guard lock(mu_);
      if (--active_ == 0) done_cv_.notify_all();
      return;
    }
    auto call = std::make_shared<Call>();
    if (!o_.token.empty()) call->ctx.AddMetadata("authorization", "Bearer " + o_.token);
    call->ctx.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(o_.timeout_ms));
    call->request.set_lock_key(o_.order_prefix + "-" + std::to_string(slot) + "-" +
                               std::to_string(i));
    call->request.set_timeout_seconds(o_.ttl_seconds);
    auto* item = call->request.add_items();
    item->set_product_id(o_.sku);
    item->set_quantity(1);
    call->sent = Clock::now();
    auto& stub = stubs_[static_cast<std::size_t>(slot) % stubs_.size()];
    stub->async()->LockInventory(&call->ctx, &call->request, &call->response,
                                 [this, call, slot, i](grpc::Status status) {
                                   Record(*call, status);
                                   Issue(slot, i + 1);
                                 });
  }

  void Record(const Call& call, const grpc::Status& status) {
    const std::int64_t ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - call.sent).count();
    std::string outcome = "OK";
    if (!status.ok()) {
      outcome = "status:" + std::to_string(static_cast<int>(status.error_code()));
    } else if (!call.response.success()) {
      outcome = "refused";  // insufficient stock
    }
    std::lock_guard lock(mu_);
    latency_.push_back(ns);
    ++outcomes_[outcome];
  }

  const Options& o_;
  std::vector<std::unique_ptr<inventory::InventoryService::Stub>> stubs_;
  Clock::time_point started_;
  Clock::time_point deadline_;
  std::atomic<std::int64_t> issued_{0};
  std::mutex mu_;
  std::condition_variable done_cv_;
  int active_ = 0;
  std::vector<std::int64_t> latency_;
  std::map<std::string, std::int64_t> outcomes_;
};

}  // namespace
}  // namespace stockgate::bench

int main(int argc, char** argv) {
  stockgate::bench::Options o;
  CLI::App app{
      "Drives LockInventory (gRPC) at a stockgate origin and prints JSON: requests, ok, errors "
      "by status, seconds, rps, p50_ms, p99_ms. Exits 1 unless every call succeeded."};
  app.add_option("--host", o.host, "Origin host")->capture_default_str();
  app.add_option("--port", o.port, "The origin's gRPC port")
      ->required()
      ->check(CLI::Range(1, 65535));
  app.add_option("--concurrency,-c", o.concurrency, "Calls in flight")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--channels", o.channels, "HTTP/2 connections the calls share")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--requests,-n", o.requests, "Calls in all, 0 for no limit")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--duration,-d", o.duration_s, "Seconds to run, 0 for no limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--token", o.token, "Bearer token of role service (or STOCKGATE_BENCH_TOKEN)");
  app.add_option("--sku", o.sku, "SKU every call locks one unit of")->capture_default_str();
  app.add_option("--order-prefix", o.order_prefix, "Prefix of the lock keys")
      ->capture_default_str();
  app.add_option("--ttl", o.ttl_seconds, "timeout_seconds of each lock")->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "Deadline of each call")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.token.empty()) {
    if (const char* t = std::getenv("STOCKGATE_BENCH_TOKEN")) o.token = t;
  }
  if (o.requests == 0 && o.duration_s == 0) {
    std::fprintf(stderr, "stockgate-grpc-load: give --requests or --duration\n");
    return 2;
  }
  stockgate::bench::Load load(o);
  const nlohmann::json report = load.Run();
  std::printf("%s\n", report.dump().c_str());
  return report["ok"] == report["requests"] && report["requests"].get<std::int64_t>() > 0 ? 0 : 1;
}
