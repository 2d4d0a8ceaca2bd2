#include "core/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace stockgate::core {

TokenBucket::TokenBucket(const TokenBucketConfig& config, std::int64_t now_ms)
    : config_{config.rate_per_second, std::max(config.burst, 1.0)},
      tokens_(config_.burst),
      last_ms_(now_ms) {}

double TokenBucket::Tokens(std::int64_t now_ms) const {
  if (config_.unlimited()) return config_.burst;
  if (now_ms <= last_ms_) return tokens_;
  const double refill = static_cast<double>(now_ms - last_ms_) * config_.rate_per_second / 1000.0;
  return std::min(config_.burst, tokens_ + refill);
}

TakeResult TokenBucket::Peek(std::int64_t now_ms, double cost) const {
  if (config_.unlimited()) return {true, config_.burst, 0};
  const double tokens = Tokens(now_ms);
  if (tokens >= cost) return {true, tokens - cost, 0};
  const double wait_ms = std::ceil((cost - tokens) * 1000.0 / config_.rate_per_second);
  return {false, tokens, std::max<std::int64_t>(1, static_cast<std::int64_t>(wait_ms))};
}

TakeResult TokenBucket::Take(std::int64_t now_ms, double cost) {
  const TakeResult result = Peek(now_ms, cost);
  if (config_.unlimited()) return result;
  tokens_ = result.remaining;  // refilled level, less the cost when allowed
  last_ms_ = std::max(last_ms_, now_ms);
  return result;
}

}  // namespace stockgate::core
