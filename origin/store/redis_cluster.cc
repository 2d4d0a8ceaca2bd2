#include "origin/store/redis_cluster.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <utility>

#include "origin/store/redis_pipeline.h"
#include "origin/store/redis_pool.h"

namespace stockgate::store {
namespace {

using std::chrono::milliseconds;

core::Error Unavailable(std::string why) {
  return core::Fail(core::Code::kUnavailable, std::move(why));
}

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum Redis Cluster hashes keys with.
std::uint16_t Crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (const char c : data) {
    crc ^= static_cast<std::uint16_t>(static_cast<unsigned char>(c) << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

bool Is(std::string_view a, std::string_view upper) {
  return a.size() == upper.size() &&
         std::equal(a.begin(), a.end(), upper.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == y;
         });
}

std::string Text(const ClusterNode& node) { return node.host + ":" + std::to_string(node.port); }

std::optional<int> ParseInt(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381": the slot and the node. An empty host
// (Redis does not know the address it is reached at) means the host that answered.
struct Redirect {
  bool ask = false;
  int slot = 0;
  ClusterNode node;
};
std::optional<Redirect> ParseRedirect(std::string_view error, const ClusterNode& from) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    error.remove_prefix(4);
    r.ask = true;
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  const auto colon = error.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space) {
    return std::nullopt;
  }
  const std::optional<int> slot = ParseInt(error.substr(0, space));
  const std::optional<int> port = ParseInt(error.substr(colon + 1));
  if (!slot || *slot < 0 || *slot >= kClusterSlots || !port || *port < 1 || *port > 65535) {
    return std::nullopt;
  }
  r.slot = *slot;
  const std::string_view host = error.substr(space + 1, colon - space - 1);
  r.node = {host.empty() ? from.host : std::string(host), *port};
  return r;
}

bool IsRetryLater(const Reply& reply) {
  return reply.is_error() &&
         (reply.str.starts_with("TRYAGAIN") || reply.str.starts_with("CLUSTERDOWN"));
}

bool IsRedirect(const Reply& reply) {
  return reply.is_error() &&
         (reply.str.starts_with("MOVED ") || reply.str.starts_with("ASK ") || IsRetryLater(reply));
}

}  // namespace

int KeySlot(std::string_view key) {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) % kClusterSlots;
}

std::unique_ptr<RedisClient> MakeRedisClient(const RedisConfig& config,
                                             const std::vector<ClusterNode>& cluster,
                                             bool pipelined) {
  if (!cluster.empty()) {
    return std::make_unique<RedisCluster>(
        RedisClusterConfig{.seeds = cluster, .node = config, .pipelined = pipelined});
  }
  if (pipelined) return std::make_unique<RedisPipeline>(config);
  return std::make_unique<RedisPool>(config);
}

std::string NodeList(const std::vector<ClusterNode>& nodes) {
  std::string out;
  for (const ClusterNode& node : nodes) {
    if (!out.empty()) out += ',';
    const bool v6 = node.host.find(':') != std::string::npos;
    out += v6 ? "[" + node.host + "]" : node.host;
    out += ':';
    out += std::to_string(node.port);
  }
  return out;
}

std::optional<std::string_view> RoutingKey(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return std::nullopt;
  const std::string_view name = argv[0];
  for (const char* keyless :
       {"PING",     "INFO",      "SCRIPT",   "CLUSTER", "WAIT",   "SCAN",    "DBSIZE",
        "FLUSHALL", "FLUSHDB",   "TIME",     "CLIENT",  "CONFIG", "COMMAND", "ASKING",
        "READONLY", "READWRITE", "ECHO",     "DEBUG",   "SELECT", "MULTI",   "EXEC",
        "DISCARD",  "FUNCTION",  "LASTSAVE", "ROLE"}) {
    if (Is(name, keyless)) return std::nullopt;
  }
  if (Is(name, "EVAL") || Is(name, "EVALSHA") || Is(name, "EVAL_RO") || Is(name, "EVALSHA_RO") ||
      Is(name, "FCALL") || Is(name, "FCALL_RO")) {
    const std::optional<int> numkeys = argv.size() > 2 ? ParseInt(argv[2]) : std::nullopt;
    if (!numkeys || *numkeys < 1 || argv.size() < 4) return std::nullopt;
    return argv[3];
  }
  if (Is(name, "XREAD") || Is(name, "XREADGROUP")) {
    for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
      if (Is(argv[i], "STREAMS")) return argv[i + 1];
    }
    return std::nullopt;
  }
  if (Is(name, "XINFO") || Is(name, "XGROUP") || Is(name, "OBJECT") || Is(name, "MEMORY")) {
    if (argv.size() < 3) return std::nullopt;
    return argv[2];
  }
  return argv[1];
}

