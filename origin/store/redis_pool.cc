#include "origin/store/redis_pool.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <utility>

namespace stockgate::store {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

timeval ToTimeval(int ms) {
  // hiredis treats a zero timeout as "already expired"; one millisecond is the floor.
  const int clamped = std::max(ms, 1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(clamped / 1000);
  tv.tv_usec = static_cast<suseconds_t>((clamped % 1000) * 1000);
  return tv;
}

RedisConfig Normalize(RedisConfig config) {
  config.pool_size = std::max(config.pool_size, 1);
  config.connect_timeout_ms = std::max(config.connect_timeout_ms, 1);
  config.command_timeout_ms = std::max(config.command_timeout_ms, 1);
  config.retry_backoff_ms = std::max(config.retry_backoff_ms, 0);
  if (config.pool_wait_ms < 0) config.pool_wait_ms = config.command_timeout_ms;
  return config;
}

Reply Convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::kNil;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(Convert(*r.element[i]));
      break;
    default:
      // hiredis 0.14 parses RESP2 only, so this is unreachable; surface it rather than guess.
      out.type = Reply::Type::kError;
      out.str = "ERR unknown hiredis reply type " + std::to_string(r.type);
      break;
  }
  return out;
}

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

bool IsNoscript(const Reply& reply) {
  return reply.is_error() && reply.str.compare(0, 8, "NOSCRIPT") == 0;
}

}  // namespace

Script::Script(std::string name, std::string source)
    : name_(std::move(name)), source_(std::move(source)) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(source_.data(), source_.size(), digest, &length, EVP_sha1(), nullptr) != 1) {
    return;  // leaves sha1_ empty: EVALSHA then fails with a Redis error reply, never silently
  }
  sha1_.reserve(size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    sha1_.push_back(kHexDigits[digest[i] >> 4]);
    sha1_.push_back(kHexDigits[digest[i] & 0xf]);
  }
}

void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) != 0) return;
    // A handler the program installed itself is left alone; it already keeps the process alive.
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) return;
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
  });
}

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
  void Finish(const CommandResult& result) {
    healthy_ = result.ok;
    error_ = result.error;
  }

 private:
  friend class RedisPool;
  RedisPool* pool_;
  ContextPtr ctx_;
  bool probe_ = false;    // this caller is the breaker's probe
  bool healthy_ = false;  // stays false if the call never reports: the connection is dropped
  std::string error_ = "connection abandoned mid-call";
};

RedisPool::RedisPool(RedisConfig config) : config_(Normalize(std::move(config))) {
  IgnoreSigpipe();
  idle_.reserve(static_cast<size_t>(config_.pool_size));
}

RedisPool::~RedisPool() = default;

