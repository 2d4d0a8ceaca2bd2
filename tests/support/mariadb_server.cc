#include "tests/support/mariadb_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mysql.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace stockgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A small redo log (the default is 96 MiB) keeps the data dir small enough to copy quickly.
constexpr const char* kRedoLogSize = "--innodb-log-file-size=16M";

std::string Flag(const char* name, const std::string& value) {
  std::string flag = name;
  flag += '=';
  flag += value;
  return flag;
}

std::string NotExecutable(const char* what, const std::string& path) {
  std::string why = what;
  why += " binary not executable: ";
  why += path;
  return why;
}

// mariadbd refuses to run as root unless told to; as anyone else --user must be left out.
void AddUserArg(std::vector<std::string>& args) {
  if (geteuid() == 0) args.emplace_back("--user=root");
}

enum class Probe { kNotYet, kReady, kFailed };

// Connects as root over the socket and creates `database`. kNotYet while the server does not
// accept connections (still starting or recovering); kFailed when it does but the statement fails.
Probe ProbeServer(const std::string& socket, const std::string& database, std::string* error) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) {
    *error = "mysql_init: out of memory";
    return Probe::kFailed;
  }
  const unsigned int timeout_s = 1;
  const unsigned int protocol = MYSQL_PROTOCOL_SOCKET;
  mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
  mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocol);
  Probe probe = Probe::kReady;
  if (mysql_real_connect(mysql, "localhost", "root", "", nullptr, 0, socket.c_str(), 0) ==
      nullptr) {
    probe = Probe::kNotYet;
    *error = mysql_error(mysql);
  } else {
    std::string sql = "CREATE DATABASE IF NOT EXISTS `";
    for (const char c : database) {
      sql += c;
      if (c == '`') sql += c;  // a backtick inside a quoted identifier is doubled
    }
    sql += '`';
    if (mysql_real_query(mysql, sql.data(), sql.size()) != 0) {
      probe = Probe::kFailed;
      *error = sql;
      *error += ": ";
      *error += mysql_error(mysql);
    }
  }
  mysql_close(mysql);
  return probe;
}

}  // namespace

MariaDbServer::MariaDbServer(Options options, std::string binary, std::string dir, int port)
    : options_(std::move(options)),
      binary_(std::move(binary)),
      dir_(std::move(dir)),
      socket_(dir_ + "/mariadb.sock"),
      port_(port) {}

MariaDbServer::~MariaDbServer() {
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::unique_ptr<MariaDbServer> MariaDbServer::Start(const Options& options, std::string* error) {
  auto fail = [error](const std::string& why) -> std::unique_ptr<MariaDbServer> {
    std::cerr << "MariaDbServer::Start failed: " << why << std::endl;
    if (error != nullptr) *error = why;
    return nullptr;
  };
  const std::string binary = FindBinary(options.binary, "mariadbd");
  if (binary.empty()) {
    return fail(options.binary.empty() ? "mariadbd not found in /usr/sbin, /usr/bin or PATH "
                                         "(apt-get install mariadb-server)"
                                       : NotExecutable("mariadbd", options.binary));
  }
  const std::string install_db = FindBinary(options.install_db_binary, "mariadb-install-db");
  if (install_db.empty()) {
    return fail(options.install_db_binary.empty()
                    ? "mariadb-install-db not found in /usr/sbin, /usr/bin or PATH "
                      "(apt-get install mariadb-server)"
                    : NotExecutable("mariadb-install-db", options.install_db_binary));
  }
  // Always /tmp, not $TMPDIR: the socket path inside must stay under 108 bytes (sun_path).
  std::string pattern = "/tmp/sg-maria-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return fail(ErrnoText("mkdtemp /tmp/sg-maria-XXXXXX"));
  }
  std::unique_ptr<MariaDbServer> server(new MariaDbServer(options, binary, pattern, 0));
  Status status = server->Install(install_db);
  if (!status.ok()) return fail(status.error());
  // A port found free can be taken by another process before mariadbd binds it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    if (server->port_ == 0) return fail("no free loopback port");
    status = server->Launch();
    if (status.ok() || status.error().find("Address already in use") == std::string::npos) break;
  }
  if (!status.ok()) return fail(status.error());
  return server;
}

MariaDbServer::Status MariaDbServer::Install(const std::string& install_db) {
  // mariadb-install-db takes seconds (about a thousand fsyncs) and ctest runs every test in a
  // process of its own, so one fresh install per machine and user serves as a template that each
  // server copies (a fraction of a second). The name changes with the binary, so an upgraded
  // MariaDB gets a new template.
  std::error_code ec;
  const auto stamp = std::filesystem::last_write_time(binary_, ec).time_since_epoch().count();
  std::string tmpl = "/tmp/sg-maria-template-";
  tmpl += std::to_string(getuid());
  tmpl += '-';
  tmpl += std::to_string(std::hash<std::string>{}(binary_ + std::to_string(stamp)) % 1000000);
  const std::string ready = tmpl + "/data/.stockgate-template-complete";
  if (!std::filesystem::exists(ready)) {
    // One process installs; the others wait on the lock and then find it done.
    const std::string lock_path = tmpl + ".lock";
    const int lock = open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (lock < 0) return ServerDown(ErrnoText(lock_path.c_str()));
    flock(lock, LOCK_EX);
    Status status;
    if (!std::filesystem::exists(ready)) {
      std::filesystem::remove_all(tmpl, ec);
      std::filesystem::create_directories(tmpl, ec);
      status = RunInstallDb(install_db, tmpl + "/data", tmpl + "/install-db.log");
      if (status.ok()) std::ofstream(ready) << "ok\n";
    }
    flock(lock, LOCK_UN);
    close(lock);
    if (!status.ok()) return status;
  }
  std::filesystem::copy(tmpl + "/data", dir_ + "/data", std::filesystem::copy_options::recursive,
                        ec);
  if (ec) return ServerDown("copying the MariaDB template " + tmpl + ": " + ec.message());
  std::filesystem::remove(dir_ + "/data/.stockgate-template-complete", ec);
  return {};
}

