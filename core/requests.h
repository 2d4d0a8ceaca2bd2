// Parsing and validation of every request stockgate accepts: the JSON bodies of the mutating API
// calls and the SKU / order-id path and query parameters. The bounds here are the single source of
// truth; origin, edge (wasm) and browser (wasm) all call these functions, so a request gets the
// same verdict, field and message wherever it is checked. Nothing here throws; problems are values.
#ifndef STOCKGATE_CORE_REQUESTS_H_
#define STOCKGATE_CORE_REQUESTS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace stockgate::core {

inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;
inline constexpr std::int64_t kMaxSku = (std::int64_t{1} << 53) - 1;  // exact in a JS number
inline constexpr std::int64_t kMaxQty = 1'000'000;
inline constexpr std::size_t kMaxItems = 100;
inline constexpr std::size_t kMaxIdLength = 64;  // order_id, request_id, customer_id
inline constexpr std::int64_t kMaxTtlSeconds = 86'400;
inline constexpr std::int64_t kDefaultTtlSeconds = 900;
inline constexpr std::int64_t kMaxOnHand = 2'147'483'647;
inline constexpr std::int64_t kDefaultMaxAdjustment = 1'000'000;
inline constexpr std::int64_t kMaxPerCustomerLimit = kMaxQty;
inline constexpr std::int64_t kMaxLowStockThreshold = kMaxOnHand;
inline constexpr std::size_t kMaxReasonBytes = 256;
inline constexpr std::size_t kMaxSkusPerRead = 1000;
inline constexpr int kMaxJsonDepth = 8;  // deeper bodies are rejected while parsing

// What went wrong with a request. `field` is a JSON pointer into the body ("/items/3/qty"), the
// parameter name for path and query parameters, or "" for the body as a whole.
struct Problem {
  Code code = Code::kOk;
  std::string field;
  std::string message;
  bool ok() const { return code == Code::kOk; }
  friend bool operator==(const Problem&, const Problem&) = default;
};

struct Item {
  std::int64_t sku = 0;
  std::int64_t qty = 0;
  friend bool operator==(const Item&, const Item&) = default;
};

// An item that cannot be served: the `fail_items` of an insufficient_stock error.
struct FailItem {
  std::int64_t sku = 0;
  std::int64_t requested = 0;
  std::int64_t available = 0;
  friend bool operator==(const FailItem&, const FailItem&) = default;
};

// POST /v1/reservations
struct ReservationRequest {
  std::string order_id;
  std::vector<Item> items;  // request order; SKUs distinct
  std::int64_t ttl_seconds = kDefaultTtlSeconds;
  std::string customer_id;  // "" when absent
  bool confirm = false;     // true: reserve and confirm in one step (direct sale)
  friend bool operator==(const ReservationRequest&, const ReservationRequest&) = default;
};

// POST /v1/reservations/{order_id}/extend
struct ExtendRequest {
  std::int64_t ttl_seconds = 0;
};

// POST /v1/reservations/{order_id}/confirm | release | return: the body may be empty.
struct TransitionRequest {
  std::string reason;
};

// PUT /v1/stock/{sku}
struct SetStockRequest {
  std::int64_t on_hand = 0;
  std::optional<std::int64_t> per_customer_limit;  // absent: keep the current limit; 0: no limit
  // Available units at or below which the SKU is low on stock (IsLowStock); absent: keep the
  // current one, or default_low_stock_threshold for a SKU this creates; 0: never low.
  std::optional<std::int64_t> low_stock_threshold;
  // Not part of the body: the origin's configured default (config low_stock_threshold).
  std::int64_t default_low_stock_threshold = 0;
  std::string reason;
};

// POST /v1/stock/{sku}/adjustments
struct AdjustmentRequest {
  std::int64_t delta = 0;  // + restock, - write-off
  std::string request_id;
  std::string reason;
};

Problem ParseReservation(std::string_view body, ReservationRequest* out);
// The two halves of ParseReservation, for the fuzz test that holds them to each other.
// ParsePlainReservation reads only the plain shape nearly every client sends (no escapes, no
// unknown or repeated fields, integers as JSON writes them, at most 100 items) and without
// building a JSON value. It returns true when it can judge the body: *problem is then what the
// full parser would report, word for word (ok, with *out as the full parser fills it; else *out
// is untouched). It returns false whenever it cannot tell, and then ParseFullReservation decides.
bool ParsePlainReservation(std::string_view body, ReservationRequest* out, Problem* problem);
Problem ParseFullReservation(std::string_view body, ReservationRequest* out);
Problem ParseExtend(std::string_view body, ExtendRequest* out);
Problem ParseTransition(std::string_view body, TransitionRequest* out);
Problem ParseSetStock(std::string_view body, SetStockRequest* out);
// |delta| must not exceed max_adjustment (configurable; kDefaultMaxAdjustment by default).
Problem ParseAdjustment(std::string_view body, std::int64_t max_adjustment, AdjustmentRequest* out);

// Path and query parameters.
Problem ParseSku(std::string_view text, std::int64_t* out);                   // "/v1/stock/{sku}"
Problem ParseOrderId(std::string_view text, std::string* out);                // "{order_id}"
Problem ParseSkuList(std::string_view text, std::vector<std::int64_t>* out);  // "?skus=1,2,3"

// True when `id` is 1..kMaxIdLength characters of [A-Za-z0-9._:-].
bool IsValidId(std::string_view id);

// The request kinds, as numbered across the wasm ABI and in the test vectors.
enum class RequestKind : std::uint8_t {
  kReservation = 1,
  kExtend = 2,
  kTransition = 3,
  kSetStock = 4,
  kAdjustment = 5,
  kSku = 6,
  kOrderId = 7,
  kSkuList = 8,
};

// Validates `input` as `kind` (adjustments with kDefaultMaxAdjustment) and discards the value.
Problem Validate(RequestKind kind, std::string_view input);
// Kind from its vector-file name ("reservation", "extend", ...); false when unknown.
bool RequestKindFromName(std::string_view name, RequestKind* out);

}  // namespace stockgate::core

#endif  // STOCKGATE_CORE_REQUESTS_H_
