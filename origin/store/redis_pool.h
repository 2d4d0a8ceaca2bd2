// RedisPool: a thread-safe pool of blocking hiredis connections that fails fast, one connection
// per call in progress (so a call may block, as sync's XREADGROUP BLOCK does). Every call is
// bounded (connect, command and pool-wait timeouts), a connection that saw any transport error is
// thrown away, and after a failure a circuit breaker answers ok=false in microseconds for
// retry_backoff_ms before one caller probes Redis again, so a down or stalled Redis becomes a fast
// 503, never a hang.
#ifndef STOCKGATE_ORIGIN_STORE_REDIS_POOL_H_
#define STOCKGATE_ORIGIN_STORE_REDIS_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "origin/store/redis_client.h"

struct redisContext;  // hiredis; kept out of this header

namespace stockgate::store {

class RedisPool final : public RedisClient {
 public:
  explicit RedisPool(RedisConfig config);
  ~RedisPool();  // every call must have returned: leased connections are not tracked
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  CommandResult Command(const std::vector<std::string>& argv) override;
  CommandResult Sequence(const std::vector<std::vector<std::string>>& commands) override;
  const RedisConfig& config() const { return config_; }

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
  class Lease;
  using Clock = std::chrono::steady_clock;
  Clock::time_point BreakerNow() const { return config_.now ? config_.now() : Clock::now(); }

  // A connection for one call, or the reason there is none (empty when ok).
  core::Result<void> Acquire(Lease* lease);
  // Gives a healthy connection back; a broken one is freed and trips the breaker.
  void Release(ContextPtr ctx, bool healthy, bool probe, const std::string& error);
  // Records a transport failure: the breaker refuses calls for retry_backoff_ms.
  void TripLocked(const std::string& error, bool probe);

  const RedisConfig config_;

  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<ContextPtr> idle_;  // LIFO: the most recently used connection is reused first
  int open_ = 0;                  // idle + leased + being connected; never above pool_size
  bool breaker_open_ = false;
  bool probing_ = false;          // a caller is testing Redis while the breaker is open
  Clock::time_point retry_at_{};  // while breaker_open_: no probe before this
  std::string last_error_;        // the failure that opened the breaker
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_POOL_H_
