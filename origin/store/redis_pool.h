// RedisPool: a thread-safe pool of blocking hiredis connections that fails fast. Every call is
// bounded (connect, command and pool-wait timeouts), a connection that saw any transport error is
// thrown away, and after a failure a circuit breaker answers ok=false in microseconds for
// retry_backoff_ms before one caller probes Redis again, so a down or stalled Redis becomes a fast
// 503, never a hang. Script wraps a Lua source with its SHA1 for EVALSHA with NOSCRIPT reload.
#ifndef STOCKGATE_ORIGIN_STORE_REDIS_POOL_H_
#define STOCKGATE_ORIGIN_STORE_REDIS_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct redisContext;  // hiredis; kept out of this header

namespace stockgate::store {

struct RedisConfig {
  // An IP address: a host name would be resolved by getaddrinfo, which no timeout bounds.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Most connections open at once; callers beyond it wait (see pool_wait_ms).
  int pool_size = 16;
  // Bound on establishing one TCP connection, in milliseconds.
  int connect_timeout_ms = 200;
  // Bound on each socket read or write of a command, in milliseconds. Blocking commands (BLPOP,
  // XREAD BLOCK) must block for less than this, or they count as a stalled Redis.
  int command_timeout_ms = 500;
  // After a transport failure, calls fail without touching the network for this long (ms); then
  // one caller probes while the others keep failing fast, and its success closes the breaker.
  int retry_backoff_ms = 250;
  // How long a caller waits for a free connection when all pool_size are busy (ms); negative
  // means command_timeout_ms.
  int pool_wait_ms = -1;
};

// A hiredis reply as plain values (RESP2: hiredis 0.14 knows no other types).
struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  long long integer = 0;        // kInteger
  std::string str;              // kString, kStatus, kError (the message)
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_integer() const { return type == Type::kInteger; }
  bool is_string() const { return type == Type::kString; }
  bool is_status() const { return type == Type::kStatus; }
  bool is_error() const { return type == Type::kError; }
  bool is_array() const { return type == Type::kArray; }
};

struct CommandResult {
  bool ok = false;    // false: transport failure (Redis down, timeout, protocol) -> answer 503
  std::string error;  // why, when !ok
  Reply reply;        // when ok; may itself be an error reply (a Lua error, WRONGTYPE, ...)
};

// A Lua script and its SHA1 (lowercase hex, as Redis computes it), fixed at construction.
class Script {
 public:
  Script(std::string name, std::string source);
  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string name_;
  std::string source_;
  std::string sha1_;
};

// Ignores SIGPIPE for the whole process unless the program already installed a disposition.
// hiredis 0.14 writes with write(), not send(MSG_NOSIGNAL), so a write to a connection Redis has
// closed would otherwise kill the process. The RedisPool constructor calls it once.
void IgnoreSigpipe();

class RedisPool {
 public:
  explicit RedisPool(RedisConfig config);
  ~RedisPool();  // every call must have returned: leased connections are not tracked
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // One command, binary-safe (each argument may hold any bytes, NUL included). Never retried: a
  // transport failure leaves unknown whether Redis ran it, so the caller decides (our mutations
  // are idempotent by key, so the client's retry is safe).
  CommandResult Command(const std::vector<std::string>& argv);
  // EVALSHA; on NOSCRIPT (Redis restarted or SCRIPT FLUSH), SCRIPT LOAD then EVALSHA once more,
  // on the same connection.
  CommandResult Eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);
  // True when a PING round trip succeeds now. While the breaker is open this is false at once.
  bool Ping();

  struct Stats {
    long long connects = 0;          // connections established
    long long connect_failures = 0;  // connection attempts that failed
    long long command_failures = 0;  // transport failures on an established connection
    long long noscript_reloads = 0;  // SCRIPT LOADs after a NOSCRIPT reply
    long long pool_exhausted = 0;    // callers that found no free connection in time
    long long fast_failures = 0;     // calls refused by the open breaker, no network touched
  };
  Stats stats() const;
  const RedisConfig& config() const { return config_; }

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
  class Lease;
  using Clock = std::chrono::steady_clock;

  // A connection for one call, or the reason there is none (empty when ok).
  std::string Acquire(Lease* lease);
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

  std::atomic<long long> connects_{0};
  std::atomic<long long> connect_failures_{0};
  std::atomic<long long> command_failures_{0};
  std::atomic<long long> noscript_reloads_{0};
  std::atomic<long long> pool_exhausted_{0};
  std::atomic<long long> fast_failures_{0};
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_POOL_H_
