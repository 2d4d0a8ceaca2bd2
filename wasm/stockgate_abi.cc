// The whole JavaScript-facing ABI of the stockgate core, for both wasm builds (wasm32-wasi for the
// edge, emscripten for the browser). Only numbers and pointer+length cross it: strings go in as
// UTF-8 bytes the caller copied into memory from stockgate_alloc; details of the last call come
// back through the stockgate_result_* accessors. Functions return int status codes (core::Code
// or core::Verdict values); nothing throws. The module is single-threaded, as wasm instances are.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/admission_gate.h"
#include "core/requests.h"
#include "core/status.h"

#if defined(__EMSCRIPTEN__)
#include <emscripten/emscripten.h>
#define SG_EXPORT(name) extern "C" EMSCRIPTEN_KEEPALIVE
#elif defined(__wasm__)
#define SG_EXPORT(name) extern "C" __attribute__((export_name(#name)))
#else  // native: a plain C symbol, so host tests and tools can call the same ABI
#define SG_EXPORT(name) extern "C"
#endif

namespace {

using stockgate::core::AdmissionConfig;
using stockgate::core::AdmissionGate;
using stockgate::core::Code;
using stockgate::core::Decision;
using stockgate::core::Problem;
using stockgate::core::RequestKind;
using stockgate::core::Verdict;

// 2: stockgate_result_body_serial; 3: stockgate_gate_confirm_hints
constexpr std::int32_t kAbiVersion = 3;
constexpr std::int32_t kBadArgument = -1;  // returned by calls whose arguments are unusable
constexpr int kMaxGates = 16;

// What the last validate / gate call found; read back through stockgate_result_*. The error
// body is serialized only when asked for, so the hot reject path pays for JSON output only when
// the caller actually sends it.
struct LastResult {
  Decision decision;
  std::string body;
  bool body_ready = false;
  // The decision `body` was serialized from: an equal decision has the same body, so a flood of
  // one rejection is serialized once.
  Decision body_decision;
  // Changes each time `body` changes, so a caller that kept its own copy of a body can tell it
  // still holds this one (stockgate_result_body_serial).
  std::uint32_t body_serial = 0;
};

LastResult g_result;
std::unique_ptr<AdmissionGate> g_gates[kMaxGates];

std::string_view View(const char* data, std::uint32_t len) {
  return data == nullptr ? std::string_view() : std::string_view(data, len);
}

AdmissionGate* Gate(std::int32_t handle) {
  if (handle < 1 || handle > kMaxGates) return nullptr;
  return g_gates[handle - 1].get();
}

std::int32_t SetResult(Decision&& d) {
  g_result.decision = std::move(d);
  g_result.body_ready = false;
  return static_cast<std::int32_t>(g_result.decision.verdict);
}

void SetResult(Problem&& p) {
  Decision d;
  d.verdict = p.ok() ? Verdict::kAdmit : Verdict::kInvalid;
  d.code = p.code;
  d.problem = std::move(p);
  SetResult(std::move(d));
}

const std::string& Body() {
  if (!g_result.body_ready) {
    if (!(g_result.decision == g_result.body_decision)) {
      std::string body = stockgate::core::DecisionBody(g_result.decision);
      if (body != g_result.body) {
        g_result.body = std::move(body);
        ++g_result.body_serial;
      }
      g_result.body_decision = g_result.decision;
    }
    g_result.body_ready = true;
  }
  return g_result.body;
}

}  // namespace

SG_EXPORT(stockgate_abi_version) std::int32_t stockgate_abi_version() { return kAbiVersion; }

SG_EXPORT(stockgate_alloc) void* stockgate_alloc(std::uint32_t size) {
  return std::malloc(size == 0 ? 1 : size);
}

SG_EXPORT(stockgate_free) void stockgate_free(void* ptr) { std::free(ptr); }