std::string RedisPool::Acquire(Lease* lease) {
  std::unique_lock lock(mu_);
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(config_.pool_wait_ms);
  while (true) {
    if (breaker_open_ && !lease->probe_) {
      if (probing_ || Clock::now() < retry_at_) {
        fast_failures_.fetch_add(1, std::memory_order_relaxed);
        return "redis unavailable (backing off): " + last_error_;
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
      pool_exhausted_.fetch_add(1, std::memory_order_relaxed);
      return "pool exhausted: all " + std::to_string(config_.pool_size) + " connections busy for " +
             std::to_string(config_.pool_wait_ms) + " ms";
    }
  }

  // Connect outside the lock: it can take up to connect_timeout_ms. The slot is reserved.
  ++open_;
  lock.unlock();
  std::string error;
  ContextPtr ctx(redisConnectWithTimeout(config_.host.c_str(), config_.port,
                                         ToTimeval(config_.connect_timeout_ms)));
  const std::string where = config_.host + ":" + std::to_string(config_.port);
  if (!ctx) {
    error = "connect to " + where + ": out of memory";
  } else if (ctx->err != 0) {
    error = "connect to " + where + ": " + ctx->errstr;
  } else if (redisSetTimeout(ctx.get(), ToTimeval(config_.command_timeout_ms)) != REDIS_OK) {
    error = "set timeout on " + where + ": " + ctx->errstr;
  }
  if (!error.empty()) {
    connect_failures_.fetch_add(1, std::memory_order_relaxed);
    ctx.reset();
    lock.lock();
    --open_;
    TripLocked(error, lease->probe_);
    lease->probe_ = false;
    return error;
  }
  // Detects a peer that vanished without a FIN (host down, network partition) on idle connections.
  redisEnableKeepAlive(ctx.get());
  connects_.fetch_add(1, std::memory_order_relaxed);
  lease->ctx_ = std::move(ctx);
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
      std::max(retry_at_, Clock::now() + std::chrono::milliseconds(config_.retry_backoff_ms));
  last_error_ = error;
  if (probe) probing_ = false;
  freed_.notify_all();  // waiters for a connection fail fast now instead of at their deadline
}

namespace {

CommandResult RunOn(redisContext* c, const std::vector<std::string>& argv, int timeout_ms) {
  CommandResult result;
  if (argv.empty()) {
    result.error = "empty command";
    return result;
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const std::string& arg : argv) {
    ptrs.push_back(arg.data());
    lens.push_back(arg.size());
  }
  errno = 0;
  void* raw = redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  if (raw == nullptr) {
    // SO_RCVTIMEO/SO_SNDTIMEO expiry surfaces as EAGAIN from read()/write().
    const bool timed_out = c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    result.error = timed_out ? "redis timed out after " + std::to_string(timeout_ms) + " ms"
                             : std::string("redis transport error: ") + c->errstr;
    return result;
  }
  auto* reply = static_cast<redisReply*>(raw);
  result.ok = true;
  result.reply = Convert(*reply);
  freeReplyObject(reply);
  return result;
}

}  // namespace

CommandResult RedisPool::Command(const std::vector<std::string>& argv) {
  if (argv.empty()) return CommandResult{false, "empty command", {}};
  Lease lease(this);
  CommandResult result;
  result.error = Acquire(&lease);
  if (!result.error.empty()) return result;
  result = RunOn(lease.get(), argv, config_.command_timeout_ms);
  if (!result.ok) command_failures_.fetch_add(1, std::memory_order_relaxed);
  lease.Finish(result);
  return result;
}

CommandResult RedisPool::Eval(const Script& script, const std::vector<std::string>& keys,
                              const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());

  Lease lease(this);
  CommandResult result;
  result.error = Acquire(&lease);
  if (!result.error.empty()) return result;
  result = RunOn(lease.get(), argv, config_.command_timeout_ms);
  if (result.ok && IsNoscript(result.reply)) {
    // The script cache is empty after a Redis restart or SCRIPT FLUSH: load it and run it again.
    noscript_reloads_.fetch_add(1, std::memory_order_relaxed);
    CommandResult load =
        RunOn(lease.get(), {"SCRIPT", "LOAD", script.source()}, config_.command_timeout_ms);
    if (!load.ok || load.reply.is_error()) {
      result = std::move(load);  // transport failure, or e.g. "ERR Error compiling script"
    } else if (!load.reply.is_string() || load.reply.str != script.sha1()) {
      result.reply = Reply{};
      result.reply.type = Reply::Type::kError;
      result.reply.str = "ERR script " + script.name() + ": Redis computed SHA1 " + load.reply.str +
                         ", expected " + script.sha1();
    } else {
      result = RunOn(lease.get(), argv, config_.command_timeout_ms);
    }
  }
  if (!result.ok) command_failures_.fetch_add(1, std::memory_order_relaxed);
  lease.Finish(result);
  return result;
}

bool RedisPool::Ping() {
  const CommandResult r = Command({"PING"});
  return r.ok && r.reply.is_status() && r.reply.str == "PONG";
}

RedisPool::Stats RedisPool::stats() const {
  Stats s;
  s.connects = connects_.load(std::memory_order_relaxed);
  s.connect_failures = connect_failures_.load(std::memory_order_relaxed);
  s.command_failures = command_failures_.load(std::memory_order_relaxed);
  s.noscript_reloads = noscript_reloads_.load(std::memory_order_relaxed);
  s.pool_exhausted = pool_exhausted_.load(std::memory_order_relaxed);
  s.fast_failures = fast_failures_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace stockgate::store
