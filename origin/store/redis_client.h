// RedisClient: what the store needs from a Redis connection, whichever way calls reach Redis.
// RedisPool lends each call a blocking connection of its own (sync's consumer, operator
// commands, anything that blocks); RedisPipeline shares a few connections among all callers and
// pipelines their calls (the origin's request path). Both fail fast: every call is bounded, and
// a transport failure comes back as a failed result, never as a hang. Also here: the reply as plain
// values, Lua scripts with their SHA1, and EVALSHA with its reload after NOSCRIPT, written once.
#ifndef STOCKGATE_ORIGIN_STORE_REDIS_CLIENT_H_
#define STOCKGATE_ORIGIN_STORE_REDIS_CLIENT_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct redisContext;  // hiredis; kept out of this header
struct redisReply;

namespace stockgate::store {

struct RedisConfig {
  // An IP address: a host name would be resolved by getaddrinfo, which no timeout bounds.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Credentials sent with AUTH on every new connection when either is set: an ACL user
  // (username) or, with username empty, the default user (requirepass).
  std::string username;
  std::string password;
  // Connections to Redis. RedisPool: the most open at once, one per call in progress (callers
  // beyond it wait, see pool_wait_ms). RedisPipeline: the connections all callers share.
  int pool_size = 16;
  // Bound on establishing one TCP connection, in milliseconds.
  int connect_timeout_ms = 200;
  // Bound on one call, from the moment it is sent until its whole reply is read, in milliseconds.
  // Blocking commands (BLPOP, XREAD BLOCK) must block for less than this, or they count as a
  // stalled Redis.
  int command_timeout_ms = 500;
  // After a transport failure, calls fail without touching the network for this long (ms); then
  // one caller probes while the others keep failing fast, and its success closes the breaker.
  int retry_backoff_ms = 250;
  // RedisPool: how long a caller waits for a free connection when all pool_size are busy (ms);
  // negative means command_timeout_ms.
  int pool_wait_ms = -1;
  // RedisPipeline: calls queued or awaiting a reply on one connection, at most; a call beyond it
  // fails at once (Redis is not keeping up, and a longer queue would only add waiting).
  int max_in_flight = 4096;
  // The breaker's clock (when to probe Redis again); empty: std::chrono::steady_clock::now.
  // Tests inject one to step through a backoff without sleeping. Call and connect deadlines are
  // real time always: they bound waits on the network.
  std::function<std::chrono::steady_clock::time_point()> now;
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

// A reply, or a transport failure (Redis down, timeout, protocol, overload; code kUnavailable)
// -> answer 503. After a failure, whether Redis ran a command sent before it is unknown: the
// caller retries with the same key. A reply may itself be an error reply (a Lua error, WRONGTYPE).
using CommandResult = core::Result<Reply>;

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

struct RedisStats {
  long long connects = 0;          // connections established
  long long connect_failures = 0;  // connection attempts that failed
  long long command_failures = 0;  // calls that failed in transport on an established connection
  long long noscript_reloads = 0;  // SCRIPT LOADs after a NOSCRIPT reply
  long long pool_exhausted = 0;    // RedisPool: callers that found no free connection in time
  long long overloaded = 0;        // RedisPipeline: calls refused at max_in_flight
  long long fast_failures = 0;     // calls refused by the open breaker, no network touched
  long long writes = 0;            // RedisPipeline: writes of queued calls (batches)
  long long commands = 0;          // RedisPipeline: calls sent; commands / writes = batch size
};

class RedisClient {
 public:
  using Stats = RedisStats;
  using Callback = std::function<void(CommandResult)>;
  virtual ~RedisClient() = default;

