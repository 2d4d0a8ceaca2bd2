#include "origin/store/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sys/time.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "core/requests.h"

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

bool IsNoscript(const Reply& reply) {
  return reply.is_error() && reply.str.compare(0, 8, "NOSCRIPT") == 0;
}

void AppendNumber(std::string* out, std::size_t n) {
  char digits[24];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (len > 0) out->push_back(digits[--len]);
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

RedisConfig Normalized(RedisConfig config) {
  config.pool_size = std::max(config.pool_size, 1);
  config.connect_timeout_ms = std::max(config.connect_timeout_ms, 1);
  config.command_timeout_ms = std::max(config.command_timeout_ms, 1);
  config.retry_backoff_ms = std::max(config.retry_backoff_ms, 0);
  if (config.pool_wait_ms < 0) config.pool_wait_ms = config.command_timeout_ms;
  config.max_in_flight = std::max(config.max_in_flight, 1);
  return config;
}

namespace {

// AUTH [username] password on a new connection, when the config names a user or a password (a
// user without a password is refused by Redis, not silently replaced by the default user).
core::Status Authenticate(redisContext* c, const RedisConfig& config) {
  if (config.password.empty() && config.username.empty()) return {};
  std::vector<const char*> argv = {"AUTH"};
  std::vector<std::size_t> lengths = {4};
  if (!config.username.empty()) {
    argv.push_back(config.username.data());
    lengths.push_back(config.username.size());
  }
  argv.push_back(config.password.data());
  lengths.push_back(config.password.size());
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr)
    return core::Fail(core::Code::kUnavailable, std::string("AUTH: ") + c->errstr);
  const Reply r = ConvertReply(*reply);
  freeReplyObject(reply);
  if (r.is_error()) {
    return core::Fail(core::Code::kUnavailable,
                      "AUTH as " +
                          (config.username.empty() ? std::string("default") : config.username) +
                          " refused: " + r.str);
  }
  return {};
}

}  // namespace

core::Status CheckRedisUser(std::string_view user) {
  // The ids' alphabet and bound (order_id, request_id): one rule for every such name.
  if (user.empty() || core::IsValidId(user)) return {};
  return core::Fail(core::Code::kInvalidRequest,
                    "must be empty or 1..64 characters of [A-Za-z0-9._:-]");
}

core::Result<redisContext*> ConnectRedis(const RedisConfig& config) {
  redisContext* c = redisConnectWithTimeout(config.host.c_str(), config.port,
                                            ToTimeval(config.connect_timeout_ms));
  const std::string where = config.host + ":" + std::to_string(config.port);
  std::string error;
  if (c == nullptr) {
    error = "cannot connect to redis at " + where + ": out of memory";
  } else if (c->err != 0) {
    error = "cannot connect to redis at " + where + ": " + c->errstr;
  } else if (redisSetTimeout(c, ToTimeval(config.command_timeout_ms)) != REDIS_OK) {
    error = "redis at " + where + ": cannot set a timeout: " + c->errstr;
  } else if (core::Status auth = Authenticate(c, config); !auth) {
    error = "redis at " + where + ": " + auth.error();
  } else {
    // Detects a peer that vanished without a FIN (host down, network partition) on idle
    // connections.
    redisEnableKeepAlive(c);
    return c;
  }
  if (c != nullptr) redisFree(c);
  return core::Fail(core::Code::kUnavailable, std::move(error));
}

Reply ConvertReply(const redisReply& r) {
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
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(ConvertReply(*r.element[i]));
      break;
    default:
      // hiredis 0.14 parses RESP2 only, so this is unreachable; surface it rather than guess.
      out.type = Reply::Type::kError;
      out.str = "ERR unknown hiredis reply type " + std::to_string(r.type);
      break;
  }
  return out;
}

std::string EncodeCommand(const std::vector<std::string>& argv) {
  std::size_t size = 16;
  for (const std::string& arg : argv) size += arg.size() + 16;
  std::string out;
  out.reserve(size);
  out.push_back('*');
  AppendNumber(&out, argv.size());
  out += "\r\n";
  for (const std::string& arg : argv) {
    out.push_back('$');
    AppendNumber(&out, arg.size());
    out += "\r\n";
    out += arg;
    out += "\r\n";
  }
  return out;
}

void RedisClient::CommandAsync(std::vector<std::string> argv, Callback done) {
  done(Command(argv));
}

void RedisClient::SequenceAsync(std::vector<std::vector<std::string>> commands, Callback done) {
  done(Sequence(commands));
}