// One call on its way: what to send, where, and how many redirects it has followed.
struct RedisCluster::Attempt {
  std::vector<std::vector<std::string>> commands;  // one command, or a sequence
  bool sequence = false;                           // answered with the array of replies
  const Script* script = nullptr;                  // Eval: with keys and args
  std::vector<std::string> keys;
  std::vector<std::string> args;
  std::vector<std::string> then;   // EvalThen: sent after the script on its connection
  std::size_t first_keyed = 0;     // a sequence: its first command with a key
  int slot = -1;                   // -1: any node (a command without a key)
  std::optional<ClusterNode> ask;  // the node an ASK reply named, for the next send only
  int redirects = 0;
  Callback done;
};

RedisCluster::RedisCluster(RedisClusterConfig config) : config_(std::move(config)) {
  IgnoreSigpipe();
  (void)Refresh();  // an unreachable cluster is read again when calls need it
  maintainer_ = std::thread([this] { Maintain(); });
}

RedisCluster::~RedisCluster() { Close(); }

void RedisCluster::Close() {
  // From here on calls fail at once: nothing new is sent, no node client is made.
  {
    std::lock_guard lock(mu_);
    if (closing_.exchange(true)) return;
  }
  {
    std::lock_guard lock(tasks_mu_);
    stopping_ = true;
  }
  tasks_cv_.notify_all();
  maintainer_.join();
  // Waiting retries run now, and fail as closing.
  std::multimap<Clock::time_point, std::function<void()>> left;
  {
    std::lock_guard lock(tasks_mu_);
    left.swap(tasks_);
  }
  for (auto& [at, task] : left) task();
  // Close the node clients while everything their callbacks reach is alive.
  std::map<std::string, std::shared_ptr<Node>> nodes;
  {
    std::lock_guard lock(mu_);
    nodes = nodes_;
  }
  for (auto& [name, node] : nodes) node->client->Close();
  // The node clients go now, while every member their callbacks could reach is still alive.
  std::vector<std::shared_ptr<Node>> slots;
  {
    std::lock_guard lock(mu_);
    slots.swap(slots_);
    nodes_.clear();
  }
  nodes.clear();
}

std::shared_ptr<RedisCluster::Node> RedisCluster::NodeFor(const ClusterNode& address) {
  std::lock_guard lock(mu_);
  if (closing_.load()) return nullptr;  // no client is made while the cluster client closes
  std::shared_ptr<Node>& node = nodes_[Text(address)];
  if (!node) {
    RedisConfig c = config_.node;
    c.host = address.host;
    c.port = address.port;
    node = std::make_shared<Node>();
    node->address = address;
    if (config_.pipelined) {
      node->client = std::make_unique<RedisPipeline>(std::move(c));
    } else {
      node->client = std::make_unique<RedisPool>(std::move(c));
    }
  }
  return node;
}

std::shared_ptr<RedisCluster::Node> RedisCluster::SlotNode(int slot) const {
  std::lock_guard lock(mu_);
  if (slots_.empty()) return nullptr;  // closed
  if (slot >= 0) return slots_[static_cast<std::size_t>(slot)];
  for (const auto& node : slots_) {
    if (node) return node;
  }
  return nullptr;
}

std::optional<ClusterNode> RedisCluster::NodeOf(int slot) const {
  if (slot < 0 || slot >= kClusterSlots) return std::nullopt;
  const std::shared_ptr<Node> node = SlotNode(slot);
  if (!node) return std::nullopt;
  return node->address;
}

std::vector<ClusterNode> RedisCluster::Masters() const {
  std::vector<ClusterNode> out;
  std::lock_guard lock(mu_);
  for (const auto& node : slots_) {
    if (node && std::find(out.begin(), out.end(), node->address) == out.end()) {
      out.push_back(node->address);
    }
  }
  return out;
}

