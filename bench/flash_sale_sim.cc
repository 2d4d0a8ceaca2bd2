// A flash sale in simulated time, through the real core: an AdmissionGate (as the edge runs it)
// in front of the reference InventoryModel (standing in for the origin), with the edge's
// snapshot refreshed from the model once per window. Buyers, bots and malformed requests arrive
// over the sale; the run prints what the edge answered, what reached the origin, and checks that
// nothing was oversold and that the ledger replays to the final state. Deterministic per seed.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "core/admission_gate.h"
#include "core/inventory_model.h"
#include "core/requests.h"

namespace stockgate::core {
namespace {

struct Options {
  std::int64_t units = 10'000;      // stock of the one SKU on sale
  std::int64_t buyers = 20'000;     // distinct shoppers; each wants one unit
  std::int64_t requests = 200'000;  // requests over the whole sale
  std::int64_t seconds = 10;        // sale duration
  std::int64_t window_ms = 250;     // edge snapshot refresh interval
  double admit_multiple = 2;        // edge admits <= ceil(available * this) per window
  double client_rate = 2;           // per-client requests per second at the edge
  double client_burst = 4;
  std::int64_t bots = 20;         // clients that hammer without pause
  double bot_share = 0.10;        // share of requests sent by bots
  double invalid_share = 0.02;    // share of malformed requests
  double abandon_share = 0.05;    // reservations never paid; they expire
  std::int64_t ttl_seconds = 2;   // hold time before an unpaid reservation expires
  std::int64_t payment_ms = 300;  // time from reservation to confirmation
  std::uint64_t seed = 1;
};

struct Counters {
  std::int64_t requests = 0, invalid = 0, rate_limited = 0, sold_out = 0, admitted = 0;
  std::int64_t reserved = 0, origin_rejected = 0;
  void Add(const Counters& o) {
    requests += o.requests;
    invalid += o.invalid;
    rate_limited += o.rate_limited;
    sold_out += o.sold_out;
    admitted += o.admitted;
    reserved += o.reserved;
    origin_rejected += o.origin_rejected;
  }
};

constexpr std::int64_t kSku = 1001;
constexpr std::int64_t kStartMs = 1'700'000'000'000;

int Run(const Options& o) {
  InventoryModel origin;
  SetStockRequest stock;
  stock.on_hand = o.units;
  origin.SetStock(kSku, stock, "admin", kStartMs);

  AdmissionConfig config;
  config.client = {o.client_rate, o.client_burst};
  config.admit_multiple = o.admit_multiple;
  config.window_ms = o.window_ms;
  config.max_hint_age_ms = 4 * o.window_ms;
  AdmissionGate edge(config);

  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<bool> done(static_cast<std::size_t>(o.buyers), false);
  std::vector<std::int64_t> attempts(static_cast<std::size_t>(o.buyers), 0);
  struct Pending {
    std::int64_t at_ms;
    std::string order_id;
  };
  std::deque<Pending> to_confirm;  // in time order: payment takes a fixed time

  std::printf(
      "flash sale: %lld units, %lld buyers, %lld arrivals over %lld s (buyers stop once they have "
      "an order)\n",
      static_cast<long long>(o.units), static_cast<long long>(o.buyers),
      static_cast<long long>(o.requests), static_cast<long long>(o.seconds));
  std::printf("%5s %9s %8s %8s %9s %9s %9s %9s %9s %7s\n", "t(s)", "requests", "invalid", "limited",
              "sold_out", "admitted", "reserved", "rejected", "available", "sold");

  Counters total, second;
  const std::int64_t duration_ms = o.seconds * 1000;
  const std::int64_t end_ms = kStartMs + duration_ms;
  std::int64_t next_snapshot = kStartMs;
  std::int64_t next_report = kStartMs + 1000;
  auto report = [&](std::int64_t now) {
    const StockResult s = origin.GetStock(kSku, now);
    std::printf(
        "%5lld %9lld %8lld %8lld %9lld %9lld %9lld %9lld %9lld %7lld\n",
        static_cast<long long>((now - kStartMs) / 1000), static_cast<long long>(second.requests),
        static_cast<long long>(second.invalid), static_cast<long long>(second.rate_limited),
        static_cast<long long>(second.sold_out), static_cast<long long>(second.admitted),
        static_cast<long long>(second.reserved), static_cast<long long>(second.origin_rejected),
        static_cast<long long>(s.stock->available), static_cast<long long>(s.stock->sold));
    total.Add(second);
    second = Counters{};
  };
  auto confirm_due = [&](std::int64_t now) {
    while (!to_confirm.empty() && to_confirm.front().at_ms <= now) {
      origin.Confirm(to_confirm.front().order_id, "payment", to_confirm.front().at_ms);
      to_confirm.pop_front();
    }
  };

  for (std::int64_t i = 0; i < o.requests; ++i) {
    const std::int64_t now = kStartMs + i * duration_ms / o.requests;
    confirm_due(now);
    while (now >= next_report) {
      report(next_report);
      next_report += 1000;
    }
    while (now >= next_snapshot) {  // the edge polls the origin's snapshot
      edge.SetAvailable(kSku, origin.GetStock(kSku, next_snapshot).stock->available, next_snapshot);
      next_snapshot += o.window_ms;
    }

    std::string client;
    std::int64_t buyer = -1;
    if (unit(rng) < o.bot_share) {
      client = "bot-" + std::to_string(rng() % static_cast<std::uint64_t>(o.bots));
    } else {
      buyer = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(o.buyers));
      if (done[static_cast<std::size_t>(buyer)]) continue;  // already has an order
      client = "buyer-" + std::to_string(buyer);
    }
    const std::string order_id =
        client + "-" + std::to_string(buyer >= 0 ? ++attempts[static_cast<std::size_t>(buyer)] : i);
    std::string body = R"({"order_id":")" + order_id + R"(","items":[{"sku":)" +
                       std::to_string(kSku) + R"(,"qty":1}],"ttl_seconds":)" +
                       std::to_string(o.ttl_seconds) + "}";
    if (unit(rng) < o.invalid_share) body = R"({"order_id":")" + order_id + R"(","items":[]})";

    ++second.requests;
    const Decision d = edge.AdmitReservation(client, body, now);
    switch (d.verdict) {
      case Verdict::kInvalid:
        ++second.invalid;
        continue;
      case Verdict::kRateLimited:
        ++second.rate_limited;
        continue;
      case Verdict::kSoldOut:
        ++second.sold_out;
        continue;
      case Verdict::kAdmit:
        ++second.admitted;
        break;
    }
    ReservationRequest request;
    ParseReservation(body, &request);
    const ReservationResult r = origin.Reserve(request, client, now);
    if (!r.ok()) {
      ++second.origin_rejected;
      continue;
    }
    ++second.reserved;
    if (buyer >= 0) done[static_cast<std::size_t>(buyer)] = true;
    if (unit(rng) >= o.abandon_share) to_confirm.push_back({now + o.payment_ms, order_id});
  }
  // Let the last payments land and the last unpaid holds expire.
  const std::int64_t settle_ms = end_ms + o.ttl_seconds * 1000 + o.payment_ms;
  confirm_due(settle_ms);
  while (next_report <= end_ms) {
    report(next_report);
    next_report += 1000;
  }
  origin.ExpireDue(settle_ms);

