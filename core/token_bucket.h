// TokenBucket: the classic rate limiter, with time passed in by the caller (milliseconds) so the
// same decisions come out natively, in wasm and in tests with a fake clock. A bucket holds at most
// `burst` tokens, refills at `rate_per_second`, and a request costs one token by default.
#ifndef STOCKGATE_CORE_TOKEN_BUCKET_H_
#define STOCKGATE_CORE_TOKEN_BUCKET_H_

#include <cstdint>

namespace stockgate::core {

struct TokenBucketConfig {
  double rate_per_second = 0;  // tokens added per second; <= 0 means unlimited (always allowed)
  double burst = 1;            // capacity in tokens; values below 1 are raised to 1
  bool unlimited() const { return rate_per_second <= 0; }
};

struct TakeResult {
  bool allowed = false;
  double remaining = 0;             // tokens left after this decision
  std::int64_t retry_after_ms = 0;  // when !allowed: wait until the cost is covered
};

class TokenBucket {
 public:
  TokenBucket() = default;
  // A new bucket starts full.
  TokenBucket(const TokenBucketConfig& config, std::int64_t now_ms);

  // Takes `cost` tokens when available. Time that runs backwards adds nothing.
  TakeResult Take(std::int64_t now_ms, double cost = 1);
  // What Take would answer, without taking.
  TakeResult Peek(std::int64_t now_ms, double cost = 1) const;
  // Tokens available at now_ms.
  double Tokens(std::int64_t now_ms) const;
  // True when the bucket is full at now_ms: forgetting it then loses nothing.
  bool Full(std::int64_t now_ms) const { return Tokens(now_ms) >= config_.burst; }

 private:
  TokenBucketConfig config_;
  double tokens_ = 0;
  std::int64_t last_ms_ = 0;
};

}  // namespace stockgate::core

#endif  // STOCKGATE_CORE_TOKEN_BUCKET_H_