core::Status RedisCluster::Refresh() {
  refreshes_.fetch_add(1, std::memory_order_relaxed);
  // The nodes the map names first (one of them is surely up), then the seeds.
  std::vector<ClusterNode> candidates = Masters();
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, node] : nodes_) {
      if (std::find(candidates.begin(), candidates.end(), node->address) == candidates.end()) {
        candidates.push_back(node->address);
      }
    }
  }
  for (const ClusterNode& seed : config_.seeds) {
    if (std::find(candidates.begin(), candidates.end(), seed) == candidates.end()) {
      candidates.push_back(seed);
    }
  }
  std::string last_error = "no nodes to ask";
  for (const ClusterNode& candidate : candidates) {
    const std::shared_ptr<Node> asked = NodeFor(candidate);
    if (!asked) return Unavailable("redis cluster client is closing");
    const CommandResult r = asked->client->Command({"CLUSTER", "SLOTS"});
    if (!r) {
      last_error = Text(candidate) + ": " + r.error();
      continue;
    }
    if (!r->is_array() || r->elements.empty()) {
      last_error = Text(candidate) + ": " + (r->is_error() ? r->str : "no slots assigned");
      continue;
    }
    // [[start, end, [host, port, id, ...], replica...], ...]
    std::vector<std::shared_ptr<Node>> map(kClusterSlots);
    bool well_formed = true;
    for (const Reply& range : r->elements) {
      if (range.elements.size() < 3 || !range.elements[0].is_integer() ||
          !range.elements[1].is_integer() || range.elements[2].elements.size() < 2 ||
          !range.elements[2].elements[1].is_integer()) {
        well_formed = false;
        break;
      }
      const long long first = range.elements[0].integer;
      const long long last = range.elements[1].integer;
      const std::string& host = range.elements[2].elements[0].str;
      const long long port = range.elements[2].elements[1].integer;
      if (first < 0 || last >= kClusterSlots || first > last || port < 1 || port > 65535) {
        well_formed = false;
        break;
      }
      const std::shared_ptr<Node> master =
          NodeFor({host.empty() ? candidate.host : host, static_cast<int>(port)});
      for (long long s = first; s <= last; ++s) map[static_cast<std::size_t>(s)] = master;
    }
    if (!well_formed) {
      last_error = Text(candidate) + ": malformed CLUSTER SLOTS reply";
      continue;
    }
    std::lock_guard lock(mu_);
    slots_ = std::move(map);
    return {};
  }
  return Unavailable("redis cluster: cannot read the slot map: " + last_error);
}

void RedisCluster::RequestRefresh() {
  {
    std::lock_guard lock(tasks_mu_);
    if (stopping_) return;
    refresh_wanted_ = true;
  }
  tasks_cv_.notify_all();
}

void RedisCluster::Later(milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard lock(tasks_mu_);
    if (!stopping_) {
      tasks_.emplace(Clock::now() + delay, std::move(task));
      tasks_cv_.notify_all();
      return;
    }
  }
  task();  // closing: no one would run it later
}

