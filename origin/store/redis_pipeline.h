// RedisPipeline: a few Redis connections shared by every caller, for the origin's request path.
// Each connection has one I/O thread that sends, in one write, every call queued since its last
// write, and hands each reply to its call in order (Redis answers a connection's commands in the
// order it read them). Calls in flight at the same moment thus share round trips, and because
// Redis with `appendfsync always` fsyncs once per event-loop pass for all the writes of that pass,
// they share the fsync too: group commit without a batch API. No call may block Redis or hold
// connection state (BLPOP, MULTI, SUBSCRIBE): the connection is shared. RedisPool serves those.
//
// Fail-fast contract, as RedisPool's: a call waits at most command_timeout_ms after it is queued.
// If the oldest call on a connection has no reply by then, Redis counts as stalled: every call on
// that connection fails (outcome unknown: the client retries with the same key), the connection
// is closed, and the breaker refuses every call at once for retry_backoff_ms; then one call probes
// (on a new connection) while the others keep failing fast, and its reply closes the breaker. A
// connection Redis closes while nothing is in flight (a restart between calls) is replaced
// quietly, failing no call.
#ifndef STOCKGATE_ORIGIN_STORE_REDIS_PIPELINE_H_
#define STOCKGATE_ORIGIN_STORE_REDIS_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "origin/store/redis_client.h"

namespace stockgate::store {

class RedisPipeline final : public RedisClient {
 public:
  // Starts pool_size connections' I/O threads; each connects when its first call comes.
  explicit RedisPipeline(RedisConfig config);
  // Close(), then frees the connections.
  ~RedisPipeline() override;
  // Fails whatever is still queued or in flight (its callbacks run now, on the I/O threads) and
  // joins the I/O threads; every call after it fails at once. Call it while whatever the
  // callbacks reach is still alive (the store, the API, the HTTP server); idempotent.
  void Close() override;
  RedisPipeline(const RedisPipeline&) = delete;
  RedisPipeline& operator=(const RedisPipeline&) = delete;

  CommandResult Command(const std::vector<std::string>& argv) override;
  // `done` runs on the I/O thread (or, when the call is refused at once, on the caller's).
  void CommandAsync(std::vector<std::string> argv, Callback done) override;
  CommandResult Sequence(const std::vector<std::vector<std::string>>& commands) override;
  void SequenceAsync(std::vector<std::vector<std::string>> commands, Callback done) override;
  const RedisConfig& config() const { return config_; }

 private:
  struct Call;
  class Connection;
  using Clock = std::chrono::steady_clock;
  Clock::time_point BreakerNow() const { return config_.now ? config_.now() : Clock::now(); }
  enum class Breaker { kClosed, kOpen, kProbing };

  // Ok when the call may go on (and marks it the probe when the breaker is half open); else why
  // it fails now.
  core::Result<void> Admit(Call& call);
  // Admits and queues an encoded call expecting `replies` replies (more than one: answered with
  // their array), or fails it now.
  void Submit(std::string request, std::size_t replies, Callback done);
  // Waits for an asynchronous call, bounded even if the I/O thread never answers.
  CommandResult Wait(const std::function<void(Callback)>& start);
  // A transport failure: every call is refused for retry_backoff_ms.
  void Trip(const std::string& error);
  // A reply to the probe: Redis answers again.
  void ProbeAnswered();
  // Whether calls accepted earlier may still be sent: not while the breaker is open, unless the
  // batch carries the probe.
  core::Result<void> Refusal(bool has_probe);

  const RedisConfig config_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::atomic<unsigned> next_{0};  // round robin over connections_
  std::atomic<bool> closing_{false};

  std::mutex breaker_mu_;
  Breaker breaker_ = Breaker::kClosed;
  Clock::time_point retry_at_{};  // while kOpen: no probe before this
  std::string last_error_;        // the failure that opened the breaker
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_PIPELINE_H_
