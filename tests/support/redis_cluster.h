// RedisClusterServers: a real Redis Cluster for tests, on free loopback ports in temp dirs:
// `masters` redis-servers with cluster mode on (each with its bus port chosen free, so that no
// port + 10000 rule applies), `replicas` replicas per master, joined by `redis-cli --cluster
// create`, and healthy (every node cluster_state:ok, every replica linked) before Start returns.
#ifndef STOCKGATE_TESTS_SUPPORT_REDIS_CLUSTER_H_
#define STOCKGATE_TESTS_SUPPORT_REDIS_CLUSTER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "tests/support/redis_server.h"

namespace stockgate::testing {

struct RedisClusterOptions {
  int masters = 3;
  int replicas = 0;            // per master
  int node_timeout_ms = 1000;  // cluster-node-timeout: how soon a silent master is failed over
  bool appendonly = true;      // AOF with appendfsync always on every node
};

class RedisClusterServers {
 public:
  using Options = RedisClusterOptions;
  // Null with the reason printed to stderr (and in *error when given) when the cluster did not
  // come up.
  static std::unique_ptr<RedisClusterServers> Start(const Options& options = {},
                                                    std::string* error = nullptr);

  // Every node, masters first as created (redis-cli assigns replicas to them).
  const std::vector<std::unique_ptr<RedisServer>>& nodes() const { return nodes_; }
  std::vector<int> ports() const;
  // The node on `port`, or null.
  RedisServer* NodeOnPort(int port) const;
  // Until every running node reports cluster_state:ok and every replica's link to its master is
  // up, or `timeout` passed (then why not).
  core::Status WaitHealthy(std::chrono::milliseconds timeout) const;
  // The port of the master serving `slot` as the node on `asked_port` sees it; 0 when unknown.
  int MasterOfSlot(int slot, int asked_port) const;

 private:
  RedisClusterServers() = default;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

}  // namespace stockgate::testing

#endif  // STOCKGATE_TESTS_SUPPORT_REDIS_CLUSTER_H_