void RedisCluster::Maintain() {
  std::unique_lock lock(tasks_mu_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    if (refresh_wanted_ && now >= next_refresh_) {
      refresh_wanted_ = false;
      // At most one read of the map per retry delay, however many calls asked for one.
      next_refresh_ = now + milliseconds(config_.retry_delay_ms);
      lock.unlock();
      (void)Refresh();
      lock.lock();
      continue;
    }
    if (!tasks_.empty() && tasks_.begin()->first <= now) {
      std::function<void()> task = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    Clock::time_point wake = Clock::time_point::max();
    if (!tasks_.empty()) wake = tasks_.begin()->first;
    if (refresh_wanted_) wake = std::min(wake, next_refresh_);
    if (wake == Clock::time_point::max()) {
      tasks_cv_.wait(lock);
    } else {
      tasks_cv_.wait_until(lock, wake);
    }
  }
}

void RedisCluster::Dispatch(std::shared_ptr<Attempt> a) {
  if (closing_.load()) return a->done(Unavailable("redis cluster client is closing"));
  std::shared_ptr<Node> node = a->ask ? NodeFor(*a->ask) : SlotNode(a->slot);
  if (!node) {
    // No map (the cluster was unreachable so far): read it, then try again, a bounded number
    // of times; the refresh is rate-limited, so this costs Redis nothing.
    if (++a->redirects > config_.max_redirects) {
      return a->done(Unavailable("redis cluster: no node known for slot " +
                                 std::to_string(a->slot) + " (the slot map cannot be read)"));
    }
    RequestRefresh();
    return Later(milliseconds(config_.retry_delay_ms), [this, a] { Dispatch(a); });
  }
  const bool asking = a->ask.has_value();
  a->ask.reset();
  const ClusterNode from = node->address;
  auto answered = [this, a, from](CommandResult r) { Answered(a, from, std::move(r)); };
  if (!asking) {
    if (a->script != nullptr && a->then.empty()) {
      return node->client->EvalAsync(*a->script, a->keys, a->args, answered);
    }
    if (a->script != nullptr) {
      return node->client->EvalThenAsync(*a->script, a->keys, a->args, a->then, answered);
    }
    if (a->sequence) return node->client->SequenceAsync(a->commands, answered);
    return node->client->CommandAsync(a->commands[0], answered);
  }
  // ASK: the target serves the slot only to a command right after ASKING on that connection, so
  // each command with a key gets one.
  std::vector<std::vector<std::string>> asked;
  if (a->script != nullptr) {
    // EVAL with the source: the target node may never have loaded the script.
    std::vector<std::string> eval = {"EVAL", a->script->source(), std::to_string(a->keys.size())};
    eval.insert(eval.end(), a->keys.begin(), a->keys.end());
    eval.insert(eval.end(), a->args.begin(), a->args.end());
    asked.push_back(std::move(eval));
    if (!a->then.empty()) asked.push_back(a->then);
  } else {
    asked = a->commands;
  }
  std::vector<std::vector<std::string>> commands;
  auto keep = std::make_shared<std::vector<std::size_t>>();  // where the asked-for replies are
  for (std::vector<std::string>& command : asked) {
    if (RoutingKey(command)) commands.push_back({"ASKING"});
    keep->push_back(commands.size());
    commands.push_back(std::move(command));
  }
  const bool sequence = a->sequence;
  node->client->SequenceAsync(std::move(commands), [answered, sequence, keep](CommandResult r) {
    if (!r) return answered(std::move(r));
    Reply replies;
    replies.type = Reply::Type::kArray;
    for (const std::size_t i : *keep) {
      if (i < r->elements.size()) replies.elements.push_back(std::move(r->elements[i]));
    }
    if (sequence) return answered(std::move(replies));
    answered(std::move(replies.elements.front()));
  });
}

void RedisCluster::Answered(std::shared_ptr<Attempt> a, const ClusterNode& from, CommandResult r) {
  if (!r) {
    // The node is down or unreachable: a failover may be under way, so read the map again.
    RequestRefresh();
    return a->done(std::move(r));
  }
  const Reply* redirect = nullptr;
  if (a->sequence && r->is_array()) {
    for (std::size_t i = 0; i < r->elements.size(); ++i) {
      if (!IsRedirect(r->elements[i])) continue;
      // Sent again, a sequence must not repeat a command that ran: only a redirect of its first
      // command with a key (nothing before it touched the slot) is followed.
      if (i != a->first_keyed) {
        return a->done(Unavailable("redis cluster: " + r->elements[i].str + " for command " +
                                   std::to_string(i + 1) +
                                   " of a sequence whose earlier commands ran; the outcome is "
                                   "unknown, retry with the same key"));
      }
      redirect = &r->elements[i];
      break;
    }
  } else if (IsRedirect(*r)) {
    redirect = &*r;
  }
  if (redirect == nullptr) return a->done(std::move(r));
  if (++a->redirects > config_.max_redirects) {
    return a->done(Unavailable("redis cluster: " + redirect->str + " (after " +
                               std::to_string(config_.max_redirects) + " redirects)"));
  }
  redirects_.fetch_add(1, std::memory_order_relaxed);
  if (IsRetryLater(*redirect)) {
    // TRYAGAIN: keys of the call are moving; CLUSTERDOWN: a failover is under way.
    if (redirect->str.starts_with("CLUSTERDOWN")) RequestRefresh();
    return Later(milliseconds(config_.retry_delay_ms), [this, a] { Dispatch(a); });
  }
  const std::optional<Redirect> parsed = ParseRedirect(redirect->str, from);
  if (!parsed) return a->done(Unavailable("redis cluster: unreadable " + redirect->str));
  if (parsed->ask) {
    a->ask = parsed->node;
  } else {
    // MOVED: this slot lives elsewhere for good; others may have moved with it.
    const std::shared_ptr<Node> node = NodeFor(parsed->node);
    {
      std::lock_guard lock(mu_);
      slots_[static_cast<std::size_t>(parsed->slot)] = node;
    }
    RequestRefresh();
  }
  Dispatch(std::move(a));
}

CommandResult RedisCluster::Wait(const std::function<void(Callback)>& start) const {
  // Every step is bounded by the node clients and the redirect limit; the margin only guards
  // against a bug turning into a hung caller.
  const auto per_try = milliseconds(config_.node.connect_timeout_ms +
                                    config_.node.command_timeout_ms + config_.retry_delay_ms);
  const auto give_up = Clock::now() + per_try * (config_.max_redirects + 2) + milliseconds(1000);
  std::optional<CommandResult> r = Await(start, give_up);
  if (!r) return Unavailable("redis cluster call abandoned: no outcome in time");
  return std::move(*r);
}

void RedisCluster::CommandAsync(std::vector<std::string> argv, Callback done) {
  if (argv.empty()) return done(Unavailable("redis: empty command"));
  auto a = std::make_shared<Attempt>();
  const std::optional<std::string_view> key = RoutingKey(argv);
  a->slot = key ? KeySlot(*key) : -1;
  a->commands.push_back(std::move(argv));
  a->done = std::move(done);
  Dispatch(std::move(a));
}

CommandResult RedisCluster::Command(const std::vector<std::string>& argv) {
  return Wait([&](Callback done) { CommandAsync(argv, std::move(done)); });
}

void RedisCluster::SequenceAtAsync(int slot, std::vector<std::vector<std::string>> commands,
                                   Callback done) {
  const auto empty = [](const std::vector<std::string>& argv) { return argv.empty(); };
  if (commands.empty() || std::any_of(commands.begin(), commands.end(), empty)) {
    return done(Unavailable("redis: empty command"));
  }
  auto a = std::make_shared<Attempt>();
  a->slot = slot;
  a->sequence = true;
  while (a->first_keyed + 1 < commands.size() && !RoutingKey(commands[a->first_keyed])) {
    ++a->first_keyed;
  }
  a->commands = std::move(commands);
  a->done = std::move(done);
  Dispatch(std::move(a));
}

void RedisCluster::SequenceAsync(std::vector<std::vector<std::string>> commands, Callback done) {
  int slot = -1;
  for (const std::vector<std::string>& argv : commands) {
    if (const std::optional<std::string_view> key = RoutingKey(argv)) {
      slot = KeySlot(*key);
      break;
    }
  }
  SequenceAtAsync(slot, std::move(commands), std::move(done));
}

CommandResult RedisCluster::Sequence(const std::vector<std::vector<std::string>>& commands) {
  return Wait([&](Callback done) { SequenceAsync(commands, std::move(done)); });
}

void RedisCluster::EvalAsync(const Script& script, const std::vector<std::string>& keys,
                             const std::vector<std::string>& args, Callback done) {
  SendScript(script, keys, args, {}, std::move(done));
}

void RedisCluster::EvalThenAsync(const Script& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args,
                                 std::vector<std::string> then, Callback done) {
  SendScript(script, keys, args, std::move(then), std::move(done));
}

void RedisCluster::SendScript(const Script& script, const std::vector<std::string>& keys,
                              const std::vector<std::string>& args, std::vector<std::string> then,
                              Callback done) {
  if (keys.empty()) {
    return done(Unavailable("redis cluster: script " + script.name() +
                            " names no key, so no node can be chosen for it"));
  }
  auto a = std::make_shared<Attempt>();
  a->script = &script;
  a->keys = keys;
  a->args = args;
  a->then = std::move(then);
  // With `then`, answered with both replies, as RedisClient::EvalThenAsync is.
  a->sequence = !a->then.empty();
  a->slot = KeySlot(keys[0]);
  a->done = std::move(done);
  Dispatch(std::move(a));
}

RedisClient::Stats RedisCluster::stats() const {
  std::vector<std::shared_ptr<Node>> nodes;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, node] : nodes_) nodes.push_back(node);
  }
  Stats sum;
  for (const auto& node : nodes) {
    const Stats s = node->client->stats();
    sum.connects += s.connects;
    sum.connect_failures += s.connect_failures;
    sum.command_failures += s.command_failures;
    sum.noscript_reloads += s.noscript_reloads;
    sum.pool_exhausted += s.pool_exhausted;
    sum.overloaded += s.overloaded;
    sum.fast_failures += s.fast_failures;
    sum.writes += s.writes;
    sum.commands += s.commands;
  }
  return sum;
}

CommandResult RedisCluster::Eval(const Script& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args) {
  return Wait([&](Callback done) { EvalAsync(script, keys, args, std::move(done)); });
}

}  // namespace stockgate::store
