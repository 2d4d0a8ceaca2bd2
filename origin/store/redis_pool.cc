#include "origin/store/redis_pool.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace stockgate::store {
namespace {

// An idle connection is checked with a non-blocking peek before reuse: EOF means Redis closed it
// (restart, kill), and unexpected bytes mean its protocol state is unknown. Either way it goes,
// which turns a Redis restart between two calls into zero failed calls instead of one per
// pooled connection. One syscall, no round trip.
bool LooksAlive(const redisContext& c) {
  char byte = 0;
  const ssize_t n = recv(c.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  return false;
}

}  // namespace

void RedisPool::ContextFree::operator()(redisContext* c) const { redisFree(c); }

// One checked-out connection. Whatever path a call takes, the destructor gives the connection
// back: to the idle list when the call marked it healthy, otherwise it is freed, because after a
// transport error the position in the reply stream is unknown.
class RedisPool::Lease {
 public:
  explicit Lease(RedisPool* pool) : pool_(pool) {}
  ~Lease() {
    if (ctx_) pool_->Release(std::move(ctx_), healthy_, probe_, error_);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  redisContext* get() const { return ctx_.get(); }
  // Records the transport outcome of the call that used this connection.
  void Finish(const core::Status& result) {
    healthy_ = result.ok();
    error_ = result.error();
  }

 private:
  friend class RedisPool;
  RedisPool* pool_;
  ContextPtr ctx_;
  bool probe_ = false;    // this caller is the breaker's probe
  bool healthy_ = false;  // stays false if the call never reports: the connection is dropped
  std::string error_ = "redis connection abandoned mid-call";
};

RedisPool::RedisPool(RedisConfig config) : config_(Normalized(std::move(config))) {
  IgnoreSigpipe();
  idle_.reserve(static_cast<size_t>(config_.pool_size));
}

RedisPool::~RedisPool() = default;

core::Result<void> RedisPool::Acquire(Lease* lease) {
  std::unique_lock lock(mu_);
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(config_.pool_wait_ms);
  while (true) {
    if (breaker_open_ && !lease->probe_) {
      if (probing_ || BreakerNow() < retry_at_) {
        Count(counters_.fast_failures);
        return core::Fail(core::Code::kUnavailable,
                          "redis unavailable (backing off): " + last_error_);
      }
      // Half-open: this caller alone tries Redis; everyone else keeps failing fast meanwhile.
      probing_ = true;
      lease->probe_ = true;
    }
    while (!idle_.empty()) {
      ContextPtr ctx = std::move(idle_.back());
      idle_.pop_back();
      if (LooksAlive(*ctx)) {
        lease->ctx_ = std::move(ctx);
        return {};
      }
      --open_;
    }
    if (open_ < config_.pool_size) break;
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= config_.pool_size) {
      if (lease->probe_) {
        probing_ = false;  // the next caller may probe; the breaker stays open
        lease->probe_ = false;
      }
      Count(counters_.pool_exhausted);
      return core::Fail(core::Code::kUnavailable, "redis pool exhausted: all " +
                                                      std::to_string(config_.pool_size) +
                                                      " connections busy for " +
                                                      std::to_string(config_.pool_wait_ms) + " ms");
    }
  }

  // Connect outside the lock: it can take up to connect_timeout_ms. The slot is reserved.
  ++open_;
  lock.unlock();
  core::Result<redisContext*> connected = ConnectRedis(config_);
  if (!connected) {
    Count(counters_.connect_failures);
    lock.lock();
    --open_;
    TripLocked(connected.error(), lease->probe_);
    lease->probe_ = false;
    return connected.failure();
  }
  Count(counters_.connects);
  lease->ctx_ = ContextPtr(*connected);
  return {};
}

void RedisPool::Release(ContextPtr ctx, bool healthy, bool probe, const std::string& error) {
  if (!healthy) ctx.reset();  // close before taking the lock
  std::lock_guard lock(mu_);
  if (healthy) {
    idle_.push_back(std::move(ctx));
    if (probe) {
      breaker_open_ = false;
      probing_ = false;
    }
  } else {
    --open_;
    TripLocked(error, probe);
  }
  freed_.notify_one();
}

void RedisPool::TripLocked(const std::string& error, bool probe) {
  // Any transport failure opens the breaker, not only a refused connect: a timeout means Redis is
  // stalled (it runs one command at a time, so every client is waiting too), and more requests
  // would only queue behind it.
  breaker_open_ = true;
  retry_at_ =
      std::max(retry_at_, BreakerNow() + std::chrono::milliseconds(config_.retry_backoff_ms));
  last_error_ = error;
  if (probe) probing_ = false;
  freed_.notify_all();  // waiters for a connection fail fast now instead of at their deadline
}

namespace {

// Writes the commands on one connection, then reads one reply for each: the replies in order.
core::Result<std::vector<Reply>> RunOn(redisContext* c,
                                       const std::vector<std::vector<std::string>>& commands,
                                       int timeout_ms) {
  for (const std::vector<std::string>& argv : commands) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const std::string& arg : argv) {
      ptrs.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
        REDIS_OK) {
      return core::Fail(core::Code::kUnavailable, "redis: out of memory");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    errno = 0;
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
      // SO_RCVTIMEO/SO_SNDTIMEO expiry surfaces as EAGAIN from read()/write().
      const bool timed_out = c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
      return core::Fail(core::Code::kUnavailable,
                        timed_out ? "redis timed out after " + std::to_string(timeout_ms) + " ms"
                                  : std::string("redis transport error: ") + c->errstr);
    }
    auto* reply = static_cast<redisReply*>(raw);
    replies.push_back(ConvertReply(*reply));
    freeReplyObject(reply);
  }
  return replies;
}

}  // namespace

CommandResult RedisPool::Command(const std::vector<std::string>& argv) {
  CommandResult sequence = Sequence({argv});
  if (!sequence) return sequence;
  return std::move(sequence->elements[0]);
}

CommandResult RedisPool::Sequence(const std::vector<std::vector<std::string>>& commands) {
  const auto empty = [](const std::vector<std::string>& argv) { return argv.empty(); };
  if (commands.empty() || std::any_of(commands.begin(), commands.end(), empty)) {
    return core::Fail(core::Code::kUnavailable, "redis: empty command");
  }
  Lease lease(this);
  if (core::Result<void> acquired = Acquire(&lease); !acquired) return acquired.failure();
  core::Result<std::vector<Reply>> replies =
      RunOn(lease.get(), commands, config_.command_timeout_ms);
  if (!replies) {
    Count(counters_.command_failures);
    lease.Finish(replies.failure());
    return replies.failure();
  }
  lease.Finish({});
  Reply all;
  all.type = Reply::Type::kArray;
  all.elements = std::move(replies).value();
  return all;
}

}  // namespace stockgate::store
