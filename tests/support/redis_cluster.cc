#include "tests/support/redis_cluster.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/support/process.h"

namespace stockgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Runs a short-lived command to its end (SIGKILL after `limit`); its exit status and output.
core::Result<std::string> RunToEnd(std::vector<std::string> args, std::chrono::seconds limit) {
  const char* tmp = std::getenv("TMPDIR");
  std::string out = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                    "/stockgate-cluster-create-XXXXXX";
  const int fd = mkstemp(out.data());
  if (fd < 0) return ServerDown(ErrnoText("mkstemp"));
  close(fd);
  const std::string what = args[0];
  const pid_t pid = Spawn(std::move(args), out, /*own_group=*/false);
  if (pid < 0) return ServerDown(ErrnoText("fork"));
  const Clock::time_point deadline = Clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      const std::string why = WithTails(what + " did not finish in time", {out});
      unlink(out.c_str());
      return ServerDown(why);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string text = Tail(out, 40);
  unlink(out.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return ServerDown(what + " failed (status " + std::to_string(status) + "):\n" + text);
  }
  return text;
}

}  // namespace

std::unique_ptr<RedisClusterServers> RedisClusterServers::Start(const Options& options,
                                                                std::string* error) {
  auto fail = [error](const std::string& why) -> std::unique_ptr<RedisClusterServers> {
    std::cerr << "RedisClusterServers::Start failed: " << why << std::endl;
    if (error != nullptr) *error = why;
    return nullptr;
  };
  std::unique_ptr<RedisClusterServers> cluster(new RedisClusterServers());
  const int count = options.masters * (1 + options.replicas);
  for (int i = 0; i < count; ++i) {
    RedisServerOptions node;
    node.appendonly = options.appendonly;
    const int bus = FreePort();
    if (bus == 0) return fail("no free loopback port for a cluster bus");
    node.extra_args = {"--cluster-enabled",      "yes",
                       "--cluster-config-file",  "nodes.conf",
                       "--cluster-node-timeout", std::to_string(options.node_timeout_ms),
                       "--cluster-port",         std::to_string(bus)};
    std::string why;
    std::unique_ptr<RedisServer> server = RedisServer::Start(node, &why);
    if (!server) return fail(why);
    cluster->nodes_.push_back(std::move(server));
  }
  const std::string cli = FindBinary("", "redis-cli");
  if (cli.empty()) return fail("redis-cli not found (apt-get install redis-tools)");
  std::vector<std::string> create = {cli, "--cluster", "create"};
  for (const auto& node : cluster->nodes_)
    create.push_back("127.0.0.1:" + std::to_string(node->port()));
  create.insert(create.end(),
                {"--cluster-replicas", std::to_string(options.replicas), "--cluster-yes"});
  if (core::Result<std::string> created = RunToEnd(std::move(create), std::chrono::seconds(60));
      !created) {
    return fail(created.error());
  }
  if (core::Status healthy = cluster->WaitHealthy(std::chrono::seconds(30)); !healthy) {
    return fail(healthy.error());
  }
  return cluster;
}

std::vector<int> RedisClusterServers::ports() const {
  std::vector<int> out;
  for (const auto& node : nodes_) out.push_back(node->port());
  return out;
}

RedisServer* RedisClusterServers::NodeOnPort(int port) const {
  for (const auto& node : nodes_) {
    if (node->port() == port) return node.get();
  }
  return nullptr;
}

core::Status RedisClusterServers::WaitHealthy(std::chrono::milliseconds timeout) const {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string why;
  while (true) {
    why.clear();
    for (const auto& node : nodes_) {
      if (!node->running()) continue;
      const std::string port = std::to_string(node->port());
      if (node->Ask("CLUSTER INFO").find("cluster_state:ok") == std::string::npos) {
        why = "node " + port + " is not cluster_state:ok";
        break;
      }
      const std::string replication = node->Ask("INFO replication");
      if (replication.find("role:slave") != std::string::npos &&
          replication.find("master_link_status:up") == std::string::npos) {
        why = "replica " + port + " is not linked to its master";
        break;
      }
    }
    if (why.empty()) return {};
    if (Clock::now() > deadline) return ServerDown("redis cluster not healthy in time: " + why);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int RedisClusterServers::MasterOfSlot(int slot, int asked_port) const {
  const RedisServer* asked = NodeOnPort(asked_port);
  if (asked == nullptr) return 0;
  // CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>..."
  std::istringstream lines(asked->Ask("CLUSTER NODES"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, address, flags, master, ping, pong, epoch, link, range;
    if (!(fields >> id >> address >> flags >> master >> ping >> pong >> epoch >> link)) continue;
    if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos) {
      continue;
    }
    while (fields >> range) {
      if (range.starts_with("[")) continue;  // a slot being migrated or imported
      const auto dash = range.find('-');
      const int first = std::atoi(range.substr(0, dash).c_str());
      const int last =
          dash == std::string::npos ? first : std::atoi(range.substr(dash + 1).c_str());
      if (slot >= first && slot <= last) {
        const auto colon = address.find(':');
        return std::atoi(address.substr(colon + 1).c_str());
      }
    }
  }
  return 0;
}

}  // namespace stockgate::testing
