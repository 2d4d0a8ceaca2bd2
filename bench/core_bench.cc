// Decisions per second of the core, natively: the same operations core_bench.mjs times through
// the wasm builds, on the same inputs and gate configurations, so the two rates can be divided.
// Rates are per CPU second (Google Benchmark's default), as in core_bench.mjs. Each benchmark
// checks its verdict once before timing; a wrong verdict is reported as an error (which
// bench.native_smoke fails on).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "core/admission_gate.h"
#include "core/requests.h"

namespace stockgate::core {
namespace {

// The reference request: a two-item reservation, as an order service sends it.
const std::string kBody =
    R"({"order_id":"order-000123","items":[{"sku":1001,"qty":1},{"sku":1002,"qty":2}],)"
    R"("ttl_seconds":900,"customer_id":"cust-42"})";

// Fixed so both sides hash client ids alike; core_bench.mjs passes the same four words.
constexpr HashSeed kSeed{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

bool Expect(benchmark::State& state, Verdict got, Verdict want) {
  if (got == want) return true;
  const std::string message =
      "verdict " + std::string(VerdictName(got)) + ", expected " + std::string(VerdictName(want));
  state.SkipWithError(message.c_str());
  return false;
}

void BM_ValidateReservation(benchmark::State& state) {
  if (const Problem p = Validate(RequestKind::kReservation, kBody); !p.ok()) {
    state.SkipWithError("reference body does not validate");
    return;
  }
  for (auto _ : state) {
    const Problem p = Validate(RequestKind::kReservation, kBody);
    benchmark::DoNotOptimize(p.code);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateReservation);

// Sold-out path: valid request, fresh snapshot says SKU 1001 has 0 left, client buckets
// unlimited. What the edge does most during a sale.
void BM_AdmitSoldOut(benchmark::State& state) {
  AdmissionConfig config;
  config.client = {0, 1};
  config.seed = kSeed;
  AdmissionGate gate(config);
  gate.SetAvailable(1001, 0, 0);
  if (!Expect(state, gate.AdmitReservation("client-7", kBody, 1).verdict, Verdict::kSoldOut)) {
    return;
  }
  for (auto _ : state) {
    const Decision d = gate.AdmitReservation("client-7", kBody, 1);
    benchmark::DoNotOptimize(d.verdict);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdmitSoldOut);

// Admit path with a new client every call ("client-" + the low 24 bits of a counter as 8 octal
// digits): each bucket lookup misses, inserts and, past 10,000 clients, evicts. No snapshot, so
// the SKUs fail open and every request is admitted.
void BM_AdmitManyClients(benchmark::State& state) {
  AdmissionConfig config;
  config.client = {5, 10};
  config.client_capacity = 10'000;
  config.seed = kSeed;
  AdmissionGate gate(config);
  if (!Expect(state, gate.AdmitReservation("client-x", kBody, 1).verdict, Verdict::kAdmit)) {
    return;
  }
  std::string client = "client-00000000";
  std::uint32_t i = 0;
  for (auto _ : state) {
    ++i;
    for (int d = 0; d < 8; ++d) {
      client[client.size() - 1 - d] = static_cast<char>('0' + ((i >> (3 * d)) & 7));
    }
    const Decision dec = gate.AdmitReservation(client, kBody, 1);
    benchmark::DoNotOptimize(dec.verdict);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdmitManyClients);

}  // namespace
}  // namespace stockgate::core

BENCHMARK_MAIN();