namespace {

std::vector<std::string> EvalArgv(const Script& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The answer to SCRIPT LOAD: empty when Redis now holds the script, else the failure to report.
std::optional<CommandResult> LoadFailure(const Script& script, CommandResult load) {
  if (!load.ok() || load->is_error()) return load;  // e.g. "ERR Error compiling script"
  if (load->is_string() && load->str == script.sha1()) return std::nullopt;
  Reply wrong;
  wrong.type = Reply::Type::kError;
  wrong.str = "ERR script " + script.name() + ": Redis computed SHA1 " + load->str + ", expected " +
              script.sha1();
  return CommandResult(std::move(wrong));
}

}  // namespace

CommandResult RedisClient::Eval(const Script& script, const std::vector<std::string>& keys,
                                const std::vector<std::string>& args) {
  // Every client answers each call within its bounds, so this wait ends.
  return *Await([&](Callback done) { EvalAsync(script, keys, args, std::move(done)); });
}

void RedisClient::SendWithScript(const Script& script, std::function<void(Callback)> send,
                                 bool (*missing)(const CommandResult&), Callback done) {
  auto again = std::make_shared<std::function<void(Callback)>>(std::move(send));
  (*again)([this, &script, again, missing, done = std::move(done)](CommandResult result) mutable {
    if (!missing(result)) return done(std::move(result));
    Count(counters_.noscript_reloads);
    CommandAsync({"SCRIPT", "LOAD", script.source()},
                 [&script, again, done = std::move(done)](CommandResult load) mutable {
                   if (auto failed = LoadFailure(script, std::move(load))) {
                     return done(std::move(*failed));
                   }
                   (*again)(std::move(done));
                 });
  });
}

void RedisClient::EvalAsync(const Script& script, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args, Callback done) {
  auto argv = std::make_shared<std::vector<std::string>>(EvalArgv(script, keys, args));
  SendWithScript(
      script, [this, argv](Callback answered) { CommandAsync(*argv, std::move(answered)); },
      [](const CommandResult& r) { return r.ok() && IsNoscript(*r); }, std::move(done));
}

void RedisClient::EvalThenAsync(const Script& script, const std::vector<std::string>& keys,
                                const std::vector<std::string>& args, std::vector<std::string> then,
                                Callback done) {
  auto commands = std::make_shared<std::vector<std::vector<std::string>>>();
  commands->push_back(EvalArgv(script, keys, args));
  commands->push_back(std::move(then));
  SendWithScript(
      script,
      [this, commands](Callback answered) { SequenceAsync(*commands, std::move(answered)); },
      [](const CommandResult& r) {
        return r.ok() && !r->elements.empty() && IsNoscript(r->elements[0]);
      },
      std::move(done));
}

std::optional<CommandResult> Await(const std::function<void(RedisClient::Callback)>& start,
                                   std::optional<std::chrono::steady_clock::time_point> give_up) {
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<CommandResult> result;  // set once the callback came
  };
  // Shared, so that a callback that comes after a give-up writes into memory still alive.
  auto outcome = std::make_shared<Outcome>();
  start([outcome](CommandResult r) {
    {
      std::lock_guard lock(outcome->mu);
      outcome->result = std::move(r);
    }
    outcome->cv.notify_one();
  });
  std::unique_lock lock(outcome->mu);
  const auto done = [&] { return outcome->result.has_value(); };
  if (give_up) {
    if (!outcome->cv.wait_until(lock, *give_up, done)) return std::nullopt;
  } else {
    outcome->cv.wait(lock, done);
  }
  return std::move(outcome->result);
}

RedisClient::Stats RedisClient::stats() const {
  const auto get = [](const std::atomic<long long>& c) {
    return c.load(std::memory_order_relaxed);
  };
  Stats s;
  s.connects = get(counters_.connects);
  s.connect_failures = get(counters_.connect_failures);
  s.command_failures = get(counters_.command_failures);
  s.noscript_reloads = get(counters_.noscript_reloads);
  s.pool_exhausted = get(counters_.pool_exhausted);
  s.overloaded = get(counters_.overloaded);
  s.fast_failures = get(counters_.fast_failures);
  s.writes = get(counters_.writes);
  s.commands = get(counters_.commands);
  return s;
}

bool RedisClient::Ping() {
  const CommandResult r = Command({"PING"});
  return r.ok() && r->is_status() && r->str == "PONG";
}

}  // namespace stockgate::store
