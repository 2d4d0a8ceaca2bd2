// Decisions per second of the core, natively: the same operations core_bench.mjs times through
// the wasm builds, on the same inputs, so the two rates can be divided.
#include <benchmark/benchmark.h>

#include <string>

#include "core/admission_gate.h"
#include "core/requests.h"

namespace stockgate::core {
namespace {

// The reference request: a two-item reservation, as an order service sends it.
const std::string kBody =
    R"({"order_id":"order-000123","items":[{"sku":1001,"qty":1},{"sku":1002,"qty":2}],)"
    R"("ttl_seconds":900,"customer_id":"cust-42"})";

void BM_ValidateReservation(benchmark::State& state) {
  for (auto _ : state) {
    const Problem p = Validate(RequestKind::kReservation, kBody);
    benchmark::DoNotOptimize(p.code);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateReservation);

// Sold-out path: valid request, fresh snapshot says 0 left. What the edge does most in a sale.
void BM_AdmitSoldOut(benchmark::State& state) {
  AdmissionConfig config;
  config.client = {0, 1};
  AdmissionGate gate(config);
  gate.SetAvailable(1001, 0, 0);
  for (auto _ : state) {
    const Decision d = gate.AdmitReservation("client-7", kBody, 1);
    benchmark::DoNotOptimize(d.verdict);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdmitSoldOut);

// Admit path with many distinct clients: bucket lookups miss, insert and evict.
void BM_AdmitManyClients(benchmark::State& state) {
  AdmissionConfig config;
  config.client = {5, 10};
  config.client_capacity = 10'000;
  AdmissionGate gate(config);
  std::string client = "client-00000000";
  std::uint32_t i = 0;
  for (auto _ : state) {
    ++i;
    for (int d = 0; d < 8; ++d) client[client.size() - 1 - d] = static_cast<char>('0' + ((i >> (3 * d)) & 7));
    const Decision dec = gate.AdmitReservation(client, kBody, 1);
    benchmark::DoNotOptimize(dec.verdict);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdmitManyClients);

}  // namespace
}  // namespace stockgate::core

BENCHMARK_MAIN();
