// RedisServer: a private redis-server for integration tests, run as a child process on a free
// loopback port in a fresh temp dir, with AOF and `appendfsync always` like origin/redis.conf.
// Tests can crash it (Kill), stop it cleanly, bring it back on the same port and dir (the AOF
// restores the data), or freeze it (Pause) to simulate a stalled Redis. A missing redis-server
// makes Start fail loudly: tests that need Redis fail, they never skip.
#ifndef STOCKGATE_TESTS_SUPPORT_REDIS_SERVER_H_
#define STOCKGATE_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tests/support/process.h"

namespace stockgate::testing {

struct RedisServerOptions {
  bool appendonly = true;  // AOF with appendfsync always; false: no persistence
  // Non-empty: the shipped ACL users (deploy/redis/users.acl) with their key pattern made this
  // prefix's, each with the password RedisUserPassword(name); the default user stays as it is.
  std::string acl_users_prefix;
  std::vector<std::string> extra_args;  // appended verbatim, e.g. {"--enable-debug-command", "yes"}
  int startup_timeout_ms = 5000;        // until PING answers PONG
  std::string binary;                   // empty: /usr/bin/redis-server, else the first on PATH
};

// The password a server started with acl_users_prefix gives the ACL user `user`.
std::string RedisUserPassword(std::string_view user);
// Options for a server with the shipped ACL users, their keys made `prefix`'s.
RedisServerOptions WithShippedUsers(std::string prefix);

class RedisServer {
 public:
  // Declared outside the class: a nested struct with member initializers cannot be a default
  // argument of its enclosing class's functions (GCC).
  using Options = RedisServerOptions;
  // Failures carry the tail of the server's log when it did not come up.
  using Status = core::Status;

  // Starts a server and waits until it answers PING. On failure returns null, prints the reason
  // to stderr and stores it in *error when given. The child gets PR_SET_PDEATHSIG, so start it
  // from a thread that outlives it (the test's main thread).
  static std::unique_ptr<RedisServer> Start(const Options& options = {},
                                            std::string* error = nullptr);
  ~RedisServer();  // SIGKILL, reap, remove the temp dir
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return child_.pid(); }  // 0 when not running
  bool running() const { return child_.running(); }

  // A crash: SIGKILL and reap. Data acknowledged before it is in the AOF (appendfsync always).
  void Kill();
  // A clean shutdown: SIGTERM and reap (SIGKILL after 10 s).
  void Stop();
  // Starts again on the same port and dir, so the AOF data comes back. Stops a running server
  // first. Waits until PING answers.
  Status Restart();
  // Freezes the process (SIGSTOP): connections are still accepted by the kernel but nothing is
  // answered, like a Redis stuck in a long command. Returns once the process is stopped.
  void Pause();
  void Resume();  // SIGCONT
  // One command in Redis's inline form ("CLUSTER INFO") on a fresh connection: its reply as sent
  // (for a bulk reply, "$N\r\n" and the payload), or "" when none came within `timeout_ms`.
  std::string Ask(const std::string& inline_command, int timeout_ms = 1000) const;

 private:
  RedisServer(Options options, std::string binary, std::string dir, int port);
  Status Launch();

  Options options_;
  std::string binary_;
  std::string dir_;
  int port_ = 0;
  ChildProcess child_;
};

}  // namespace stockgate::testing

#endif  // STOCKGATE_TESTS_SUPPORT_REDIS_SERVER_H_