  const StockView s = *origin.GetStock(kSku, settle_ms).stock;
  const ReplayResult replay = InventoryModel::Replay(origin.Ledger());
  const bool replay_ok =
      replay.ok && replay.skus.at(kSku) == StockCounters{s.on_hand, s.reserved, s.sold};
  const bool conserved = s.sold + s.on_hand == o.units && s.reserved <= s.on_hand;
  const double origin_share = total.requests > 0 ? 100.0 * static_cast<double>(total.admitted) /
                                                       static_cast<double>(total.requests)
                                                 : 0;
  std::printf("\nafter the sale: sold %lld of %lld, on hand %lld, reserved %lld\n",
              static_cast<long long>(s.sold), static_cast<long long>(o.units),
              static_cast<long long>(s.on_hand), static_cast<long long>(s.reserved));
  std::printf("edge answered %lld of %lld requests itself; %.1f%% reached the origin\n",
              static_cast<long long>(total.requests - total.admitted),
              static_cast<long long>(total.requests), origin_share);
  std::printf("origin: %lld reservations, %lld refused for stock; %zu ledger events\n",
              static_cast<long long>(total.reserved), static_cast<long long>(total.origin_rejected),
              origin.Ledger().size());
  std::printf("oversold: %s; units conserved: %s; ledger replays to the final state: %s\n",
              s.sold <= o.units ? "no" : "YES", conserved ? "yes" : "NO", replay_ok ? "yes" : "NO");
  return s.sold <= o.units && conserved && replay_ok ? 0 : 1;
}

}  // namespace
}  // namespace stockgate::core

int main(int argc, char** argv) {
  stockgate::core::Options o;
  CLI::App app{"Simulates a flash sale through the stockgate core (edge gate + reference model)"};
  app.add_option("--units", o.units, "Units on sale")->check(CLI::Range(1, 1'000'000'000));
  app.add_option("--buyers", o.buyers, "Distinct buyers")->check(CLI::Range(1, 10'000'000));
  app.add_option("--requests", o.requests, "Requests in total")->check(CLI::Range(1, 100'000'000));
  app.add_option("--seconds", o.seconds, "Sale duration")->check(CLI::Range(1, 3600));
  app.add_option("--window-ms", o.window_ms, "Edge snapshot interval")
      ->check(CLI::Range(1, 60'000));
  app.add_option("--admit-multiple", o.admit_multiple, "Edge budget per window, x available");
  app.add_option("--client-rate", o.client_rate, "Per-client requests/s at the edge (<=0: off)");
  app.add_option("--client-burst", o.client_burst, "Per-client burst at the edge");
  app.add_option("--bots", o.bots, "Bot clients")->check(CLI::Range(1, 1'000'000));
  app.add_option("--bot-share", o.bot_share, "Share of requests from bots")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--invalid-share", o.invalid_share, "Share of malformed requests")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--abandon-share", o.abandon_share, "Share of reservations never paid")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--ttl-seconds", o.ttl_seconds, "Hold time")->check(CLI::Range(1, 86'400));
  app.add_option("--payment-ms", o.payment_ms, "Reservation to payment")
      ->check(CLI::Range(0, 600'000));
  app.add_option("--seed", o.seed, "Random seed");
  CLI11_PARSE(app, argc, argv);
  return stockgate::core::Run(o);
}