// Wire name of a code as a NUL-terminated string in module memory.
SG_EXPORT(stockgate_code_name) const char* stockgate_code_name(std::int32_t code) {
  return stockgate::core::CodeName(static_cast<Code>(code)).data();
}

SG_EXPORT(stockgate_code_http_status) std::int32_t stockgate_code_http_status(std::int32_t code) {
  return stockgate::core::HttpStatus(static_cast<Code>(code));
}

SG_EXPORT(stockgate_max_body_bytes) std::uint32_t stockgate_max_body_bytes() {
  return static_cast<std::uint32_t>(stockgate::core::kMaxBodyBytes);
}

// Validates input as a request kind (core::RequestKind); returns the core::Code.
SG_EXPORT(stockgate_validate)
std::int32_t stockgate_validate(std::int32_t kind, const char* input, std::uint32_t len) {
  if (kind < 1 || kind > 8) return kBadArgument;
  SetResult(stockgate::core::Validate(static_cast<RequestKind>(kind), View(input, len)));
  return static_cast<std::int32_t>(g_result.decision.code);
}

// Creates an admission gate; returns its handle (1..16) or kBadArgument. Rates are per second
// (<= 0: unlimited); the four seed words make the secret SipHash key for client ids.
SG_EXPORT(stockgate_gate_new)
std::int32_t stockgate_gate_new(double client_rate, double client_burst, double sku_rate,
                                double sku_burst, std::uint32_t client_capacity,
                                std::uint32_t sku_capacity, double admit_multiple, double window_ms,
                                double max_hint_age_ms, std::uint32_t seed0, std::uint32_t seed1,
                                std::uint32_t seed2, std::uint32_t seed3) {
  if (client_capacity == 0 || sku_capacity == 0 || !(window_ms >= 1) || !(max_hint_age_ms >= 0)) {
    return kBadArgument;
  }
  AdmissionConfig config;
  config.client = {client_rate, client_burst};
  config.sku = {sku_rate, sku_burst};
  config.client_capacity = client_capacity;
  config.sku_capacity = sku_capacity;
  config.admit_multiple = admit_multiple;
  config.window_ms = static_cast<std::int64_t>(window_ms);
  config.max_hint_age_ms = static_cast<std::int64_t>(max_hint_age_ms);
  config.seed = {(std::uint64_t{seed0} << 32) | seed1, (std::uint64_t{seed2} << 32) | seed3};
  for (int i = 0; i < kMaxGates; ++i) {
    if (!g_gates[i]) {
      g_gates[i] = std::make_unique<AdmissionGate>(config);
      return i + 1;
    }
  }
  return kBadArgument;
}

SG_EXPORT(stockgate_gate_free) void stockgate_gate_free(std::int32_t handle) {
  if (Gate(handle) != nullptr) g_gates[handle - 1].reset();
}

// Records a snapshot value: `available` units of sku at now_ms. Returns 0 or kBadArgument.
SG_EXPORT(stockgate_gate_set_available)
std::int32_t stockgate_gate_set_available(std::int32_t handle, double sku, double available,
                                          double now_ms) {
  AdmissionGate* gate = Gate(handle);
  if (gate == nullptr || !(sku >= 1 && sku <= static_cast<double>(stockgate::core::kMaxSku)) ||
      !(available >= 0 && available <= 9e15)) {
    return kBadArgument;
  }
  gate->SetAvailable(static_cast<std::int64_t>(sku), static_cast<std::int64_t>(available),
                     static_cast<std::int64_t>(now_ms));
  return 0;
}

// A snapshot delta taken at now_ms confirmed every hint set since since_ms that it did not change
// (AdmissionGate::ConfirmHints). Returns 0 or kBadArgument.
SG_EXPORT(stockgate_gate_confirm_hints)
std::int32_t stockgate_gate_confirm_hints(std::int32_t handle, double now_ms, double since_ms) {
  AdmissionGate* gate = Gate(handle);
  if (gate == nullptr || !(since_ms <= now_ms) || !(since_ms >= -9e15) || !(now_ms <= 9e15)) {
    return kBadArgument;
  }
  gate->ConfirmHints(static_cast<std::int64_t>(now_ms), static_cast<std::int64_t>(since_ms));
  return 0;
}

