#include "core/status.h"

#include <array>

namespace stockgate::core {
namespace {

struct CodeInfo {
  std::string_view name;
  int http_status;
};

// Indexed by the numeric value of Code.
constexpr std::array<CodeInfo, kCodeCount> kCodes = {{
    {"ok", 200},
    {"invalid_request", 400},
    {"unauthenticated", 401},
    {"forbidden", 403},
    {"not_found", 404},
    {"unknown_sku", 404},
    {"insufficient_stock", 409},
    {"idempotency_conflict", 409},
    {"invalid_state", 409},
    {"customer_limit_exceeded", 409},
    {"reservation_expired", 410},
    {"payload_too_large", 413},
    {"rate_limited", 429},
    {"unavailable", 503},
}};

}  // namespace

std::string_view CodeName(Code code) {
  const auto i = static_cast<std::size_t>(code);
  return i < kCodes.size() ? kCodes[i].name : std::string_view("unknown");
}

int HttpStatus(Code code) {
  const auto i = static_cast<std::size_t>(code);
  return i < kCodes.size() ? kCodes[i].http_status : 500;
}

bool CodeFromName(std::string_view name, Code* out) {
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i].name == name) {
      *out = static_cast<Code>(i);
      return true;
    }
  }
  return false;
}

}  // namespace stockgate::core
