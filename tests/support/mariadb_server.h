// MariaDbServer: a private mariadbd for integration tests, run as a child process on a free
// loopback port in a fresh temp dir, with a data dir made by mariadb-install-db at Start and full
// InnoDB durability (redo log flushed at every commit) like scripts/mariadb-start. Tests can crash
// it (Kill), stop it cleanly, bring it back on the same port and dir (InnoDB recovery restores
// committed rows), or freeze it (Pause). Account: root, no password, over the socket or TCP from
// 127.0.0.1. A missing binary makes Start fail loudly: tests that need MariaDB never skip.
#ifndef STOCKGATE_TESTS_SUPPORT_MARIADB_SERVER_H_
#define STOCKGATE_TESTS_SUPPORT_MARIADB_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "tests/support/process.h"

namespace stockgate::testing {

struct MariaDbServerOptions {
  std::string database = "stockgate";   // created (if not exists) whenever the server comes up
  std::vector<std::string> extra_args;  // appended to mariadbd's, e.g. {"--max-connections=500"}
  int startup_timeout_ms = 30000;  // for mariadb-install-db, and again until a connection succeeds
  std::string binary;              // mariadbd; empty: /usr/sbin, /usr/bin, else PATH
  std::string install_db_binary;   // mariadb-install-db; looked up like binary
};

class MariaDbServer {
 public:
  // Declared outside the class: a nested struct with member initializers cannot be a default
  // argument of its enclosing class's functions (GCC).
  using Options = MariaDbServerOptions;
  // Failures carry the tail of the server's log when it did not come up.
  using Status = core::Status;

  // Creates the data dir, starts a server and waits until root can connect over the socket, then
  // creates options.database. On failure returns null, prints the reason to stderr and stores it
  // in *error when given. The child gets PR_SET_PDEATHSIG, so start it from a thread that
  // outlives it (the test's main thread).
  static std::unique_ptr<MariaDbServer> Start(const Options& options = {},
                                              std::string* error = nullptr);
  ~MariaDbServer();  // SIGKILL, reap, remove the temp dir
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;

  int port() const { return port_; }                     // TCP, bound to 127.0.0.1
  const std::string& socket() const { return socket_; }  // dir()/mariadb.sock
  const std::string& dir() const { return dir_; }        // data/, mariadb.err, mariadb.pid
  pid_t pid() const { return child_.pid(); }             // 0 when not running
  bool running() const { return child_.running(); }

  // A crash: SIGKILL and reap. Transactions committed before it are in the redo log.
  void Kill();
  // A clean shutdown: SIGTERM and reap (SIGKILL after 30 s).
  void Stop();
  // Starts again on the same port and data dir (after a Kill, InnoDB crash recovery runs first).
  // Stops a running server first. Waits until root can connect.
  Status Restart();
  // Freezes the process (SIGSTOP): the kernel still accepts connections but no handshake is
  // sent, like a stalled database. Returns once the process is stopped.
  void Pause();
  void Resume();  // SIGCONT

 private:
  MariaDbServer(Options options, std::string binary, std::string dir, int port);
  // The data dir: a copy of a template made once per machine by RunInstallDb.
  Status Install(const std::string& install_db);
  Status RunInstallDb(const std::string& install_db, const std::string& datadir,
                      const std::string& log);
  Status Launch();

  Options options_;
  std::string binary_;
  std::string dir_;
  std::string socket_;
  int port_ = 0;
  ChildProcess child_;
};

}  // namespace stockgate::testing

#endif  // STOCKGATE_TESTS_SUPPORT_MARIADB_SERVER_H_
