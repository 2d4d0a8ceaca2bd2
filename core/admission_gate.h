// AdmissionGate: the edge's decision for each incoming request, made before the origin sees it.
// A reservation is admitted only if it is valid, its client and its SKUs are within their token
// buckets, the latest stock snapshot does not show it sold out, and the SKU has not yet used its
// admission budget for the current snapshot window (a bounded multiple of `available`). Snapshot
// hints older than max_hint_age_ms are ignored, so a stale feed fails open to the origin's verdict.
// A feed of deltas hands over only the SKUs that changed and confirms the others (ConfirmHints).
#ifndef STOCKGATE_CORE_ADMISSION_GATE_H_
#define STOCKGATE_CORE_ADMISSION_GATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bounded_table.h"
#include "core/requests.h"
#include "core/status.h"
#include "core/token_bucket.h"

namespace stockgate::core {

struct AdmissionConfig {
  TokenBucketConfig client{20, 40};         // per client key (JWT sub, X-Client-Id or IP)
  TokenBucketConfig sku{0, 1};              // reservation attempts per SKU; unlimited by default
  std::uint32_t client_capacity = 100'000;  // client buckets kept; least recently used evicted
  std::uint32_t sku_capacity = 100'000;     // SKU states kept (bucket + snapshot hint)
  double admit_multiple = 2.0;   // per window, admit at most ceil(available * this); <= 0 off
  std::int64_t window_ms = 250;  // the snapshot refresh interval the budget is per
  std::int64_t max_hint_age_ms = 2'000;  // older hints are ignored
  HashSeed seed;                         // secret; pick at random per process
};

// Numbered across the wasm ABI: append, never renumber.
enum class Verdict : std::uint8_t {
  kAdmit = 0,
  kInvalid = 1,      // 400 / 413: the request would fail validation at the origin too
  kRateLimited = 2,  // 429: client or SKU bucket empty, or the SKU's window budget used up
  kSoldOut = 3,      // 409 insufficient_stock according to a fresh snapshot
};

std::string_view VerdictName(Verdict verdict);

struct Decision {
  Verdict verdict = Verdict::kAdmit;
  Code code = Code::kOk;             // the API error code a rejection answers with
  std::int64_t retry_after_ms = 0;   // for kRateLimited
  std::string limited_by;            // "client", "sku" or "sku_window" for kRateLimited
  Problem problem;                   // for kInvalid
  std::vector<FailItem> fail_items;  // for kSoldOut
  friend bool operator==(const Decision&, const Decision&) = default;
};

// The HTTP error body for a rejection, identical to the origin's:
// {"error":{"code":..., "message":..., and field / fail_items / retry_after_ms as relevant}}.
std::string DecisionBody(const Decision& decision);
// {"error":{"code":..., "message":..., "field":...}} for a validation problem.
std::string ProblemBody(const Problem& problem);

class AdmissionGate {
 public:
  explicit AdmissionGate(const AdmissionConfig& config);

  // Validates a POST /v1/reservations body and decides on it. Consumes tokens and budget only
  // when admitting.
  Decision AdmitReservation(std::string_view client_key, std::string_view body,
                            std::int64_t now_ms);
  Decision AdmitReservation(std::string_view client_key, const ReservationRequest& request,
                            std::int64_t now_ms);
  // Any other request: the client's bucket only.
  Decision AdmitClient(std::string_view client_key, std::int64_t now_ms);

  // A snapshot says `available` units of sku at now_ms. The SKU's first value starts its first
  // admission window; later windows start by themselves, each window_ms after the last, with the
  // budget of the latest value, and a value within a window moves that window's budget by the
  // change. A value older than the one held is ignored.
  void SetAvailable(std::int64_t sku, std::int64_t available, std::int64_t now_ms);
  // A snapshot (a delta) taken at now_ms changed no SKU it did not hand over through SetAvailable:
  // every hint set at or after since_ms (the start of the run of deltas it belongs to) counts as
  // fresh as now_ms. Hints from before since_ms (an earlier run: the feed started over) age as
  // they are and are ignored once older than max_hint_age_ms.
  void ConfirmHints(std::int64_t now_ms, std::int64_t since_ms);

  std::uint32_t client_entries() const { return clients_.size(); }
  std::uint32_t sku_entries() const { return skus_.size(); }
  std::uint64_t client_evictions() const { return clients_.evictions(); }
  std::uint64_t sku_evictions() const { return skus_.evictions(); }

 private:
  struct SkuState {
    TokenBucket bucket;
    std::int64_t hint_ms = -1;  // when the snapshot value arrived; -1: none
    std::int64_t available = 0;
    std::int64_t window_start_ms = 0;  // when the current admission window started
    double budget = 0;                 // admissions left in the current window
  };

  SkuState* Sku(std::int64_t sku, std::int64_t now_ms);
  Decision AdmitParsed(const ReservationRequest& request, std::int64_t now_ms);
  bool Fresh(const SkuState& s, std::int64_t now_ms) const;
  double Budget(std::int64_t available) const;
  // Opens the SKU's next admission window, with its value's budget, when it has no value yet or
  // its window is over; returns whether it did.
  bool NextWindow(SkuState* s, std::int64_t now_ms) const;
  Decision Limited(std::string limited_by, std::int64_t retry_after_ms) const;

  AdmissionConfig config_;
  std::int64_t confirmed_ms_ = -1;        // ConfirmHints' now_ms; -1: never
  std::int64_t confirmed_since_ms_ = -1;  // and its since_ms
  BoundedTable<TokenBucket> clients_;
  BoundedTable<SkuState> skus_;
};

}  // namespace stockgate::core

#endif  // STOCKGATE_CORE_ADMISSION_GATE_H_