// Decides on a POST /v1/reservations body from a client; returns the core::Verdict.
SG_EXPORT(stockgate_gate_admit_reservation)
std::int32_t stockgate_gate_admit_reservation(std::int32_t handle, double now_ms,
                                              const char* client, std::uint32_t client_len,
                                              const char* body, std::uint32_t body_len) {
  AdmissionGate* gate = Gate(handle);
  if (gate == nullptr) return kBadArgument;
  return SetResult(gate->AdmitReservation(View(client, client_len), View(body, body_len),
                                          static_cast<std::int64_t>(now_ms)));
}

// Decides on any other request from a client (its bucket only); returns the core::Verdict.
SG_EXPORT(stockgate_gate_admit_client)
std::int32_t stockgate_gate_admit_client(std::int32_t handle, double now_ms, const char* client,
                                         std::uint32_t client_len) {
  AdmissionGate* gate = Gate(handle);
  if (gate == nullptr) return kBadArgument;
  return SetResult(gate->AdmitClient(View(client, client_len), static_cast<std::int64_t>(now_ms)));
}

// Gate counters for metrics and tests: 0 client entries, 1 SKU entries, 2 client evictions,
// 3 SKU evictions.
SG_EXPORT(stockgate_gate_stat) double stockgate_gate_stat(std::int32_t handle, std::int32_t which) {
  const AdmissionGate* gate = Gate(handle);
  if (gate == nullptr) return -1;
  switch (which) {
    case 0:
      return gate->client_entries();
    case 1:
      return gate->sku_entries();
    case 2:
      return static_cast<double>(gate->client_evictions());
    case 3:
      return static_cast<double>(gate->sku_evictions());
    default:
      return -1;
  }
}

SG_EXPORT(stockgate_result_code) std::int32_t stockgate_result_code() {
  return static_cast<std::int32_t>(g_result.decision.code);
}
SG_EXPORT(stockgate_result_verdict) std::int32_t stockgate_result_verdict() {
  return static_cast<std::int32_t>(g_result.decision.verdict);
}
SG_EXPORT(stockgate_result_retry_after_ms) double stockgate_result_retry_after_ms() {
  return static_cast<double>(g_result.decision.retry_after_ms);
}
// Field (JSON pointer or parameter name) and message of the last validation problem.
SG_EXPORT(stockgate_result_field_ptr) const char* stockgate_result_field_ptr() {
  return g_result.decision.problem.field.data();
}
SG_EXPORT(stockgate_result_field_len) std::uint32_t stockgate_result_field_len() {
  return static_cast<std::uint32_t>(g_result.decision.problem.field.size());
}
SG_EXPORT(stockgate_result_message_ptr) const char* stockgate_result_message_ptr() {
  return g_result.decision.problem.message.data();
}
SG_EXPORT(stockgate_result_message_len) std::uint32_t stockgate_result_message_len() {
  return static_cast<std::uint32_t>(g_result.decision.problem.message.size());
}
// The HTTP error body of the last rejection ("" when admitted or valid).
SG_EXPORT(stockgate_result_body_ptr) const char* stockgate_result_body_ptr() {
  return Body().data();
}
SG_EXPORT(stockgate_result_body_len) std::uint32_t stockgate_result_body_len() {
  return static_cast<std::uint32_t>(Body().size());
}
// The serial of that body: it changes whenever the body's text does, so a serial equal to one
// returned before means the same text as then. A caller reuses its decoded copy of the body on
// that (a sold-out flood answers the same body many times over) instead of reading it again.
SG_EXPORT(stockgate_result_body_serial) std::uint32_t stockgate_result_body_serial() {
  Body();
  return g_result.body_serial;
}