  // One command, binary-safe (each argument may hold any bytes, NUL included). Never retried: a
  // transport failure leaves unknown whether Redis ran it, so the caller decides (our mutations
  // are idempotent by key, so the client's retry is safe).
  virtual CommandResult Command(const std::vector<std::string>& argv) = 0;
  // The same without waiting: `done` gets the result, exactly once, on a thread of the client's
  // (RedisPipeline: its I/O thread, so `done` must be quick and must not block) or, for clients
  // that only block (RedisPool), on the caller's before this returns.
  virtual void CommandAsync(std::vector<std::string> argv, Callback done);
  // Commands sent back to back on one connection, answered with an array of their replies in
  // order (each may be an error reply): ASKING before a command for a slot being migrated in a
  // Redis Cluster, a write followed by WAIT. Never retried, as Command.
  virtual CommandResult Sequence(const std::vector<std::vector<std::string>>& commands) = 0;
  // The same without waiting, as CommandAsync.
  virtual void SequenceAsync(std::vector<std::vector<std::string>> commands, Callback done);
  // EVALSHA; on NOSCRIPT (Redis restarted or SCRIPT FLUSH), SCRIPT LOAD then EVALSHA once more.
  // A NOSCRIPT reply means the script did not run, so the second EVALSHA cannot run it twice.
  virtual CommandResult Eval(const Script& script, const std::vector<std::string>& keys,
                             const std::vector<std::string>& args);
  // The same without waiting, as CommandAsync. `script` must outlive the call.
  virtual void EvalAsync(const Script& script, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args, Callback done);
  // EVALSHA followed on the same connection by `then` (WAIT after a write: WAIT counts what this
  // connection wrote), answered with the array of both replies. After NOSCRIPT the script is
  // loaded and both are sent again (the first WAIT only waited for the connection's earlier
  // writes).
  virtual void EvalThenAsync(const Script& script, const std::vector<std::string>& keys,
                             const std::vector<std::string>& args, std::vector<std::string> then,
                             Callback done);
  // Fails whatever is queued or in flight (its callbacks run now) and stops the client's threads;
  // every call after it fails at once. Call it while whatever the callbacks reach is still alive.
  // Idempotent; a client that only blocks (RedisPool) has nothing to close.
  virtual void Close() {}
  // True for a client of a Redis Cluster (RedisCluster).
  virtual bool cluster() const { return false; }
  // True when a PING round trip succeeds now. While the breaker is open this is false at once.
  bool Ping();
  virtual Stats stats() const;

 protected:
  // Sends with `send`; when `missing` says the reply is NOSCRIPT (Redis restarted or SCRIPT
  // FLUSH: nothing ran), SCRIPT LOAD then sends once more. `script` must outlive the call.
  void SendWithScript(const Script& script, std::function<void(Callback)> send,
                      bool (*missing)(const CommandResult&), Callback done);

  // What stats() reports, counted by the implementations as things happen.
  struct Counters {
    std::atomic<long long> connects{0};
    std::atomic<long long> connect_failures{0};
    std::atomic<long long> command_failures{0};
    std::atomic<long long> noscript_reloads{0};
    std::atomic<long long> pool_exhausted{0};
    std::atomic<long long> overloaded{0};
    std::atomic<long long> fast_failures{0};
    std::atomic<long long> writes{0};
    std::atomic<long long> commands{0};
  };
  // Adds n to one counter (relaxed: the counters are statistics, not synchronisation).
  static void Count(std::atomic<long long>& counter, long long n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  Counters counters_;
};

// Starts an asynchronous call with a callback and waits for the result the callback gets; nullopt
// when none came by `give_up` (the call may still complete later, harmlessly).
std::optional<CommandResult> Await(
    const std::function<void(RedisClient::Callback)>& start,
    std::optional<std::chrono::steady_clock::time_point> give_up = std::nullopt);

// Ignores SIGPIPE for the whole process unless the program already installed a disposition.
// hiredis 0.14 writes with write(), not send(MSG_NOSIGNAL), so a write to a connection Redis has
// closed would otherwise kill the process. Both clients call it once when constructed.
void IgnoreSigpipe();

// Whether `user` can name a Redis ACL user in the settings: "" (the default user) or 1..64
// characters of [A-Za-z0-9._:-].
core::Status CheckRedisUser(std::string_view user);

// The config with every bound at least 1 ms (backoff at least 0), at least one connection and
// one call in flight, and pool_wait_ms resolved.
RedisConfig Normalized(RedisConfig config);

// A blocking hiredis connection with TCP keepalive, established within connect_timeout_ms, its
// reads and writes bounded by command_timeout_ms (SO_RCVTIMEO / SO_SNDTIMEO); never null when ok.
// Free it with redisFree.
core::Result<redisContext*> ConnectRedis(const RedisConfig& config);

// A hiredis reply tree as plain values.
Reply ConvertReply(const redisReply& r);

// The RESP encoding of a command (an array of bulk strings), as Redis reads it.
std::string EncodeCommand(const std::vector<std::string>& argv);

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_CLIENT_H_
