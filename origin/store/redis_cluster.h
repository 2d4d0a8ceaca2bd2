// RedisCluster: a RedisClient over a Redis Cluster, written on hiredis (no packaged C++ cluster
// client exists here). A call goes to the master serving the slot of its key (CRC16 of the key,
// or of its {hash tag}, modulo 16384, as Redis computes it), through a client of its own per node
// (a RedisPipeline, or a RedisPool for callers that block). The slot map comes from CLUSTER SLOTS
// of any node it knows (the masters it has, then the other nodes it met, then the seeds). A MOVED
// reply updates the map and resends; an ASK reply resends once after ASKING on the same connection;
// TRYAGAIN and CLUSTERDOWN are retried after a pause; all within max_redirects. A transport failure
// is returned as it is (whether Redis ran the command is unknown, so the caller retries with the
// same key) and has the map read again, so that the next calls follow a failover.
#ifndef STOCKGATE_ORIGIN_STORE_REDIS_CLUSTER_H_
#define STOCKGATE_ORIGIN_STORE_REDIS_CLUSTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"
#include "origin/store/redis_client.h"

namespace stockgate::store {

inline constexpr int kClusterSlots = 16384;

// The slot of a key: CRC16 (XMODEM) of the key, or of the part between the first '{' and the
// next '}' when that part is not empty.
int KeySlot(std::string_view key);

// The key a command is routed by: the first key of EVAL/EVALSHA/FCALL (none when numkeys is 0),
// the first stream of XREAD/XREADGROUP, the key after the subcommand of XINFO/XGROUP, otherwise
// the first argument; none for commands that take no key (PING, INFO, SCRIPT, CLUSTER, WAIT...).
std::optional<std::string_view> RoutingKey(const std::vector<std::string>& argv);

struct ClusterNode {
  std::string host;  // an IP address, as RedisConfig::host
  int port = 0;
  friend bool operator==(const ClusterNode&, const ClusterNode&) = default;
};

// A deployment's client: a RedisCluster over `cluster` when it names seed nodes, else one Redis at
// config.host:port. Pipelined (RedisPipeline, on a cluster one per node) for the origin's request
// path, else pooled (RedisPool) for callers that block.
std::unique_ptr<RedisClient> MakeRedisClient(const RedisConfig& config,
                                             const std::vector<ClusterNode>& cluster,
                                             bool pipelined);

// "host:port,host:port" (an IPv6 address in brackets), as the settings take a list of nodes.
std::string NodeList(const std::vector<ClusterNode>& nodes);

struct RedisClusterConfig {
  // Nodes to read the slot map from at first; any one that answers is enough.
  std::vector<ClusterNode> seeds;
  // Every node's client: its bounds, connections and breaker (host and port are the node's).
  RedisConfig node;
  // RedisPipeline per node (the origin's request path), else RedisPool (callers that block).
  bool pipelined = true;
  // MOVED, ASK, TRYAGAIN and CLUSTERDOWN replies followed for one call, at most; past that the
  // call fails (kUnavailable) with the last of them.
  int max_redirects = 5;
  // Pause before retrying after TRYAGAIN or CLUSTERDOWN, and between two reads of the slot map.
  int retry_delay_ms = 100;
};

class RedisCluster final : public RedisClient {
 public:
  // Reads the slot map once before returning (an unreachable cluster leaves it empty: calls then
  // fail fast while it is read again in the background).
  explicit RedisCluster(RedisClusterConfig config);
  ~RedisCluster() override;
  // Fails what is waiting or in flight (callbacks run now), closes the node clients and stops
  // the maintenance thread; calls after it fail at once. Idempotent.
  void Close() override;
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  CommandResult Command(const std::vector<std::string>& argv) override;
  void CommandAsync(std::vector<std::string> argv, Callback done) override;
  // Routed by the first command that has a key; every command must be for that slot, and the
  // commands before it must be safe to send twice (a redirect of that command sends all again;
  // a redirect of a later one fails the call, since what ran before it would run twice).
  CommandResult Sequence(const std::vector<std::vector<std::string>>& commands) override;
  void SequenceAsync(std::vector<std::vector<std::string>> commands, Callback done) override;
  // EVALSHA on the node of KEYS[1] (a script without keys cannot be routed and fails), with the
  // NOSCRIPT reload on that node; after ASK, EVAL with the source (the target may lack it).
  void EvalAsync(const Script& script, const std::vector<std::string>& keys,
                 const std::vector<std::string>& args, Callback done) override;
  CommandResult Eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args) override;
  // EVALSHA then `then` (WAIT) on one connection of the node of KEYS[1], as EvalAsync routes.
  void EvalThenAsync(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args, std::vector<std::string> then,
                     Callback done) override;
  // Every node client's counts added up (connects, failures, batches...).
  Stats stats() const override;
  bool cluster() const override { return true; }

  // Calls for one slot; commands without a key (WAIT after a write) go with the slot's node.
  void SequenceAtAsync(int slot, std::vector<std::vector<std::string>> commands, Callback done);
  // Reads the slot map now, from the known nodes and then the seeds.
  core::Status Refresh();
  // The masters serving slots, as the map has them now.
  std::vector<ClusterNode> Masters() const;
  // The node serving `slot` now, if the map has one.
  std::optional<ClusterNode> NodeOf(int slot) const;
  // MOVED/ASK/TRYAGAIN/CLUSTERDOWN replies followed, and slot map reads, since construction.
  long long redirects() const { return redirects_.load(); }
  long long refreshes() const { return refreshes_.load(); }

 private:
  struct Node {
    ClusterNode address;
    std::unique_ptr<RedisClient> client;
  };
  struct Attempt;
  using Clock = std::chrono::steady_clock;

  // EvalAsync, and EvalThenAsync when `then` is not empty.
  void SendScript(const Script& script, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args, std::vector<std::string> then,
                  Callback done);
  std::shared_ptr<Node> NodeFor(const ClusterNode& address);
  std::shared_ptr<Node> SlotNode(int slot) const;
  void Dispatch(std::shared_ptr<Attempt> attempt);
  void Answered(std::shared_ptr<Attempt> attempt, const ClusterNode& from, CommandResult r);
  // Runs `task` on the maintenance thread after `delay` (never on a client's I/O thread, which
  // must not block).
  void Later(std::chrono::milliseconds delay, std::function<void()> task);
  void RequestRefresh();
  void Maintain();
  CommandResult Wait(const std::function<void(Callback)>& start) const;

  const RedisClusterConfig config_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Node>> nodes_;  // by "host:port"; never removed
  std::vector<std::shared_ptr<Node>> slots_ =
      std::vector<std::shared_ptr<Node>>(kClusterSlots);  // null: no node known

  std::mutex tasks_mu_;
  std::condition_variable tasks_cv_;
  std::multimap<Clock::time_point, std::function<void()>> tasks_;
  bool refresh_wanted_ = false;
  Clock::time_point next_refresh_{};
  bool stopping_ = false;
  std::thread maintainer_;

  std::atomic<bool> closing_{false};
  std::atomic<long long> redirects_{0};
  std::atomic<long long> refreshes_{0};
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_CLUSTER_H_