MariaDbServer::Status MariaDbServer::RunInstallDb(const std::string& install_db,
                                                  const std::string& datadir,
                                                  const std::string& log) {
  std::vector<std::string> args = {install_db,
                                   "--no-defaults",
                                   Flag("--datadir", datadir),
                                   "--auth-root-authentication-method=normal",
                                   "--skip-test-db",
                                   kRedoLogSize};
  AddUserArg(args);
  // Its own process group: on a timeout the bootstrap mariadbd it runs is killed with it.
  const pid_t pid = Spawn(std::move(args), log, /*own_group=*/true);
  if (pid < 0) return ServerDown(ErrnoText("fork"));
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.startup_timeout_ms);
  while (true) {
    int wstatus = 0;
    const pid_t done = waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return {};
      std::string why = install_db;
      why += " failed (wait status ";
      why += std::to_string(wstatus);
      why += ')';
      return ServerDown(WithTails(std::move(why), {log}));
    }
    if (done < 0 && errno != EINTR) return ServerDown(ErrnoText("waitpid"));
    if (Clock::now() > deadline) {
      kill(-pid, SIGKILL);
      Reap(pid);
      std::string why = install_db;
      why += " did not finish within ";
      why += std::to_string(options_.startup_timeout_ms);
      why += " ms";
      return ServerDown(WithTails(std::move(why), {log}));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

MariaDbServer::Status MariaDbServer::Launch() {
  const std::string log = dir_ + "/mariadb.err";
  const std::string console = dir_ + "/mariadb.stdout";  // what it says before the log opens
  std::vector<std::string> args = {
      binary_, "--no-defaults", Flag("--datadir", dir_ + "/data"), Flag("--socket", socket_),
      Flag("--pid-file", dir_ + "/mariadb.pid"), Flag("--log-error", log),
      Flag("--port", std::to_string(port_)), "--bind-address=127.0.0.1",
      // Durability as shipped: the redo log is fsynced at every commit, so tests may Kill the
      // server and expect committed rows after Restart.
      "--innodb-flush-log-at-trx-commit=1", "--innodb-doublewrite=1", "--skip-log-bin",
      // For fast tests: a small pool, no buffer pool dump or load, no DNS lookups (root@127.0.0.1
      // matches by address).
      kRedoLogSize, "--innodb-buffer-pool-size=64M", "--innodb-buffer-pool-dump-at-shutdown=0",
      "--innodb-buffer-pool-load-at-startup=0", "--skip-name-resolve"};
  AddUserArg(args);
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  const pid_t pid = Spawn(std::move(args), console, /*own_group=*/false);
  if (pid < 0) return ServerDown(ErrnoText("fork"));
  child_.Adopt(pid);

  std::string where = "mariadbd on port ";
  where += std::to_string(port_);
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.startup_timeout_ms);
  std::string last_error;
  while (true) {
    int wstatus = 0;
    if (child_.Exited(&wstatus)) {
      std::string why = where;
      why += " exited (wait status ";
      why += std::to_string(wstatus);
      why += ") before accepting connections";
      return ServerDown(WithTails(std::move(why), {log, console}));
    }
    // The socket is in our private dir, so a server answering on it is ours. It is created once
    // InnoDB recovery is done, together with the TCP listener.
    switch (ProbeServer(socket_, options_.database, &last_error)) {
      case Probe::kReady:
        return {};
      case Probe::kFailed: {
        Kill();
        std::string why = where;
        why += ": ";
        why += last_error;
        return ServerDown(WithTails(std::move(why), {log}));
      }
      case Probe::kNotYet:
        break;
    }
    if (Clock::now() > deadline) {
      Kill();
      std::string why = where;
      why += " did not accept a connection within ";
      why += std::to_string(options_.startup_timeout_ms);
      why += " ms; last error: ";
      why += last_error;
      return ServerDown(WithTails(std::move(why), {log, console}));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void MariaDbServer::Kill() { child_.Kill(); }

void MariaDbServer::Stop() { child_.Stop(std::chrono::seconds(30)); }

MariaDbServer::Status MariaDbServer::Restart() {
  Stop();
  return Launch();
}

void MariaDbServer::Pause() { child_.Pause(); }

void MariaDbServer::Resume() { child_.Resume(); }

}  // namespace stockgate::testing
