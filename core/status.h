// Error codes shared by every tier of stockgate.
// Each Code has one wire name (the `error.code` string of the HTTP API) and one HTTP status; the
// table lives here so the core, the origin, the edge and the browser all agree. The numeric values
// cross the wasm ABI: append new codes, never renumber.
#ifndef STOCKGATE_CORE_STATUS_H_
#define STOCKGATE_CORE_STATUS_H_

#include <cstdint>
#include <string_view>

namespace stockgate::core {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidRequest = 1,         // 400 malformed or out-of-bounds input
  kUnauthenticated = 2,        // 401
  kForbidden = 3,              // 403
  kNotFound = 4,               // 404 no such reservation (or route)
  kUnknownSku = 5,             // 404 SKU never set
  kInsufficientStock = 6,      // 409 with fail_items
  kIdempotencyConflict = 7,    // 409 same key, different body
  kInvalidState = 8,           // 409 operation not allowed in the current state
  kCustomerLimitExceeded = 9,  // 409 per-customer limit of a SKU
  kReservationExpired = 10,    // 410 hold past its deadline
  kPayloadTooLarge = 11,       // 413 body over kMaxBodyBytes
  kRateLimited = 12,           // 429 with Retry-After
  kUnavailable = 13,           // 503 with Retry-After
};

inline constexpr int kCodeCount = 14;

// Wire name, e.g. "insufficient_stock"; "unknown" for a value outside the enum.
std::string_view CodeName(Code code);
// HTTP status for the code; 500 for a value outside the enum.
int HttpStatus(Code code);
// Inverse of CodeName; false when the name is not a code.
bool CodeFromName(std::string_view name, Code* out);

}  // namespace stockgate::core

#endif  // STOCKGATE_CORE_STATUS_H_
